//! The model file: round trip, and every malformed file is a typed error naming what is wrong.
//! Also the LRP Toolbox text importer on small files written by hand.
#![cfg(not(target_arch = "wasm32"))]

use lrp::model::{import_toolbox, InputStage, ToolboxOptions};
use lrp::testing::{random_pixels, tiny_cnn, tiny_mlp};
use lrp::{Explainer, LrpError, Model};
use safetensors::{tensor::TensorView, SafeTensors};
use serde_json::Value;
use std::collections::HashMap;

fn logits(model: &Model, x: &[f32]) -> Vec<f32> {
    Explainer::new(model).predict(model, x).unwrap().logits.clone()
}

#[test]
fn a_saved_model_loads_back_identical() {
    for model in [tiny_cnn(1, true), tiny_mlp(2, true)] {
        let bytes = model.to_safetensors().unwrap();
        let back = Model::try_from(bytes.as_slice()).unwrap();
        assert_eq!(back.layers(), model.layers());
        assert_eq!(back.meta(), model.meta());
        assert_eq!(back.input_stage(), model.input_stage());
        let x = random_pixels(3);
        assert_eq!(logits(&back, &x), logits(&model, &x));
    }
}

/// Rewrites a valid file: `edit` changes the metadata JSON, `keep` filters tensors, `reshape` overrides shapes.
fn rewrite(bytes: &[u8], edit: impl FnOnce(&mut Value), keep: impl Fn(&str) -> bool, reshape: &[(&str, Vec<usize>)]) -> Vec<u8> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let (_, meta) = SafeTensors::read_metadata(bytes).unwrap();
    let mut json: Value = serde_json::from_str(&meta.metadata().as_ref().unwrap()["lrp"]).unwrap();
    edit(&mut json);
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| keep(n))
        .map(|(n, t)| {
            let shape = reshape.iter().find(|(r, _)| *r == n).map(|(_, s)| s.clone()).unwrap_or_else(|| t.shape().to_vec());
            let mut data = t.data().to_vec();
            data.resize(shape.iter().product::<usize>() * 4, 0);
            (n, shape, data)
        })
        .collect();
    let views: Vec<(String, TensorView)> = owned.iter().map(|(n, s, d)| (n.clone(), TensorView::new(safetensors::Dtype::F32, s.clone(), d).unwrap())).collect();
    let m: HashMap<String, String> = [("lrp".to_string(), json.to_string())].into();
    safetensors::serialize(views, &Some(m)).unwrap()
}

