//! The properties of lrp-conventions.md ("Properties the tests hold") on small random dense and conv
//! networks with fixed seeds, with and without biases, with max-pooling and sum-pooling.
#![cfg(not(target_arch = "wasm32"))]

use lrp::model::{Dense, InputStage, Layer, Model, ModelMeta, Pool, Shape};
use lrp::testing::{assert_close, random_pixels, rule_step, tiny_cnn, tiny_mlp};
use lrp::{Explainer, LrpError, Method, Params, Query, Rule};
use ndarray::{Array1, Array2};

fn nets(bias: bool) -> Vec<Model> {
    vec![tiny_mlp(1, bias), tiny_cnn(2, bias), tiny_cnn(3, bias)]
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0f32, |m, x| m.max(x.abs()))
}

fn lrp(model: &Model, rules: &str) -> Method {
    Method::from_rule_list(rules, model, &Params::default()).unwrap()
}

fn rule_list(model: &Model, first: &str, rest: &str) -> String {
    let n = model.layers().iter().filter(|l| matches!(l, Layer::Dense(_) | Layer::Conv2d(_))).count();
    std::iter::once(first).chain(std::iter::repeat_n(rest, n - 1)).collect::<Vec<_>>().join(",")
}

#[test]
fn lrp0_equals_gradient_times_input_on_relu_networks() {
    for bias in [false, true] {
        for model in nets(bias) {
            let mut ex = Explainer::new(&model);
            for seed in 0..3 {
                let x = random_pixels(seed);
                let l0 = Method::from_name("lrp-0", &model, &Params::default()).unwrap();
                let gxi = Method::from_name("gradient-x-input", &model, &Params::default()).unwrap();
                for target in [None, Some(3)] {
                    let q = Query { target, ..Default::default() };
                    let a = ex.explain(&model, &x, &l0, &q).unwrap().heatmap.clone();
                    let b = ex.explain(&model, &x, &gxi, &q).unwrap().heatmap.clone();
                    let scale = max_abs(&b).max(1e-6);
                    assert_close(&a, &b, 1e-5 * scale, &format!("{} bias={bias}: LRP-0 vs GxI", model.meta().name));
                }
            }
        }
    }
}

#[test]
fn bias_free_rules_conserve_relevance() {
    for model in nets(false) {
        let mut ex = Explainer::new(&model);
        let x = random_pixels(7);
        let lists = [
            rule_list(&model, "0", "0"),
            rule_list(&model, "eps=0", "eps=0"),
            rule_list(&model, "zplus", "zplus"),
            rule_list(&model, "zb", "zplus"),
            rule_list(&model, "w2", "zplus"),
            rule_list(&model, "flat", "zplus"),
            rule_list(&model, "flat", "0"),
        ];
        for rules in &lists {
            let e = ex.explain(&model, &x, &lrp(&model, rules), &Query::default()).unwrap();
            let logit = e.logits[e.target];
            assert!(logit > 0.0, "test premise: a positive predicted logit");
            assert_eq!(e.explained, logit);
            let rel = (e.total() - logit).abs() / logit.abs();
            assert!(rel < 1e-4, "{} rules {rules}: sum R = {} but logit = {logit}", model.meta().name, e.total());
            // and layer by layer
            for (i, l) in e.layers.iter().enumerate() {
                assert!((l.relevance_in - l.relevance_out).abs() <= 1e-4 * logit.abs(), "layer {i} {l:?}");
            }
        }
    }
}

#[test]
fn epsilon_absorbs_relevance_and_reports_it_per_layer() {
    for model in nets(false) {
        let mut ex = Explainer::new(&model);
        let x = random_pixels(8);
        let m = Method::from_name("lrp-eps", &model, &Params::default()).unwrap();
        let e = ex.explain(&model, &x, &m, &Query::default()).unwrap().clone();
        let logit = e.logits[e.target];
        // the totals chain from the logit down to the heatmap
        assert_eq!(e.layers.last().unwrap().relevance_out, logit);
        for w in e.layers.windows(2) {
            assert_eq!(w[0].relevance_out, w[1].relevance_in);
        }
        // each total is the sum of that layer's relevance
        for (i, l) in e.layers.iter().enumerate() {
            for (total, k) in [(l.relevance_in, i), (l.relevance_out, i + 1)] {
                let sum: f64 = ex.layer_relevance(k).unwrap().iter().map(|&v| v as f64).sum();
                assert!((total as f64 - sum).abs() < 1e-5 * logit as f64, "layer {i}: total {total}, sum {sum}");
            }
        }
        assert!((e.layers[0].relevance_in - e.total() - e.padding).abs() < 1e-4 * logit);
        let absorbed: f32 = e.layers.iter().map(|l| l.relevance_out - l.relevance_in).sum();
        assert!(absorbed > 0.0, "eps = 0.1 must absorb some relevance");
        assert!((logit - absorbed - e.total()).abs() < 1e-4 * logit);
    }
}

