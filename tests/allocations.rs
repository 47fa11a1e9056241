//! After the first explanation, explaining again allocates nothing (buffers are reused).
//! Counted with a global allocator in this test binary: a count, not a timing.
#![cfg(not(target_arch = "wasm32"))]

use lrp::testing::{allocations, CountingAllocator};
use lrp::testing::{random_pixels, tiny_cnn, tiny_mlp};
use lrp::{Explainer, Method, Params, Query};

#[global_allocator]
static A: CountingAllocator = CountingAllocator;

#[test]
fn explaining_again_allocates_nothing() {
    for model in [tiny_cnn(1, true), tiny_mlp(2, true)] {
        let mut ex = Explainer::new(&model);
        let xs: Vec<Vec<f32>> = (0..4).map(random_pixels).collect();
        for name in [
            "epsilon-plus",
            "epsilon-gamma-box",
            "lrp-0",
            "lrp-alpha2-beta1",
            "gradient",
            "gradient-x-input",
            "integrated-gradients",
            "smoothgrad",
            "smoothgrad:epsilon-gamma-box",
            "integrated-gradients:lrp-eps",
            "simple-taylor",
        ] {
            let m = Method::from_name(name, &model, &Params { steps: 4, samples: 4, ..Params::default() }).unwrap();
            let q = Query { target: Some(1), contrast: Some(4), normalize: false };
            ex.explain(&model, &xs[0], &m, &q).unwrap();
            let before = allocations();
            for x in &xs {
                ex.explain(&model, x, &m, &q).unwrap();
                ex.explain(&model, x, &m, &Query::default()).unwrap();
            }
            let n = allocations() - before;
            assert_eq!(n, 0, "{name} on {}: {n} allocations in 8 explanations", model.meta().name);
        }
    }
}

#[test]
fn explaining_an_lstm_again_allocates_nothing() {
    let model = lrp::testing::lstm_model(1, 28, 28, 8, true, 10, true, 0.8);
    let mut ex = Explainer::new(&model);
    let xs: Vec<Vec<f32>> = (0..4).map(random_pixels).collect();
    for name in ["lrp-lstm", "lrp-eps", "gradient", "integrated-gradients", "smoothgrad:lrp-lstm"] {
        let p = Params { steps: 4, samples: 4, rules: lrp::RuleParams { bias_factor: 1.0, ..Default::default() }, ..Params::default() };
        let m = Method::from_name(name, &model, &p).unwrap();
        let q = Query { target: Some(1), contrast: Some(4), normalize: false };
        ex.explain(&model, &xs[0], &m, &q).unwrap();
        let before = allocations();
        for x in &xs {
            ex.explain(&model, x, &m, &q).unwrap();
            ex.explain(&model, x, &m, &Query::default()).unwrap();
        }
        let n = allocations() - before;
        assert_eq!(n, 0, "{name} on the LSTM: {n} allocations in 8 explanations");
    }
}
