//! wasm-bindgen tests of the façade, run in headless Chromium by
//! `wasm-pack test --headless --chrome crate --test web`. Every export gets valid and invalid input;
//! invalid input must come back as an error, never a panic (a panic would abort the test run).
#![cfg(target_arch = "wasm32")]

use lrp::testing::{random_pixels, tiny_cnn};
use lrp::web::Engine;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn engine() -> Engine {
    let mut e = Engine::new();
    e.load_model(&tiny_cnn(1, true).to_safetensors().unwrap(), false, "").unwrap();
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
    e.set_method("epsilon-plus", "{}").unwrap();
    e.explain(-1, -1, false).unwrap();
    let h = e.heatmap();
    assert_eq!(h.len(), 784);
    assert!(h.iter().any(|&v| v != 0.0));
    assert_eq!(e.transform().len(), 5);
    let res: serde_json::Value = serde_json::from_str(&e.result_json()).unwrap();
    assert_eq!(res["layers"].as_array().unwrap().len(), 10);
    assert_eq!(e.colorize(&h, 0.0, true).0.len(), 784 * 4);
    assert_eq!(e.explain_all_classes(false).unwrap().len(), 7840);
    assert_eq!(e.timings().len(), 4);
}

#[wasm_bindgen_test]
fn every_method_runs() {
    let mut e = engine();
    e.set_pixels(&random_pixels(3)).unwrap();
    for name in Engine::method_names() {
        e.set_method(&name, r#"{"steps": 4, "samples": 2}"#).unwrap();
        e.explain(2, 5, true).unwrap();
        assert!(e.heatmap().iter().all(|v| v.is_finite()), "{name}");
    }
    // the table the page reads names the same methods, each with its parameters
    let table: serde_json::Value = serde_json::from_str(&Engine::methods()).unwrap();
    let names: Vec<&str> = table["methods"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, Engine::method_names());
    assert!(table["params"].as_array().unwrap().iter().any(|p| p["name"] == "epsilon" && p["log"] == true));
}

#[wasm_bindgen_test]
fn garbage_is_an_error_and_the_engine_keeps_working() {
    let mut e = engine();
    e.set_pixels(&random_pixels(1)).unwrap();
    e.explain(-1, -1, false).unwrap();
    let before = e.heatmap();
    assert!(e.load_model(b"garbage", false, "").is_err());
    assert!(e.load_model(&[], false, "").is_err());
    assert!(e.load_model(b"Linear 2 2\n1", true, "").is_err());
    assert!(e.load_model(b"Linear 784 2\n0 0", true, "{not json").is_err());
    assert!(e.load_model(&[0xff, 0xfe], true, "").is_err());
    assert!(e.set_method("nope", "{}").is_err());
    assert!(e.set_method("lrp-eps", r#"{"epsilon": -1}"#).is_err());
    assert!(e.set_method("lrp-alpha2-beta1", r#"{"alpha": 3, "beta": 1}"#).is_err());
    assert!(e.set_method("integrated-gradients", r#"{"steps": 0}"#).is_err());
    assert!(e.set_method("smoothgrad", r#"{"sigma": "x"}"#).is_err());
    assert!(e.set_layer_rules("[1,2]").is_err());
    assert!(e.set_layer_rules(r#"["zb", null, null, "nope", null, null, null, "eps", null, "0"]"#).is_err());
    assert!(e.set_colormap("rainbow").is_err());
    assert!(e.preprocess(&[0; 10], 0, 0).is_err());
    assert!(e.preprocess(&[0; 10], 20000, 20000).is_err());
    assert!(e.preprocess(&[0; 10], 2, 2).is_err());
    assert!(e.set_pixels(&[f32::NAN; 784]).is_err());
    assert!(e.set_pixels(&[0.5; 10]).is_err());
    assert!(e.explain(10, -1, false).is_err());
    assert!(e.explain(0, 99, false).is_err());
    assert!(e.layer_relevance(999).is_err());
    assert!(e.digit(0).is_err());
    assert!(e.load_digits(&[1, 2, 3], &[]).is_err());
    // still the same model, method and input
    e.explain(-1, -1, false).unwrap();
    assert_eq!(e.heatmap(), before);
}

#[wasm_bindgen_test]
fn an_engine_without_a_model_says_so() {
    let mut e = Engine::new();
    assert!(e.explain(-1, -1, false).is_err());
    assert!(e.set_method("gradient", "").is_err());
    assert!(e.explain_all_classes(false).is_err());
    assert!(e.find_misclassified(0).is_err());
    assert_eq!(e.model_info(), "null");
}