#[test]
fn biases_absorb_relevance_under_lrp0() {
    let model = tiny_mlp(1, true);
    let mut ex = Explainer::new(&model);
    let e = ex.explain(&model, &random_pixels(1), &Method::from_name("lrp-0", &model, &Params::default()).unwrap(), &Query::default()).unwrap();
    let absorbed: Vec<f32> = e.layers.iter().map(|l| l.relevance_out - l.relevance_in).collect();
    // dense layers (1, 3, 5) absorb R_k b_k / z_k; activations and flatten absorb nothing
    for i in [0, 2, 4] {
        assert_eq!(absorbed[i], 0.0);
    }
    assert!(absorbed[5].abs() > 1e-6);
}

#[test]
fn alpha_beta_scales_one_signed_neurons_by_alpha_or_minus_beta() {
    // three neurons over three non-negative inputs: neuron 0 has only positive contributions,
    // neuron 1 only negative ones, neuron 2 both; no biases.
    let w = Array2::from_shape_vec((3, 3), vec![1.0, 2.0, 0.5, -1.0, -0.5, -2.0, 1.0, -1.0, 2.0]).unwrap();
    let layer = Layer::Dense(Dense { weight: w, bias: Array1::zeros(3) });
    let x = [0.5, 1.0, 0.25];
    let (lo, hi) = ([0.0; 3], [1.0; 3]);
    let (alpha, beta) = (2.0, 1.0);
    for (k, expect) in [(0, alpha), (1, -beta), (2, 1.0)] {
        let mut r = [0.0; 3];
        r[k] = 3.0;
        let got: f32 = rule_step(&layer, Shape::new(3, 1, 1), Rule::AlphaBeta { alpha, beta }, true, &x, &r, (&lo, &hi)).iter().sum();
        assert!((got - expect * 3.0).abs() < 1e-5, "neuron {k}: relevance {got}, expected {}", expect * 3.0);
    }
}

#[test]
fn integrated_gradients_is_complete() {
    for model in nets(true) {
        let mut ex = Explainer::new(&model);
        let x = random_pixels(11);
        let p = Params { steps: 256, ..Params::default() };
        let m = Method::from_name("integrated-gradients", &model, &p).unwrap();
        let e = ex.explain(&model, &x, &m, &Query::default()).unwrap().clone();
        let fx = e.logits[e.target];
        let f0 = ex.predict(&model, &[0.0; 784]).unwrap().logits[e.target];
        let err = (e.total() - (fx - f0)).abs();
        assert!(err <= 0.01 * (fx - f0).abs(), "{}: sum IG {} vs f(x) - f(x') {}", model.meta().name, e.total(), fx - f0);
    }
}

#[test]
fn zplus_and_zbox_heatmaps_are_non_negative_for_a_positive_logit() {
    for bias in [false, true] {
        for model in nets(bias) {
            let mut ex = Explainer::new(&model);
            for name in ["lrp-zplus", "lrp-alpha1-beta0", "deep-taylor"] {
                let m = Method::from_name(name, &model, &Params::default()).unwrap();
                let e = ex.explain(&model, &random_pixels(5), &m, &Query::default()).unwrap();
                assert!(e.logits[e.target] > 0.0);
                let min = e.heatmap.iter().copied().fold(f32::INFINITY, f32::min);
                assert!(min >= 0.0, "{name} on {}: min {min}", model.meta().name);
                assert!(e.heatmap.iter().any(|&v| v > 0.0));
            }
        }
    }
}

fn dead_model() -> Model {
    let layers = vec![
        Layer::Flatten,
        Layer::Dense(Dense { weight: Array2::zeros((5, 784)), bias: Array1::zeros(5) }),
        Layer::Relu,
        Layer::Dense(Dense { weight: Array2::zeros((10, 5)), bias: Array1::zeros(10) }),
    ];
    Model::new(InputStage::default(), layers, ModelMeta::digits("dead")).unwrap()
}

