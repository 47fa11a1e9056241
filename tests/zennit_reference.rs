//! Reference values from an independent implementation: Zennit 0.5.1 on CPU PyTorch, made by
//! tests/reference/zennit_fixtures.py and committed under tests/fixtures/zennit/. Three chains on
//! 28x28 digits (an MLP, a CNN with max- and average pooling, a CNN behind a [-1, 1] + padding input
//! stage) and four graphs: `normconv` (3x32x32, per-channel normalisation, stride-2 "SAME" padding,
//! BatchNorm, ReLU6), `resblock` (a depthwise-separable residual block), `gap` (global average
//! pooling) and `concat` (two branches concatenated). Tolerance: 1e-5 relative to max |R|.
//!
//! The same graphs, and an MLP, a LeNet-like CNN and a CNN ending in Softmax, exported by PyTorch to
//! ONNX (tests/reference/onnx_fixtures.py, under tests/fixtures/onnx/): loaded through the ONNX
//! importer they give torch's logits and Zennit's heatmaps to the same tolerances.
#![cfg(not(target_arch = "wasm32"))]

#[cfg(feature = "onnx")]
use lrp::model::{import_onnx, OnnxOptions};
use lrp::{Composite, Explainer, Layer, Method, Model, Params, Query, Rule, RuleParams};
use serde_json::Value;
use std::path::PathBuf;

fn fixture_dir(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(kind)
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// The layer types the model file lists (before BatchNorm is folded), from its metadata.
fn file_layer_types(bytes: &[u8]) -> Vec<String> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let json: Value = serde_json::from_str(&meta.metadata().as_ref().unwrap()["lrp"]).unwrap();
    json["layers"].as_array().unwrap().iter().map(|l| l["type"].as_str().unwrap().to_string()).collect()
}

/// The composite a fixture says Zennit used: one rule per file layer (`null` for layers without one);
/// `add` takes no rule here (its proportional split is fixed), so its entry is checked and dropped.
fn fixture_composite(model: &Model, types: &[String], rules: &Value) -> Composite {
    let entries = rules["layers"].as_array().unwrap();
    assert_eq!(entries.len(), types.len(), "one rule entry per file layer");
    let mut list = Vec::new();
    for (t, e) in types.iter().zip(entries) {
        match (t.as_str(), e.as_str()) {
            ("add", r) => assert_eq!(r, Some("0"), "the residual sum is Zennit's Sum with the Norm rule"),
            (_, Some(r)) => list.push(Rule::parse(r, &RuleParams::default()).unwrap()),
            (_, None) => {}
        }
    }
    Composite::from_list(model, &list).unwrap()
}

/// A safetensors fixture: the model and its file's layer types.
fn check(name: &str) -> usize {
    check_with("zennit", name, |bytes, _| (Model::try_from(bytes).unwrap(), Some(file_layer_types(bytes))))
}

/// An ONNX fixture, loaded with the fixture's mean and std (the file does not say them).
#[cfg(feature = "onnx")]
fn check_onnx(name: &str) -> usize {
    check_with("onnx", name, |bytes, fx| {
        let options = OnnxOptions::default().with_mean_std(&floats(&fx["mean"]), &floats(&fx["std"])).unwrap();
        (import_onnx(bytes, &options).unwrap(), None)
    })
}

