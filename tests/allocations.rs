//! After the first explanation, explaining again allocates nothing (buffers are reused).
//! Counted with a global allocator in this test binary: a count, not a timing.
#![cfg(not(target_arch = "wasm32"))]

use lrp::testing::{allocations, CountingAllocator};
use lrp::testing::{random_pixels, tiny_cnn, tiny_mlp};
use lrp::{Explainer, Method, Params, Query};

#[global_allocator]
static A: CountingAllocator = CountingAllocator;

/// Explains `name` once (buffers sized), then 8 times more (with and without a contrast): no allocation.
fn assert_explaining_again_allocates_nothing(model: &lrp::Model, name: &str, p: &Params) {
    let mut ex = Explainer::new(model);
    let xs: Vec<Vec<f32>> = (0..4).map(random_pixels).collect();
    let m = Method::from_name(name, model, p).unwrap();
    let q = Query { target: Some(1), contrast: Some(4), normalize: false };
    ex.explain(model, &xs[0], &m, &q).unwrap();
    let before = allocations();
    for x in &xs {
        ex.explain(model, x, &m, &q).unwrap();
        ex.explain(model, x, &m, &Query::default()).unwrap();
    }
    let n = allocations() - before;
    assert_eq!(n, 0, "{name} on {}: {n} allocations in 8 explanations", model.meta().name);
}

#[test]
fn explaining_again_allocates_nothing() {
    for model in [tiny_cnn(1, true), tiny_mlp(2, true)] {
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
            assert_explaining_again_allocates_nothing(&model, name, &Params { steps: 4, samples: 4, ..Params::default() });
        }
    }
}

#[test]
fn explaining_an_lstm_again_allocates_nothing() {
    let model = lrp::testing::lstm_model(1, 28, 28, 8, true, 10, true, 0.8);
    let p = Params { steps: 4, samples: 4, rules: lrp::RuleParams { bias_factor: 1.0, ..Default::default() }, ..Params::default() };
    for name in ["lrp-lstm", "lrp-eps", "gradient", "integrated-gradients", "smoothgrad:lrp-lstm"] {
        assert_explaining_again_allocates_nothing(&model, name, &p);
    }
}