#[test]
fn no_method_produces_nan_or_inf() {
    let mut models = nets(true);
    models.push(dead_model());
    models.push(lrp::testing::lstm_model(4, 28, 28, 8, true, 10, true, 1.0));
    let inputs = [vec![0.0; 784], vec![1.0; 784], random_pixels(3)];
    for model in &models {
        let mut ex = Explainer::new(model);
        // every method the model defines: all but lrp-lstm, and for the LSTM the ones tests/lstm.rs lists
        let names = lrp::registry::available(model);
        assert!(names.len() >= 9, "{}: {names:?}", model.meta().name);
        for name in names {
            for p in [Params::default(), Params { steps: 1, samples: 1, sigma: 0.0, ..Params::default() }] {
                let m = Method::from_name(name, model, &p).unwrap();
                for x in &inputs {
                    for q in [Query::default(), Query { target: Some(2), contrast: Some(5), normalize: true }] {
                        let e = ex.explain(model, x, &m, &q).unwrap();
                        assert!(e.heatmap.iter().all(|v| v.is_finite()), "{name} on {}", model.meta().name);
                        assert!(e.layers.iter().all(|l| l.relevance_in.is_finite() && l.relevance_out.is_finite()));
                    }
                }
            }
        }
    }
}

#[test]
fn invalid_parameters_and_inputs_are_errors() {
    let model = tiny_cnn(1, true);
    let bad = |p: Params, name: &str| Method::from_name(name, &model, &p);
    let d = Params::default();
    let mut r = d;
    r.rules.epsilon = -0.1;
    assert!(matches!(bad(r, "lrp-eps"), Err(LrpError::InvalidParameter(_))));
    let mut r = d;
    r.rules.gamma = -1.0;
    assert!(matches!(bad(r, "lrp-gamma"), Err(LrpError::InvalidParameter(_))));
    let mut r = d;
    r.rules.alpha = 3.0;
    assert!(matches!(bad(r, "lrp-alpha2-beta1"), Err(LrpError::InvalidParameter(_))));
    assert!(matches!(bad(Params { steps: 0, ..d }, "integrated-gradients"), Err(LrpError::InvalidParameter(_))));
    assert!(matches!(bad(Params { steps: 1_000_000, ..d }, "integrated-gradients"), Err(LrpError::InvalidParameter(_))));
    assert!(matches!(bad(Params { samples: 0, ..d }, "smoothgrad"), Err(LrpError::InvalidParameter(_))));
    assert!(matches!(bad(Params { sigma: f32::NAN, ..d }, "smoothgrad"), Err(LrpError::InvalidParameter(_))));
    assert!(matches!(bad(d, "no-such-method"), Err(LrpError::InvalidParameter(_))));
    let m = Method::from_name("gradient", &model, &d).unwrap();
    let mut ex = Explainer::new(&model);
    let x = random_pixels(1);
    assert!(matches!(
        ex.explain(&model, &x, &m, &Query { target: Some(10), ..Default::default() }),
        Err(LrpError::TargetOutOfRange { target: 10, classes: 10 })
    ));
    assert!(matches!(ex.explain(&model, &x, &m, &Query { contrast: Some(99), ..Default::default() }), Err(LrpError::TargetOutOfRange { .. })));
    assert!(matches!(ex.explain(&model, &x[..700], &m, &Query::default()), Err(LrpError::InvalidInput(_))));
    let mut nan = x.clone();
    nan[5] = f32::NAN;
    assert!(matches!(ex.explain(&model, &nan, &m, &Query::default()), Err(LrpError::InvalidInput(_))));
    nan[5] = f32::INFINITY;
    assert!(matches!(ex.explain(&model, &nan, &m, &Query::default()), Err(LrpError::InvalidInput(_))));
    // a rule list of the wrong length, z^B away from the input
    assert!(Method::from_rule_list("eps,eps", &model, &d).is_err());
    assert!(Method::from_rule_list("eps,zb,eps,eps", &model, &d).is_err());
}

