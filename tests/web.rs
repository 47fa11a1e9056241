//! wasm-bindgen tests of the façade, run in headless Chromium by
//! `wasm-pack test --headless --chrome crate --test web`. Every export gets valid and invalid input;
//! invalid input must come back as an error, never a panic (a panic would abort the test run).
#![cfg(target_arch = "wasm32")]

use lrp::testing::{random_pixels, tiny_cnn};
use lrp::web::Engine;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn obj(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap()
}

fn get(v: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(v, &JsValue::from_str(key)).unwrap()
}

fn floats(v: &JsValue) -> Vec<f32> {
    js_sys::Float32Array::from(v.clone()).to_vec()
}

fn engine() -> Engine {
    let mut e = Engine::new();
    e.load_model(&tiny_cnn(1, true).to_safetensors().unwrap(), JsValue::UNDEFINED).unwrap();
    e
}

#[wasm_bindgen_test]
fn kernels_add_in_the_documented_order() {
    // the same check as tests/kernels.rs natively: the simd128 kernels give the bits of the native ones
    assert_eq!(lrp::testing::kernel_mismatch(), None);
}

#[wasm_bindgen_test]
fn explains_a_drawing_end_to_end() {
    let mut e = engine();
    // a 100x100 white canvas with a black bar
    let mut rgba = vec![255u8; 100 * 100 * 4];
    for y in 20..80 {
        for x in 45..55 {
            rgba[(y * 100 + x) * 4..(y * 100 + x) * 4 + 3].copy_from_slice(&[0, 0, 0]);
        }
    }
    assert!(e.preprocess(&rgba, 100, 100).unwrap());
    let r = e.explain(obj(r#"{"method": "epsilon-plus", "layers": true}"#)).unwrap();
    let h = floats(&get(&r, "heatmap"));
    assert_eq!(h.len(), 784);
    assert!(h.iter().any(|&v| v != 0.0));
    assert_eq!(e.transform().len(), 5);
    assert_eq!(js_sys::Array::from(&get(&r, "layers")).length(), 10);
    assert_eq!(js_sys::Array::from(&get(&r, "rules")).length(), 10, "the composite's rule of every layer");
    let maps = js_sys::Array::from(&get(&r, "layer_maps"));
    assert_eq!(maps.length(), 11);
    // the relevance at the input is the heatmap (no padding in this model)
    assert_eq!(floats(&maps.get(0)), h);
    assert!(get(&r, "root").is_null());
    assert!(get(&get(&r, "timings"), "explain").as_f64().unwrap() >= 0.0);
    let sum = get(&r, "sum").as_f64().unwrap() as f32;
    assert!((sum - h.iter().sum::<f32>()).abs() < 1e-4);
    assert_eq!(Engine::colorize(&h, 0.0, true, "bwr").unwrap().0.len(), 784 * 4);
    assert_eq!(e.explain_all_classes(JsValue::UNDEFINED).unwrap().len(), 7840);
}

#[wasm_bindgen_test]
fn every_method_runs_and_calls_share_no_method_state() {
    let mut e = engine();
    e.set_pixels(&random_pixels(3)).unwrap();
    let table = Engine::methods().unwrap();
    let names: Vec<String> = js_sys::Array::from(&get(&table, "methods")).iter().map(|m| get(&m, "name").as_string().unwrap()).collect();
    assert_eq!(names.len(), lrp::METHODS.len());
    // the ones this model runs (all but lrp-lstm), as its description lists them
    let runs: Vec<String> = js_sys::Array::from(&get(&e.model_info().unwrap(), "methods")).iter().map(|m| m.as_string().unwrap()).collect();
    assert_eq!(runs.len(), names.len() - 1);
    assert!(e.explain(obj(r#"{"method": "lrp-lstm"}"#)).is_err(), "lrp-lstm needs an LSTM");
    let names = runs;
    let first = floats(&get(&e.explain(obj(r#"{"method": "gradient", "target": 2}"#)).unwrap(), "heatmap"));
    for name in names.iter().map(String::as_str).chain(["smoothgrad:epsilon-plus"]) {
        let r = e
            .explain(obj(&format!(r#"{{"method": "{name}", "params": {{"steps": 4, "samples": 2}}, "target": 2, "contrast": 5, "normalize": true}}"#)))
            .unwrap();
        assert!(floats(&get(&r, "heatmap")).iter().all(|v| v.is_finite()), "{name}");
        assert_eq!(get(&r, "method").as_string().unwrap(), name);
    }
    // the method comes with each call: the first request gives the same map after all the others
    assert_eq!(floats(&get(&e.explain(obj(r#"{"method": "gradient", "target": 2}"#)).unwrap(), "heatmap")), first);
    let params = js_sys::Array::from(&get(&table, "params"));
    assert!(params.iter().any(|p| get(&p, "name") == "epsilon" && get(&p, "log") == JsValue::TRUE));
    let c = e.compare(obj(r#"{"methods": ["gradient", "epsilon-plus"], "steps": 3, "per_step": 4, "random_repeats": 1}"#)).unwrap();
    let rows = js_sys::Array::from(&get(&c, "methods"));
    assert_eq!(rows.length(), 2);
    assert_eq!(floats(&get(&rows.get(0), "heatmap")).len(), 784);
    assert_eq!(js_sys::Array::from(&get(&rows.get(1), "values")).length(), 4);
}

#[wasm_bindgen_test]
fn class_prototypes_add_up_the_maps_of_the_digits_the_model_gets_right() {
    let mut e = engine();
    // three digits of bytes; the first two labelled as the model predicts them, the third wrongly
    let images: Vec<Vec<u8>> = (0..3u32).map(|k| (0..784u32).map(|i| ((i * 37 + k * 101) % 256) as u8).collect()).collect();
    let mut maps = Vec::new();
    let mut labels = Vec::new();
    for (k, img) in images.iter().enumerate() {
        let x: Vec<f32> = img.iter().map(|&b| b as f32 / 255.0).collect();
        e.set_pixels(&x).unwrap();
        let r = e.explain(obj(r#"{"method": "epsilon-plus"}"#)).unwrap();
        let p = get(&r, "prediction").as_f64().unwrap() as u8;
        labels.push(if k < 2 { p } else { (p + 1) % 10 });
        maps.push((p as usize, floats(&get(&r, "heatmap"))));
    }
    let mut idx = vec![0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28];
    images.iter().for_each(|i| idx.extend_from_slice(i));
    let mut lab = vec![0, 0, 8, 1, 0, 0, 0, 3];
    lab.extend_from_slice(&labels);
    assert_eq!(e.load_digits(&idx, &lab).unwrap(), 3);
    let r = e.prototype_chunk(obj(r#"{"method": "epsilon-plus"}"#), 0, 10).unwrap();
    let counts: Vec<f64> = js_sys::Array::from(&get(&r, "counts")).iter().map(|x| x.as_f64().unwrap()).collect();
    let sums = floats(&get(&r, "sums"));
    assert_eq!(counts.iter().sum::<f64>(), 2.0, "the wrongly labelled digit is left out");
    assert_eq!(get(&r, "looked_at").as_f64(), Some(3.0));
    let mut want = vec![0.0f32; 7840];
    for (p, m) in &maps[..2] {
        want[p * 784..(p + 1) * 784].iter_mut().zip(m).for_each(|(w, v)| *w += v);
    }
    assert!(sums.iter().zip(&want).all(|(a, b)| (a - b).abs() <= 1e-5 * (1.0 + b.abs())), "the maps of the right digits, added per class");
    // a chunk past the end looks at nothing; no digits or a bad request is an error
    assert_eq!(get(&e.prototype_chunk(obj("{}"), 5, 10).unwrap(), "looked_at").as_f64(), Some(0.0));
    assert!(e.prototype_chunk(obj(r#"{"method": "nope"}"#), 0, 3).is_err());
    assert!(engine().prototype_chunk(obj("{}"), 0, 3).is_err());
}

#[wasm_bindgen_test]
fn the_sanity_check_returns_a_map_and_three_measures_per_method_and_step() {
    let mut e = engine();
    e.set_pixels(&random_pixels(4)).unwrap();
    let before = floats(&get(&e.explain(JsValue::UNDEFINED).unwrap(), "heatmap"));
    let r = e.sanity_check(obj(r#"{"methods": ["gradient", "lrp-0"], "seed": 1}"#)).unwrap();
    let steps = js_sys::Array::from(&get(&r, "steps"));
    assert_eq!(steps.length(), 5, "the trained model, then four weighted layers random");
    for (k, step) in steps.iter().enumerate() {
        assert_eq!(js_sys::Array::from(&get(&step, "randomized")).length() as usize, k);
        let maps = js_sys::Array::from(&get(&step, "maps"));
        assert_eq!(maps.length(), 2);
        assert_eq!(floats(&maps.get(1)).len(), 784);
        for key in ["spearman", "spearman_abs", "ssim"] {
            let v: Vec<f64> = js_sys::Array::from(&get(&step, key)).iter().map(|x| x.as_f64().unwrap()).collect();
            assert_eq!(v.len(), 2);
            if k == 0 {
                assert!(v.iter().all(|x| (x - 1.0).abs() < 1e-5), "{key} of the trained model with itself");
            }
        }
    }
    assert!(e.sanity_check(obj(r#"{"methods": ["nope"]}"#)).is_err());
    assert!(e.sanity_check(obj(r#"{"methods": []}"#)).is_err());
    assert!(e.sanity_check(obj(r#"{"methods": ["gradient"], "seeds": 1}"#)).is_err(), "misspelt fields are refused");
    // the engine's own model is untouched
    assert_eq!(floats(&get(&e.explain(JsValue::UNDEFINED).unwrap(), "heatmap")), before);
}

#[wasm_bindgen_test]
fn a_rule_per_layer() {
    let mut e = engine();
    e.set_pixels(&random_pixels(2)).unwrap();
    let r = e.explain(obj(r#"{"method": "custom", "rules": ["zb", null, null, "gamma=0.5", null, "0", null, "eps", null, "0"], "layers": true}"#)).unwrap();
    let rules = js_sys::Array::from(&get(&r, "rules"));
    assert_eq!(rules.get(0).as_string().unwrap(), "zb");
    assert!(rules.get(1).is_null());
}

#[wasm_bindgen_test]
fn garbage_is_an_error_and_the_engine_keeps_working() {
    let mut e = engine();
    e.set_pixels(&random_pixels(1)).unwrap();
    let before = floats(&get(&e.explain(JsValue::UNDEFINED).unwrap(), "heatmap"));
    assert!(e.load_model(b"garbage", JsValue::UNDEFINED).is_err());
    assert!(e.load_model(&[], JsValue::UNDEFINED).is_err());
    assert!(e.load_model(b"Linear 2 2\n1", obj(r#"{"format": "toolbox"}"#)).is_err());
    assert!(e.load_model(b"Linear 784 2\n0 0", obj(r#"{"format": "onnx"}"#)).is_err());
    assert!(e.load_model(b"Linear 784 2\n0 0", obj(r#"{"format": "toolbox", "scale": "x"}"#)).is_err());
    assert!(e.load_model(&[0xff, 0xfe], obj(r#"{"format": "toolbox"}"#)).is_err());
    assert!(e.load_model(&[0xff, 0xfe], JsValue::from_str("{")).is_err());
    for bad in [
        r#"{"method": "nope"}"#,
        r#"{"method": "lrp-eps", "params": {"epsilon": -1}}"#,
        r#"{"method": "lrp-alpha2-beta1", "params": {"alpha": 3, "beta": 1}}"#,
        r#"{"method": "integrated-gradients", "params": {"steps": 0}}"#,
        r#"{"method": "smoothgrad", "params": {"sigma": "x"}}"#,
        r#"{"method": "smoothgrad:integrated-gradients", "params": {"steps": 4096, "samples": 4096}}"#,
        r#"{"method": "custom", "rules": [1, 2]}"#,
        r#"{"method": "custom", "rules": ["zb"]}"#,
        r#"{"method": "custom"}"#,
        r#"{"method": "gradient", "rules": [null]}"#,
        r#"{"method": "custom", "rules": ["zb", null, null, "nope", null, null, null, "eps", null, "0"]}"#,
        r#"{"target": 10}"#,
        r#"{"target": -1}"#,
        r#"{"contrast": 99}"#,
        r#"{"targte": 1}"#,
    ] {
        assert!(e.explain(obj(bad)).is_err(), "{bad}");
    }
    assert!(e.explain(JsValue::from_f64(3.0)).is_err());
    assert!(e.compare(obj(r#"{"methods": ["nope"]}"#)).is_err());
    assert!(e.compare(obj(r#"{"methods": ["gradient"], "steps": 0}"#)).is_err());
    assert!(Engine::colorize(&before, 0.0, false, "rainbow").is_err());
    assert!(Engine::color_of(0.0, "").is_err());
    assert!(e.preprocess(&[0; 10], 0, 0).is_err());
    assert!(e.preprocess(&[0; 10], 20000, 20000).is_err());
    assert!(e.preprocess(&[0; 10], 2, 2).is_err());
    assert!(e.set_pixels(&[f32::NAN; 784]).is_err());
    assert!(e.set_pixels(&[0.5; 10]).is_err());
    assert!(e.softmax_explanation(Some(10)).is_err());
    assert!(e.digit(0).is_err());
    assert!(e.load_digits(&[1, 2, 3], &[]).is_err());
    // still the same model and input
    assert_eq!(floats(&get(&e.explain(JsValue::UNDEFINED).unwrap(), "heatmap")), before);
}

#[wasm_bindgen_test]
fn an_engine_without_a_model_says_so() {
    let mut e = Engine::new();
    assert!(e.explain(JsValue::UNDEFINED).is_err());
    assert!(e.explain_all_classes(JsValue::UNDEFINED).is_err());
    assert!(e.compare(JsValue::UNDEFINED).is_err());
    assert!(e.find_misclassified(0).is_err());
    assert!(e.model_info().unwrap().is_null());
    #[cfg(feature = "onnx")]
    assert!(e.export_model().is_err());
}

#[cfg(feature = "onnx")]
#[wasm_bindgen_test]
fn an_onnx_model_loads_in_wasm_and_explains_as_the_same_safetensors_model() {
    // the shipped CNN exported by PyTorch (tests/fixtures/onnx/mnist-cnn.onnx) against its float32 file
    let onnx = include_bytes!("fixtures/onnx/mnist-cnn.onnx");
    let shipped = include_bytes!("fixtures/onnx/mnist-cnn.safetensors");
    let (mut a, mut b) = (Engine::new(), Engine::new());
    let info = a.load_model(onnx, obj(r#"{"format": "onnx", "name": "mnist-cnn.onnx", "mean": [0], "std": [1]}"#)).unwrap();
    assert!(get(&info, "description").as_string().unwrap().contains("LogSoftmax was removed"));
    // the converted bytes are the shipped architecture and weights
    let converted = a.export_model().unwrap();
    b.load_model(&converted, JsValue::UNDEFINED).unwrap();
    assert_eq!(lrp::Model::try_from(converted.as_slice()).unwrap().layers(), lrp::Model::try_from(&shipped[..]).unwrap().layers());
    let x = random_pixels(3);
    a.set_pixels(&x).unwrap();
    b.set_pixels(&x).unwrap();
    let req = r#"{"method": "epsilon-gamma-box"}"#;
    assert_eq!(floats(&get(&a.explain(obj(req)).unwrap(), "heatmap")), floats(&get(&b.explain(obj(req)).unwrap(), "heatmap")));
    // bad normalisation or a non-digit model: an error, and the ONNX model stays
    assert!(a.load_model(onnx, obj(r#"{"format": "onnx", "mean": [0, 0], "std": [1]}"#)).is_err());
    assert!(a.load_model(onnx, obj(r#"{"format": "onnx", "mean": [0], "std": [0]}"#)).is_err());
    let rgb = include_bytes!("fixtures/onnx/gap.onnx");
    let e = a.load_model(rgb, obj(r#"{"format": "onnx"}"#)).err().map(|e| JsValue::from(e).as_string().unwrap_or_default());
    assert!(e.is_some());
    assert_eq!(floats(&get(&a.explain(obj(req)).unwrap(), "heatmap")), floats(&get(&b.explain(obj(req)).unwrap(), "heatmap")));
}

#[wasm_bindgen_test]
fn an_lstm_explains_with_its_rows_and_conserves_with_the_bias_factor() {
    let mut e = Engine::new();
    let model = lrp::testing::lstm_model(3, 28, 28, 6, true, 10, true, 0.8);
    e.load_model(&model.to_safetensors().unwrap(), JsValue::UNDEFINED).unwrap();
    let runs: Vec<String> = js_sys::Array::from(&get(&e.model_info().unwrap(), "methods")).iter().map(|m| m.as_string().unwrap()).collect();
    assert!(runs.contains(&"lrp-lstm".to_string()) && !runs.contains(&"epsilon-plus".to_string()), "{runs:?}");
    e.set_pixels(&random_pixels(2)).unwrap();
    let r = e.explain(obj(r#"{"method": "lrp-lstm", "params": {"epsilon": 0.001, "bias_factor": 1}}"#)).unwrap();
    let lstm = get(&r, "lstm");
    let rows = js_sys::Array::from(&get(&lstm, "rows"));
    assert_eq!((rows.length(), js_sys::Array::from(&rows.get(0)).length()), (2, 28));
    let init: f64 = js_sys::Array::from(&get(&lstm, "initial_state")).iter().map(|v| v.as_f64().unwrap()).sum();
    let (sum, explained) = (get(&r, "sum").as_f64().unwrap(), get(&r, "explained").as_f64().unwrap());
    assert!((sum + init - explained).abs() <= 1e-5 * explained.abs().max(1e-3), "{sum} + {init} vs {explained}");
    // a convolution preset is refused, and the engine keeps working
    assert!(e.explain(obj(r#"{"method": "epsilon-plus"}"#)).is_err());
    assert!(e.explain(obj(r#"{"method": "gradient"}"#)).is_ok());
}
