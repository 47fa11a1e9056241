//! Arbitrary text into the LRP Toolbox importer: an error or a valid model, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let opts = lrp::model::ToolboxOptions { stage: Default::default(), name: "fuzz".into() };
        if let Ok(model) = lrp::model::import_toolbox(text, &opts) {
            let _ = lrp::Explainer::new(&model).predict(&model, &[0.5; 784]);
        }
    }
});