#[test]
fn contrastive_is_the_difference_of_two_explanations() {
    let model = tiny_cnn(4, true);
    let mut ex = Explainer::new(&model);
    let x = random_pixels(2);
    for name in ["epsilon-plus", "gradient", "integrated-gradients", "sensitivity"] {
        let m = Method::from_name(name, &model, &Params::default()).unwrap();
        let a = ex.explain(&model, &x, &m, &Query { target: Some(3), ..Default::default() }).unwrap().clone();
        let b = ex.explain(&model, &x, &m, &Query { target: Some(8), ..Default::default() }).unwrap().clone();
        let c = ex.explain(&model, &x, &m, &Query { target: Some(3), contrast: Some(8), normalize: false }).unwrap().clone();
        assert_eq!(c.target, 3);
        assert_eq!(c.contrast, Some(8));
        for i in 0..784 {
            assert!((c.heatmap[i] - (a.heatmap[i] - b.heatmap[i])).abs() < 1e-5, "{name} pixel {i}");
        }
        assert!((c.explained - (a.explained - b.explained)).abs() < 1e-5);
    }
}

#[test]
fn normalized_start_relevance_is_one() {
    let model = tiny_mlp(2, false);
    let mut ex = Explainer::new(&model);
    let m = Method::from_name("lrp-0", &model, &Params::default()).unwrap();
    let e = ex.explain(&model, &random_pixels(4), &m, &Query { normalize: true, ..Default::default() }).unwrap();
    assert_eq!(e.explained, 1.0);
    assert!((e.total() - 1.0).abs() < 1e-4);
}

#[test]
fn a_batch_equals_single_explanations() {
    let model = tiny_cnn(5, true);
    let mut ex = Explainer::new(&model);
    let m = Method::from_name("epsilon-gamma-box", &model, &Params::default()).unwrap();
    let xs: Vec<f32> = (0..3).flat_map(random_pixels).collect();
    let batch = ex.explain_batch(&model, &xs, &m, &Query::default()).unwrap();
    assert_eq!(batch.len(), 3);
    for (i, b) in batch.iter().enumerate() {
        let single = ex.explain(&model, &xs[i * 784..(i + 1) * 784], &m, &Query::default()).unwrap();
        assert_eq!(&single.heatmap, &b.heatmap);
    }
}

#[test]
fn simple_taylor_finds_a_root_point() {
    let model = tiny_cnn(6, true);
    let mut ex = Explainer::new(&model);
    let m = Method::from_name("simple-taylor", &model, &Params::default()).unwrap();
    let e = ex.explain(&model, &random_pixels(9), &m, &Query::default()).unwrap();
    let f0 = e.logits[e.target];
    let fr = e.root_value.unwrap();
    assert!(fr.abs() < 1e-3 * f0.abs(), "f(root) = {fr}, f(x) = {f0}");
    assert_eq!(e.root.as_ref().unwrap().len(), 784);
    // the root differs from x along the gradient direction only
    assert!(e.heatmap.iter().any(|&v| v != 0.0));
}

fn smoothgrad(samples: usize, sigma: f32, seed: u64, base: Method) -> Method {
    Method::SmoothGrad { samples, sigma, seed, base: Box::new(base) }
}

#[test]
fn smoothgrad_with_zero_noise_is_the_gradient_and_the_seed_matters() {
    let model = tiny_cnn(7, true);
    let mut ex = Explainer::new(&model);
    let x = random_pixels(3);
    let g = ex.explain(&model, &x, &Method::Gradient, &Query::default()).unwrap().heatmap.clone();
    let s0 = ex.explain(&model, &x, &smoothgrad(4, 0.0, 1, Method::Gradient), &Query::default()).unwrap().heatmap.clone();
    assert_close(&s0, &g, 1e-6, "SmoothGrad without noise vs the gradient");
    let s1 = ex.explain(&model, &x, &smoothgrad(8, 0.15, 1, Method::Gradient), &Query::default()).unwrap().heatmap.clone();
    let s1b = ex.explain(&model, &x, &smoothgrad(8, 0.15, 1, Method::Gradient), &Query::default()).unwrap().heatmap.clone();
    let s2 = ex.explain(&model, &x, &smoothgrad(8, 0.15, 2, Method::Gradient), &Query::default()).unwrap().heatmap.clone();
    assert_eq!(s1, s1b);
    assert_ne!(s1, s2);
    assert_ne!(s1, g);
}