fn load_err(bytes: &[u8]) -> String {
    match Model::try_from(bytes) {
        Ok(_) => panic!("a malformed file loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_files_are_clear_errors() {
    let good = tiny_mlp(1, true).to_safetensors().unwrap();
    let all = |_: &str| true;
    // truncated
    assert!(load_err(&good[..good.len() / 2]).contains("not a valid safetensors"));
    assert!(load_err(&good[..5]).contains("too short"));
    // wrong magic: not a safetensors file at all
    assert!(load_err(b"PK\x03\x04 this is a zip file, not a model").contains("model file"));
    // a header that lies about its size
    let mut lying = good.clone();
    lying[..8].copy_from_slice(&(10_000_000u64).to_le_bytes());
    assert!(load_err(&lying).contains("not a valid safetensors"));
    // a safetensors file without our metadata
    let plain = safetensors::serialize(Vec::<(String, TensorView)>::new(), &None).unwrap();
    assert!(load_err(&plain).contains("not an LRP Live model"));
    // unknown layer type, unknown version, wrong format name
    let e = load_err(&rewrite(&good, |j| j["layers"][2]["type"] = "gelu".into(), all, &[]));
    assert!(e.contains("unknown variant `gelu`"), "{e}");
    let e = load_err(&rewrite(&good, |j| j["version"] = 7.into(), all, &[]));
    assert!(e.contains("version 7"), "{e}");
    // an input of another shape is read, and the first layer that does not fit it is named
    let e = load_err(&rewrite(&good, |j| j["input"]["height"] = 32.into(), all, &[]));
    assert!(e.contains("layer 1 (dense)") && e.contains("896"), "{e}");
    // an input too large to allocate, or with no channels, is refused from the metadata alone
    let e = load_err(&rewrite(&good, |j| j["input"]["height"] = 1_000_000.into(), all, &[]));
    assert!(e.contains("1x1000000x28"), "{e}");
    let e = load_err(&rewrite(&good, |j| j["input"]["channels"] = 0.into(), all, &[]));
    assert!(e.contains("0x28x28"), "{e}");
    // per-channel values that do not match the channels
    let e = load_err(&rewrite(&good, |j| j["input"]["scale"] = serde_json::json!([1.0, 2.0]), all, &[]));
    assert!(e.contains("2 scale and 1 shift values for 1 channels"), "{e}");
    // a missing tensor
    let e = load_err(&rewrite(&good, |_| {}, |n| n != "layers.3.bias", &[]));
    assert!(e.contains("`layers.3.bias` is missing"), "{e}");
    // a tensor whose shape is not the declared one
    let e = load_err(&rewrite(&good, |_| {}, all, &[("layers.1.weight", vec![32, 700])]));
    assert!(e.contains("layers.1.weight") && e.contains("[32, 700]"), "{e}");
    // declared shapes that do not chain (dense 700 inputs after 784 pixels), tensors consistent
    let e = load_err(&rewrite(&good, |j| j["layers"][1]["in_features"] = 700.into(), all, &[("layers.1.weight", vec![32, 700])]));
    assert!(e.contains("layer 1 (dense)") && e.contains("700"), "{e}");
    // class names that do not match the output
    let e = load_err(&rewrite(&good, |j| j["classes"] = serde_json::json!(["a", "b"]), all, &[]));
    assert!(e.contains("class names"), "{e}");
}

/// The model's tensors re-stored as float16 or bfloat16 (`to` narrows one f32, `back` widens it).
fn narrowed(bytes: &[u8], dtype: safetensors::Dtype, to: impl Fn(f32) -> [u8; 2]) -> Vec<u8> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let (_, meta) = SafeTensors::read_metadata(bytes).unwrap();
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.shape().to_vec(), t.data().chunks_exact(4).flat_map(|b| to(f32::from_le_bytes(b.try_into().unwrap()))).collect()))
        .collect();
    let views: Vec<(String, TensorView)> = owned.iter().map(|(n, s, d)| (n.clone(), TensorView::new(dtype, s.clone(), d).unwrap())).collect();
    safetensors::serialize(views, meta.metadata()).unwrap()
}

#[test]
fn float16_and_bfloat16_weights_load_widened() {
    let model = tiny_cnn(4, true);
    let bytes = model.to_safetensors().unwrap();
    let x = random_pixels(5);
    let exact = logits(&model, &x);
    for (dtype, to, back) in [
        (safetensors::Dtype::F16, (|v| half::f16::from_f32(v).to_le_bytes()) as fn(f32) -> [u8; 2], (|v| half::f16::from_f32(v).to_f32()) as fn(f32) -> f32),
        (safetensors::Dtype::BF16, |v| half::bf16::from_f32(v).to_le_bytes(), |v| half::bf16::from_f32(v).to_f32()),
    ] {
        let small = Model::try_from(narrowed(&bytes, dtype, to).as_slice()).unwrap();
        // every weight is the rounded one, widened exactly: the same as rounding the f32 model's weights
        let rounded = Model::try_from(rewrite_values(&bytes, back).as_slice()).unwrap();
        assert_eq!(small.layers(), rounded.layers(), "{dtype:?}");
        let got = logits(&small, &x);
        assert_ne!(got, exact, "{dtype:?}: rounding changed nothing, so the test would not see a wrong widening");
        assert!(got.iter().zip(&exact).all(|(a, b)| (a - b).abs() < 0.05 * b.abs().max(1.0)), "{dtype:?}: {got:?} vs {exact:?}");
    }
}

