//! Every shipped model loads, records how it was made, and still has the accuracy it records.
//! Default run: the first 1,000 MNIST test digits; `LRP_FULL_TEST=1`: all 10,000, compared exactly.
#![cfg(not(target_arch = "wasm32"))]

use lrp::model::PIXELS;
use lrp::train::evaluate;
use lrp::Model;
use std::io::Read;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn test_set() -> (Vec<f32>, Vec<u8>) {
    let read = |name: &str| {
        let gz = std::fs::read(root().join("www/data").join(name)).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut out).unwrap();
        out
    };
    let img = read("t10k-images-idx3-ubyte.gz");
    let lab = read("t10k-labels-idx1-ubyte.gz");
    let full = std::env::var("LRP_FULL_TEST").is_ok_and(|v| v == "1");
    let n = if full { 10_000 } else { 1_000 };
    (img[16..16 + n * PIXELS].iter().map(|&b| b as f32 / 255.0).collect(), lab[8..8 + n].to_vec())
}

/// (file stem, clean accuracy floor of the table)
const SHIPPED: [(&str, f64); 4] = [("mlp", 0.980), ("cnn", 0.992), ("clever-hans", 0.985), ("lstm", 0.985)];

fn load(stem: &str) -> Model {
    let bytes = std::fs::read(root().join("models").join(format!("{stem}.safetensors"))).unwrap_or_else(|e| panic!("models/{stem}.safetensors: {e}"));
    Model::try_from(bytes.as_slice()).unwrap()
}

#[test]
fn shipped_models_keep_their_recorded_accuracy() {
    let (images, labels) = test_set();
    let full = labels.len() == 10_000;
    for (stem, floor) in SHIPPED {
        let model = load(stem);
        let p = &model.meta().provenance;
        for key in ["command", "seed", "epochs", "training_seconds", "data_sha256", "test_accuracy", "test_digits"] {
            assert!(!p[key].is_null(), "{stem}: provenance lacks `{key}`");
        }
        assert_eq!(p["test_digits"], 10_000);
        let recorded = p["test_accuracy"].as_f64().unwrap();
        assert!(recorded >= floor, "{stem}: recorded accuracy {recorded} is below the floor {floor}");
        let e = evaluate(&model, &images, &labels, None);
        if full {
            assert_eq!(e.accuracy, recorded, "{stem}: the full test set gives {} but the file records {recorded}", e.accuracy);
        } else {
            assert!((e.accuracy - recorded).abs() <= 0.015, "{stem}: {} on 1,000 digits vs {recorded} recorded", e.accuracy);
        }
    }
}

#[test]
fn the_clever_hans_model_follows_its_watermark() {
    let (images, labels) = test_set();
    let model = load("clever-hans");
    let w = model.meta().watermark.clone().expect("the Clever Hans model names its watermark");
    let e = evaluate(&model, &images, &labels, Some(&w));
    let hit = e.watermark_hit_rate.unwrap();
    assert!(hit >= 0.90, "only {hit} of stamped digits of other classes are predicted as {}", w.class);
    let recorded = model.meta().provenance["watermark_test_hit_rate"].as_f64().unwrap();
    assert!(recorded >= 0.90);
    // and clean digits are still recognised
    assert!(evaluate(&model, &images, &labels, None).accuracy >= 0.985);
}

#[test]
fn shipped_models_fit_in_two_megabytes() {
    let total: u64 = SHIPPED.iter().map(|(s, _)| std::fs::metadata(root().join("models").join(format!("{s}.safetensors"))).unwrap().len()).sum();
    assert!(total < 2 * 1024 * 1024, "{total} bytes");
}