#[test]
fn the_wrappers_alone_wrap_the_gradient() {
    let model = tiny_cnn(7, true);
    let mut ex = Explainer::new(&model);
    let x = random_pixels(4);
    let p = Params { steps: 6, samples: 5, ..Params::default() };
    for w in ["integrated-gradients", "smoothgrad"] {
        let alone = Method::from_name(w, &model, &p).unwrap();
        let explicit = Method::from_name(&format!("{w}:gradient"), &model, &p).unwrap();
        assert_eq!(alone, explicit, "{w}");
        assert_eq!(alone.innermost(), &Method::Gradient);
    }
    // Integrated Gradients by hand: the right Riemann sum of the gradient along t x, times x
    let ig = ex.explain(&model, &x, &Method::from_name("integrated-gradients", &model, &p).unwrap(), &Query::default()).unwrap().clone();
    let mut sum = vec![0.0f32; x.len()];
    for k in 1..=6 {
        let xt: Vec<f32> = x.iter().map(|v| v * k as f32 / 6.0).collect();
        let g = ex.explain(&model, &xt, &Method::Gradient, &Query { target: Some(ig.target), ..Query::default() }).unwrap();
        sum.iter_mut().zip(&g.heatmap).for_each(|(s, g)| *s += g);
    }
    for ((a, s), xi) in ig.heatmap.iter().zip(&sum).zip(&x) {
        assert!((a - xi * s / 6.0).abs() <= 1e-6 * (1.0 + a.abs()), "{a} vs {}", xi * s / 6.0);
    }
}

#[test]
fn smoothgrad_of_an_lrp_composite_is_the_mean_relevance_of_noisy_copies() {
    let model = tiny_cnn(9, false);
    let mut ex = Explainer::new(&model);
    let x = random_pixels(5);
    let p = Params { samples: 6, sigma: 0.2, ..Params::default() };
    let eps = Method::from_name("epsilon-plus", &model, &p).unwrap();
    let q = Query { target: Some(3), ..Query::default() };
    // no noise: the composite itself (through the generic path of the rules, as for noisy inputs)
    let plain = ex.explain(&model, &x, &eps, &q).unwrap().clone();
    let quiet = ex.explain(&model, &x, &smoothgrad(3, 1e-9, 0, eps.clone()), &q).unwrap().clone();
    assert_close(&quiet.heatmap, &plain.heatmap, 1e-4 * max_abs(&plain.heatmap), "SmoothGrad of EpsilonPlus without noise");
    // LRP-0 equals Gradient x Input at every noisy copy, so their smoothed maps agree
    let l0 = Method::from_name("smoothgrad:lrp-0", &model, &p).unwrap();
    let gxi = Method::from_name("smoothgrad:gradient-x-input", &model, &p).unwrap();
    let a = ex.explain(&model, &x, &l0, &q).unwrap().clone();
    let b = ex.explain(&model, &x, &gxi, &q).unwrap().clone();
    assert_eq!(a.explained, plain.logits[3], "a wrapper explains the logit at the input");
    assert_ne!(a.heatmap, plain.heatmap);
    assert_close(&a.heatmap, &b.heatmap, 1e-4 * max_abs(&b.heatmap), "smoothed LRP-0 vs smoothed GxI");
    // normalized LRP: every noisy copy starts from 1 and conserves it (no biases), so the mean does too
    let zp = Method::from_name("smoothgrad:lrp-zplus", &model, &p).unwrap();
    let n = ex.explain(&model, &x, &zp, &Query { normalize: true, ..q }).unwrap();
    assert_eq!(n.explained, 1.0);
    assert!((n.total() - 1.0).abs() < 1e-4, "sum {}", n.total());
}