/// The model with every f32 value replaced by `f(value)`, still f32.
fn rewrite_values(bytes: &[u8], f: fn(f32) -> f32) -> Vec<u8> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let (_, meta) = SafeTensors::read_metadata(bytes).unwrap();
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.shape().to_vec(), t.data().chunks_exact(4).flat_map(|b| f(f32::from_le_bytes(b.try_into().unwrap())).to_le_bytes()).collect()))
        .collect();
    let views: Vec<(String, TensorView)> = owned.iter().map(|(n, s, d)| (n.clone(), TensorView::new(safetensors::Dtype::F32, s.clone(), d).unwrap())).collect();
    safetensors::serialize(views, meta.metadata()).unwrap()
}

#[test]
fn non_finite_weights_are_refused() {
    let good = tiny_mlp(1, false).to_safetensors().unwrap();
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let mut bad = good.clone();
    bad[8 + n..8 + n + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let e = load_err(&bad);
    assert!(e.contains("non-finite"), "{e}");
    bad[8 + n..8 + n + 4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    assert!(load_err(&bad).contains("non-finite"));
}

#[test]
fn absurd_sizes_are_refused_before_allocation() {
    let good = tiny_mlp(1, true).to_safetensors().unwrap();
    // a dense layer of 10^9 units: refused from the metadata alone (the tensors are tiny)
    let e = load_err(&rewrite(&good, |j| j["layers"][1]["out_features"] = 1_000_000_000u64.into(), |_| true, &[]));
    assert!(e.contains("1000000000"), "{e}");
    let e = load_err(&rewrite(&good, |j| j["layers"][1]["out_features"] = 0.into(), |_| true, &[]));
    assert!(e.contains("layer 1 declares no units"), "{e}");
    let e = load_err(&rewrite(&good, |j| j["layers"][1]["inputs"] = serde_json::json!(vec![0; 1000]), |_| true, &[]));
    assert!(e.contains("reads 1000 values (limit 256)"), "{e}");
    let e = load_err(&rewrite(&good, |j| j["layers"][1]["in_features"] = u64::MAX.into(), |_| true, &[]));
    assert!(e.contains("overflows") || e.contains("limit"), "{e}");
    let e = load_err(&rewrite(
        &good,
        |j| {
            j["layers"][1]["in_features"] = 30_000.into();
            j["layers"][1]["out_features"] = 1000.into();
        },
        |_| true,
        &[],
    ));
    assert!(e.contains("limit of 20000000") || e.contains("(limit 20000000)"), "{e}");
}

fn toolbox(text: &str, stage: InputStage) -> lrp::Result<Model> {
    import_toolbox(text, &ToolboxOptions { stage, name: "toolbox".into() })
}

/// Pixels whose 14x14 quadrants have maxima 0.2 (top left), 0.4 (top right), 0.6, 0.8 (bottom right).
fn quadrants() -> Vec<f32> {
    let mut x = vec![0.0f32; 784];
    x[3 * 28 + 3] = 0.2;
    x[3 * 28 + 17] = 0.4;
    x[17 * 28 + 3] = 0.6;
    x[17 * 28 + 17] = 0.8;
    x
}

#[test]
fn imports_a_hand_written_toolbox_model() {
    let text = "MaxPool 14 14 14 14\n\
                Convolution 1 1 1 2 1 1\n1 -1\n0 0.5\n\
                Rect\n\
                SumPool 2 2 2 2\n\
                Flatten\n\
                Linear 2 2\n1 2 3 4\n0.1 0.2\n\
                SoftMax\n";
    let model = toolbox(text, InputStage::default()).unwrap();
    // quadrant maxima m = (0.2, 0.4, 0.6, 0.8); 1x1 conv: channel 0 = m, channel 1 = 0.5 - m
    // ReLU: (0.2, 0.4, 0.6, 0.8) and (0.3, 0.1, 0, 0); sum-pool times 1/sqrt(4): 1.0 and 0.2
    // Linear (x W + b, W = [[1, 2], [3, 4]]): 1.0 + 0.6 + 0.1 = 1.7 and 2.0 + 0.8 + 0.2 = 3.0
    let l = logits(&model, &quadrants());
    assert!((l[0] - 1.7).abs() < 1e-6 && (l[1] - 3.0).abs() < 1e-6, "{l:?}");
    assert_eq!(model.classes(), 2);
}

#[test]
fn toolbox_linear_rows_follow_nhwc_order() {
    // channel 0 = m, channel 1 = 1 - m; NHWC flattening: (m0, 1-m0, m1, 1-m1, m2, 1-m2, m3, 1-m3)
    // = (0.2, 0.8, 0.4, 0.6, 0.6, 0.4, 0.8, 0.2). Column 0 picks row 1 (0.8), column 1 row 5 (0.4).
    let text = "MaxPool 14 14 14 14\nConvolution 1 1 1 2 1 1\n1 -1\n0 1\nFlatten\n\
                Linear 8 2\n0 0 1 0 0 0 0 0 0 0 0 1 0 0 0 0\n0 0\n";
    let model = toolbox(text, InputStage::default()).unwrap();
    let l = logits(&model, &quadrants());
    assert!((l[0] - 0.8).abs() < 1e-6 && (l[1] - 0.4).abs() < 1e-6, "{l:?}");
}

#[test]
fn toolbox_input_stage_scales_and_pads() {
    // pixels 0 become -1 (scale 2, shift -1), padded to 32x32 with -1; 16x16 max-pool gives 2x2 of -1,
    // except the top-left quadrant holding a pixel 1 (-> 1). Tanh then Linear 4 2 sums quadrants.
    let stage = InputStage::mnist(2.0, -1.0, 2, -1.0);
    let text = "MaxPool 16 16 16 16\nTanh\nLinear 4 2\n1 0 1 0 1 0 1 0\n0 0\n";
    let model = toolbox(text, stage).unwrap();
    let mut x = vec![0.0f32; 784];
    x[0] = 1.0;
    let l = logits(&model, &x);
    let t = 1f32.tanh();
    assert!((l[0] - (t - 3.0 * t)).abs() < 1e-6, "{l:?}");
    assert_eq!(model.input_stage().padded_shape().h, 32);
}

#[test]
fn toolbox_errors_name_the_line() {
    let cases = [
        ("Linear 2 2\n1 2 3\n0 0\n", 2, "expected 4 numbers"),
        ("MaxPool 14 14 14 14\nFoo 1\n", 2, "unknown layer type `Foo`"),
        ("Linear 784 2\n", 1, "found the end of the file"),
        ("Linear 100 2\n", 1, "expected a line"),
        ("Convolution 3 3 1\n", 1, "takes 6 integers"),
        ("Linear 1000000 1000000\n", 1, "limit"),
        ("Linear 784 2\n", 1, ""),
    ];
    for (text, line, msg) in cases {
        match toolbox(text, InputStage::default()) {
            Err(LrpError::Toolbox { line: l, message }) => {
                assert_eq!(l, line, "{text}: {message}");
                assert!(message.contains(msg), "{text}: {message}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    // the shapes must chain: a Linear that does not fit the 28x28 input
    let w = vec!["0"; 200].join(" ");
    match toolbox(&format!("Linear 100 2\n{w}\n0 0\n"), InputStage::default()) {
        Err(LrpError::Toolbox { message, .. }) => assert!(message.contains("expects 100 inputs"), "{message}"),
        other => panic!("{other:?}"),
    }
}
