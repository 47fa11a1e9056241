//! Arbitrary bytes into the ONNX importer: an error or a valid model, never a panic; a model that
//! loads also explains an input. The corpus is best seeded with tests/fixtures/onnx/*.onnx.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = lrp::model::import_onnx(data, &lrp::model::OnnxOptions::default()) {
        let mut ex = lrp::Explainer::new(&model);
        let x = vec![0.5; model.input_len()];
        if let Ok(m) = lrp::Method::from_name("epsilon-plus", &model, &lrp::Params::default()) {
            let _ = ex.explain(&model, &x, &m, &lrp::Query::default());
        }
    }
});