#[test]
fn noisy_inputs_take_the_rules_for_inputs_of_either_sign() {
    // The stage of `model` maps pixels to [0, 1], so its first layer's rules drop negative-input terms;
    // SmoothGrad's noisy copies go below 0, so they must take the rules for signed inputs. `signed` is
    // the same network with a stage that is not non-negative (a shift of -1e-30, lost in rounding):
    // both must give the same smoothed z+ map, and it differs from one that wrongly drops the terms.
    let model = tiny_cnn(11, true);
    let signed = Model::graph(
        InputStage::mnist(1.0, -1e-30, 0, 0.0),
        model.layers().to_vec(),
        (0..model.layers().len()).map(|k| model.inputs(k).to_vec()).collect(),
        model.meta().clone(),
    )
    .unwrap();
    let x = random_pixels(6);
    let q = Query { target: Some(2), ..Query::default() };
    let m = |model: &Model| Method::from_name("smoothgrad:lrp-zplus", model, &Params { samples: 4, sigma: 0.5, ..Params::default() }).unwrap();
    let a = Explainer::new(&model).explain(&model, &x, &m(&model), &q).unwrap().heatmap.clone();
    let b = Explainer::new(&signed).explain(&signed, &x, &m(&signed), &q).unwrap().heatmap.clone();
    let scale = max_abs(&b);
    assert!(scale > 0.0);
    assert_close(&a, &b, 1e-5 * scale, "smoothed z+ on an exact and a signed stage");
}

#[test]
fn wrappers_nest_and_their_passes_are_bounded() {
    let model = tiny_mlp(3, true);
    let p = Params { steps: 3, samples: 2, sigma: 0.1, ..Params::default() };
    let m = Method::from_name("smoothgrad:integrated-gradients:epsilon-plus", &model, &p).unwrap();
    assert_eq!(m.passes(), 6);
    assert!(matches!(m.innermost(), Method::Lrp(_)));
    let e = Explainer::new(&model).explain(&model, &random_pixels(2), &m, &Query::default()).unwrap().clone();
    assert!(e.heatmap.iter().all(|v| v.is_finite()) && e.heatmap.iter().any(|&v| v != 0.0));
    let big = Params { steps: 4096, samples: 4096, ..Params::default() };
    assert!(matches!(Method::from_name("smoothgrad:integrated-gradients", &model, &big), Err(LrpError::InvalidParameter(_))));
    assert!(matches!(Method::from_name("gradient:lrp-0", &model, &p), Err(LrpError::InvalidParameter(_))), "gradient wraps nothing");
    assert!(matches!(Method::from_name("smoothgrad:nope", &model, &p), Err(LrpError::InvalidParameter(_))));
    assert!(matches!(Method::from_name("smoothgrad:", &model, &p), Err(LrpError::InvalidParameter(_))));
}

#[test]
fn every_layer_relevance_has_the_layer_shape() {
    let model = tiny_cnn(8, true);
    let mut ex = Explainer::new(&model);
    let m = Method::from_name("epsilon-plus", &model, &Params::default()).unwrap();
    let e = ex.explain(&model, &random_pixels(1), &m, &Query::default()).unwrap().clone();
    for (i, s) in model.shapes().iter().enumerate() {
        let r = ex.layer_relevance(i).unwrap();
        assert_eq!(r.len(), s.len());
        if i < model.layers().len() {
            assert!((r.iter().sum::<f32>() - e.layers[i].relevance_in).abs() < 1e-5);
        }
    }
}

#[test]
fn padding_relevance_is_reported_and_gradients_are_taken_after_the_input_stage() {
    // a toolbox-style input stage: pixels to [-1, 1], padded by 2 with -1
    let stage = InputStage::mnist(2.0, -1.0, 2, -1.0);
    let layers = vec![Layer::Flatten, Layer::Dense(Dense { weight: Array2::from_elem((10, 32 * 32), 0.01), bias: Array1::zeros(10) })];
    let model = Model::new(stage, layers, ModelMeta::digits("padded")).unwrap();
    let mut ex = Explainer::new(&model);
    let x = random_pixels(2);
    let m = Method::from_name("lrp-0", &model, &Params::default()).unwrap();
    let e = ex.explain(&model, &x, &m, &Query::default()).unwrap();
    // 32*32 - 28*28 = 240 padding values of -1 with weight 0.01
    assert!((e.padding - (-0.01 * 240.0)).abs() < 1e-4, "padding {}", e.padding);
    assert!((e.total() + e.padding - e.logits[e.target]).abs() < 1e-4);
    // gradient x input uses the normalized input: pixel 0 maps to -1
    let g = ex.explain(&model, &vec![0.0; 784], &Method::GradientXInput, &Query { target: Some(0), ..Default::default() }).unwrap();
    assert!((g.heatmap[0] - (-0.01)).abs() < 1e-7);
    // max-pool based net from the toolbox stage still conserves under LRP-0 with no bias: covered above
    let _ = Pool::new([2, 2], [2, 2]);
}