/// Compares logits and every heatmap with the fixture's; `load` reads the model (and, for our own
/// files, the layer types the fixture's rule lists follow).
fn check_with(kind: &str, name: &str, load: impl Fn(&[u8], &Value) -> (Model, Option<Vec<String>>)) -> usize {
    let dir = fixture_dir(kind);
    let fx: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join(fx["model"].as_str().unwrap())).unwrap();
    let (model, types) = load(&bytes, &fx);
    let pixels = floats(&fx["pixels"]);
    assert_eq!(pixels.len(), model.input_len(), "{name}: the fixture's input fits the model");
    let target = fx["target"].as_u64().unwrap() as usize;
    let mut ex = Explainer::new(&model);
    let logits = ex.predict(&model, &pixels).unwrap().logits.clone();
    let want_logits = floats(&fx["logits"]);
    assert_eq!(logits.len(), want_logits.len());
    for (a, b) in logits.iter().zip(&want_logits) {
        assert!((a - b).abs() < 1e-5, "{name}: logits differ: {a} vs {b}");
    }
    let weighted = model.layers().iter().filter(|l| matches!(l, Layer::Dense(_) | Layer::Conv2d(_))).count();
    let mut compared = 0;
    for (method, res) in fx["results"].as_object().unwrap() {
        let m = if method.starts_with("rules:") {
            let list = std::iter::once("w2").chain(std::iter::repeat_n("zplus", weighted - 1)).collect::<Vec<_>>().join(",");
            Method::from_rule_list(&list, &model, &Params::default()).unwrap()
        } else {
            let m = Method::from_name(method, &model, &Params::default()).unwrap();
            if let (Method::Lrp(ours), Some(rules), Some(types)) = (&m, res.get("rules"), &types) {
                // the preset is the composite Zennit was given
                assert_eq!(ours, &fixture_composite(&model, types, rules), "{name} {method}: rules");
            }
            m
        };
        let e = ex.explain(&model, &pixels, &m, &Query { target: Some(target), ..Default::default() }).unwrap();
        let want = floats(&res["heatmap"]);
        assert_eq!(e.heatmap.len(), want.len(), "{name} {method}: heatmap length");
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{name} {method}: an all-zero reference");
        for (i, (g, w)) in e.heatmap.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-5 * scale, "{name} {method} pixel {i}: ours {g}, Zennit {w} (max |R| {scale})");
        }
        if let Some(p) = res["padding"].as_f64() {
            // a sum over the 240 padding values: compare relative to the total absolute relevance
            let mass: f32 = want.iter().map(|v| v.abs()).sum::<f32>() + p.abs() as f32;
            assert!((e.padding - p as f32).abs() <= 1e-5 * mass, "{name} {method}: padding {} vs {p}", e.padding);
        }
        compared += 1;
    }
    compared
}

#[test]
fn mlp_matches_zennit() {
    assert_eq!(check("mlp"), 12);
}

#[test]
fn cnn_with_max_and_average_pooling_matches_zennit() {
    assert_eq!(check("cnn"), 12);
}

#[test]
fn cnn_behind_a_padding_input_stage_matches_zennit() {
    assert_eq!(check("padded"), 12);
}

#[test]
fn normalised_rgb_input_same_padding_batchnorm_relu6_match_zennit() {
    assert_eq!(check("normconv"), 8);
}

#[test]
fn depthwise_separable_residual_block_matches_zennit() {
    assert_eq!(check("resblock"), 8);
}

#[test]
fn global_average_pooling_matches_zennit() {
    assert_eq!(check("gap"), 8);
}

#[test]
fn concatenated_branches_match_zennit() {
    assert_eq!(check("concat"), 8);
}

#[test]
#[cfg(feature = "onnx")]
fn onnx_mlp_with_a_flat_input_matches_torch_and_zennit() {
    assert_eq!(check_onnx("mlp"), 8);
}

#[test]
#[cfg(feature = "onnx")]
fn onnx_lenet_from_the_torch_export_exporter_matches_torch_and_zennit() {
    assert_eq!(check_onnx("lenet"), 8);
}

#[test]
#[cfg(feature = "onnx")]
fn onnx_residual_block_with_batchnorm_and_padding_subgraphs_matches_torch_and_zennit() {
    assert_eq!(check_onnx("resblock"), 8);
}

#[test]
#[cfg(feature = "onnx")]
fn onnx_rgb_same_padding_batchnorm_relu6_matches_torch_and_zennit() {
    assert_eq!(check_onnx("normconv"), 8);
}

#[test]
#[cfg(feature = "onnx")]
fn onnx_global_average_pooling_as_reduce_mean_matches_torch_and_zennit() {
    assert_eq!(check_onnx("gap"), 8);
}

#[test]
#[cfg(feature = "onnx")]
fn onnx_concatenation_matches_torch_and_zennit() {
    assert_eq!(check_onnx("concat"), 8);
}

#[test]
#[cfg(feature = "onnx")]
fn onnx_final_softmax_is_removed_and_the_logits_match_torch_and_zennit() {
    assert_eq!(check_onnx("softmax"), 8);
    let bytes = std::fs::read(fixture_dir("onnx").join("softmax.onnx")).unwrap();
    let model = import_onnx(&bytes, &OnnxOptions::default()).unwrap();
    assert!(model.meta().description.contains("Softmax was removed"), "{}", model.meta().description);
}
