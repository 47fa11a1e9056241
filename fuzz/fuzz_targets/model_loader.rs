//! Arbitrary bytes into the model loader: an error or a valid model, never a panic; a model that loads
//! also explains an input without NaN.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = lrp::Model::try_from(data) {
        let mut ex = lrp::Explainer::new(&model);
        if let Ok(m) = lrp::Method::from_name("epsilon-plus", &model, &lrp::Params::default()) {
            let _ = ex.explain(&model, &[0.5; 784], &m, &lrp::Query::default());
        }
    }
});