fn occlusion(patch: usize, stride: usize) -> Method {
    Method::Occlusion { patch, stride }
}

/// A linear model on normalised pixels: f(x) = W (scale x + shift) + b.
fn linear_model(seed: u64) -> Model {
    let mut r = <rand_pcg::Pcg64Mcg as rand::SeedableRng>::seed_from_u64(seed);
    let layers = vec![Layer::Flatten, lrp::testing::dense(&mut r, 784, 10, true)];
    Model::new(InputStage::mnist(1.0 / 0.3081, -0.1307 / 0.3081, 0, 0.0), layers, ModelMeta::digits("linear")).unwrap()
}

#[test]
fn occlusion_of_a_linear_model_is_each_patch_total_of_integrated_gradients() {
    // blanking patch P drops a linear logit by sum_{i in P} w_i scale x_i: Integrated Gradients' share
    // of each pixel, exactly (from the blank canvas, at any number of steps)
    let model = linear_model(4);
    let mut ex = Explainer::new(&model);
    let x = random_pixels(3);
    let q = Query { target: Some(1), ..Default::default() };
    let ig = ex
        .explain(&model, &x, &Method::from_name("integrated-gradients", &model, &Params { steps: 3, ..Params::default() }).unwrap(), &q)
        .unwrap()
        .heatmap
        .clone();
    let one = ex.explain(&model, &x, &occlusion(1, 1), &q).unwrap().heatmap.clone();
    assert_close(&one, &ig, 1e-4, "patch 1: occlusion = IG");
    // 2x2 patches that tile the image: every pixel gets its patch's total
    let tiled = ex.explain(&model, &x, &occlusion(2, 2), &q).unwrap().heatmap.clone();
    for y in 0..28 {
        for xx in 0..28 {
            let (y0, x0) = (y / 2 * 2, xx / 2 * 2);
            let total: f32 = [(0, 0), (0, 1), (1, 0), (1, 1)].iter().map(|(dy, dx)| ig[(y0 + dy) * 28 + x0 + dx]).sum();
            assert!((tiled[y * 28 + xx] - total).abs() <= 1e-4 * (1.0 + total.abs()), "pixel ({y}, {xx}): {} vs {total}", tiled[y * 28 + xx]);
        }
    }
}

#[test]
fn occlusion_is_the_mean_drop_over_the_patches_that_cover_a_pixel() {
    // an oracle by brute force: every patch position run through `predict`
    for model in nets(true) {
        let mut ex = Explainer::new(&model);
        let x = random_pixels(8);
        for (patch, stride) in [(5, 4), (3, 2), (7, 7)] {
            let e = ex.explain(&model, &x, &occlusion(patch, stride), &Query::default()).unwrap().clone();
            let c = e.target;
            let f0 = e.logits[c];
            let n = (28 - patch) / stride + 1;
            let (mut sum, mut count) = (vec![0.0f64; 784], vec![0usize; 784]);
            for py in 0..n {
                for px in 0..n {
                    let mut xo = x.clone();
                    let cover: Vec<usize> = (0..patch).flat_map(|dy| (0..patch).map(move |dx| (py * stride + dy) * 28 + px * stride + dx)).collect();
                    cover.iter().for_each(|&i| xo[i] = 0.0);
                    let drop = (f0 - ex.predict(&model, &xo).unwrap().logits[c]) as f64;
                    for &i in &cover {
                        sum[i] += drop;
                        count[i] += 1;
                    }
                }
            }
            let oracle: Vec<f32> = sum.iter().zip(&count).map(|(s, &k)| if k == 0 { 0.0 } else { (s / k as f64) as f32 }).collect();
            assert_close(&e.heatmap, &oracle, 1e-4, &format!("{} patch {patch} stride {stride}", model.meta().name));
            // patch 5, stride 4 covers columns 0..24 only: the last three get exactly 0
            if (patch, stride) == (5, 4) {
                assert!((0..28).all(|y| (25..28).all(|xx| e.heatmap[y * 28 + xx] == 0.0)));
                assert!(e.heatmap.iter().any(|&v| v != 0.0));
            }
            // an explanation leaves the forward pass at the input
            assert_eq!(ex.predict(&model, &x).unwrap().logits[c], f0);
        }
    }
}

#[test]
fn occlusion_validates_its_patch_and_blanks_every_channel() {
    let model = tiny_cnn(1, true);
    let d = Params::default();
    for (patch, stride) in [(0, 2), (29, 1), (4, 0), (4, 29)] {
        assert!(
            matches!(Method::from_name("occlusion", &model, &Params { patch, stride, ..d }), Err(LrpError::InvalidParameter(_))),
            "patch {patch} stride {stride}"
        );
    }
    assert!(Method::from_name("occlusion", &model, &Params { patch: 28, stride: 1, ..d }).is_ok());
    // a 3-channel input: the patch blanks all three channels at once, so the three maps are equal
    let net = lrp::testing::residual_net(2, true, false);
    let mut ex = Explainer::new(&net);
    let x: Vec<f32> = (0..net.input_len()).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
    let e = ex.explain(&net, &x, &occlusion(3, 2), &Query::default()).unwrap();
    let plane = 11 * 11;
    assert!(e.heatmap[..plane].iter().any(|&v| v != 0.0));
    assert_eq!(&e.heatmap[..plane], &e.heatmap[plane..2 * plane]);
    assert_eq!(&e.heatmap[..plane], &e.heatmap[2 * plane..]);
}

#[test]
fn conditional_heatmaps_of_all_channels_add_up_to_the_heatmap() {
    // Concept Relevance Propagation: the rules are linear in the relevance from above, so the heatmaps
    // of the relevance through each channel of a value sum to the whole heatmap
    for bias in [false, true] {
        let model = tiny_cnn(2, bias);
        let mut ex = Explainer::new(&model);
        let x = random_pixels(5);
        let q = Query::default();
        for name in ["epsilon-plus", "lrp-0", "epsilon-gamma-box"] {
            let m = Method::from_name(name, &model, &Params::default()).unwrap();
            let full = ex.explain(&model, &x, &m, &q).unwrap().clone();
            for value in 1..model.shapes().len() {
                let channels = model.shapes()[value].c;
                let mut sum = vec![0.0f32; 784];
                for c in 0..channels {
                    let e = ex.explain_conditional(&model, &x, &m, &q, value, c).unwrap();
                    sum.iter_mut().zip(&e.heatmap).for_each(|(s, v)| *s += v);
                }
                assert_close(&sum, &full.heatmap, 1e-4, &format!("{name}, bias {bias}, value {value} ({channels} channels)"));
            }
            // and nothing is left behind: the plain explanation is the same as before
            assert_eq!(ex.explain(&model, &x, &m, &q).unwrap().heatmap, full.heatmap);
        }
    }
}

#[test]
fn a_conditional_heatmap_conserves_its_channels_relevance_under_bias_free_lrp0() {
    let model = tiny_cnn(3, false);
    let mut ex = Explainer::new(&model);
    let x = random_pixels(6);
    let m = Method::from_name("lrp-0", &model, &Params::default()).unwrap();
    ex.explain(&model, &x, &m, &Query::default()).unwrap();
    // value 2: the first convolution's ReLU output, 4 channels of 24 x 24
    let plane = model.shapes()[2].h * model.shapes()[2].w;
    let per_channel: Vec<f32> = ex.layer_relevance(2).unwrap().chunks(plane).map(|c| c.iter().sum()).collect();
    for (c, &r) in per_channel.iter().enumerate() {
        let e = ex.explain_conditional(&model, &x, &m, &Query::default(), 2, c).unwrap();
        assert!((e.total() - r).abs() <= 1e-4 * (1.0 + r.abs()), "channel {c}: heatmap {} vs channel relevance {r}", e.total());
    }
    assert!(per_channel.iter().filter(|r| r.abs() > 1e-3).count() >= 2, "several channels carry relevance");
    // refused: a gradient method, the input, a channel that does not exist
    let g = Method::from_name("gradient", &model, &Params::default()).unwrap();
    assert!(matches!(ex.explain_conditional(&model, &x, &g, &Query::default(), 2, 0), Err(LrpError::InvalidParameter(_))));
    assert!(matches!(ex.explain_conditional(&model, &x, &m, &Query::default(), 0, 0), Err(LrpError::InvalidParameter(_))));
    assert!(matches!(ex.explain_conditional(&model, &x, &m, &Query::default(), 2, 4), Err(LrpError::InvalidParameter(_))));
    assert!(ex.explain_conditional(&model, &x, &m, &Query::default(), model.shapes().len(), 0).is_err());
}
