//! Properties on random residual graphs (stride-2 "SAME" convolution, BatchNorm folded at load,
//! depthwise separable block with an `add`, a concatenated branch, max- or global average pooling,
//! a normalised 3-channel input), and the model file's graph round trip.
#![cfg(not(target_arch = "wasm32"))]

use lrp::model::{Conv2d, Layer, ModelMeta, NodeOp, NodeSpec};
use lrp::testing::{residual_nodes, residual_stage};
use lrp::{Explainer, Method, Model, Params, Query, METHODS};
use ndarray::{Array1, Array4};
use rand::{Rng, SeedableRng};

const SEEDS: std::ops::Range<u64> = 0..8;

fn meta() -> ModelMeta {
    let mut m = ModelMeta::digits("residual");
    m.classes.truncate(5);
    m
}

fn net(seed: u64, bias: bool, relu6: bool) -> Model {
    Model::from_nodes(residual_stage(), residual_nodes(seed, bias, relu6), meta()).unwrap()
}

fn input(seed: u64) -> Vec<f32> {
    let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(seed + 1000);
    (0..3 * 11 * 11).map(|_| r.gen_range(0.0..1.0)).collect()
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0f32, |m, x| m.max(x.abs()))
}

#[test]
fn the_random_graphs_are_graphs() {
    let m = net(0, true, false);
    assert!(!m.is_chain());
    // BatchNorm folded: two fewer nodes than the file lists
    assert_eq!(m.layers().len(), residual_nodes(0, true, false).len() - 2);
    assert!(m.layers().iter().any(|l| matches!(l, Layer::Add)) && m.layers().iter().any(|l| matches!(l, Layer::Concat)));
    assert!(m.layers().iter().any(|l| matches!(l, Layer::Conv2d(c) if c.groups > 1 && c.groups == c.weight.dim().0)));
    assert_eq!(m.input_len(), 3 * 11 * 11);
}

#[test]
fn lrp0_equals_gradient_times_input_on_residual_relu_graphs() {
    for bias in [false, true] {
        for seed in SEEDS {
            let model = net(seed, bias, false);
            let mut ex = Explainer::new(&model);
            let x = input(seed);
            let l0 = Method::from_name("lrp-0", &model, &Params::default()).unwrap();
            for target in [None, Some(1)] {
                let q = Query { target, ..Default::default() };
                let a = ex.explain(&model, &x, &l0, &q).unwrap().heatmap.clone();
                let b = ex.explain(&model, &x, &Method::GradientXInput, &q).unwrap().heatmap.clone();
                assert_eq!(a.len(), b.len());
                let scale = max_abs(&b).max(1e-6);
                for (i, (u, v)) in a.iter().zip(&b).enumerate() {
                    assert!((u - v).abs() <= 1e-4 * scale, "seed {seed} bias={bias} input {i}: LRP-0 {u} vs GxI {v}");
                }
            }
        }
    }
}

#[test]
fn lrp0_without_biases_conserves_the_logit_through_add_and_concat() {
    for seed in SEEDS {
        let model = net(seed, false, true);
        let mut ex = Explainer::new(&model);
        let l0 = Method::from_name("lrp-0", &model, &Params::default()).unwrap();
        let e = ex.explain(&model, &input(seed), &l0, &Query::default()).unwrap();
        let logit = e.logits[e.target];
        assert!(logit.abs() > 1e-3, "seed {seed}: a logit of {logit} says little");
        assert!((e.total() - logit).abs() <= 1e-4 * logit.abs().max(1.0), "seed {seed}: sum R {} vs logit {logit}", e.total());
        // every node passes on what it received (the add node too)
        for (k, t) in e.layers.iter().enumerate() {
            let tol = 1e-4 * t.relevance_out.abs().max(1e-3);
            assert!((t.relevance_in - t.relevance_out).abs() <= tol, "seed {seed} node {k} ({}): {} in vs {} out", t.kind, t.relevance_in, t.relevance_out);
        }
    }
}

/// The nodes with every BatchNorm replaced by the same affine map as its own node: a depthwise 1x1
/// convolution with weight `gamma / sqrt(var + eps)` and bias `beta - mean * that`.
fn batchnorm_as_its_own_layer(nodes: Vec<NodeSpec>) -> Vec<NodeSpec> {
    nodes
        .into_iter()
        .map(|n| match n.op {
            NodeOp::BatchNorm(bn) => {
                let (scale, shift) = bn.affine();
                let c = scale.len();
                let mut conv = Conv2d::new(Array4::from_shape_vec((c, 1, 1, 1), scale).unwrap(), Array1::from(shift), [1, 1], 0);
                conv.groups = c;
                NodeSpec { op: NodeOp::Layer(Layer::Conv2d(conv)), inputs: n.inputs }
            }
            op => NodeSpec { op, inputs: n.inputs },
        })
        .collect()
}

#[test]
fn batchnorm_folded_gives_the_logits_of_batchnorm_applied() {
    for seed in SEEDS {
        let folded = net(seed, true, true);
        let applied = Model::from_nodes(residual_stage(), batchnorm_as_its_own_layer(residual_nodes(seed, true, true)), meta()).unwrap();
        assert_eq!(applied.layers().len(), folded.layers().len() + 2);
        let x = input(seed);
        let a = Explainer::new(&folded).predict(&folded, &x).unwrap().logits.clone();
        let b = Explainer::new(&applied).predict(&applied, &x).unwrap().logits.clone();
        assert_eq!(a.len(), b.len());
        let scale = max_abs(&b).max(1e-3);
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() <= 1e-5 * scale, "seed {seed}: folded {u} vs applied {v}");
        }
    }
}

#[test]
fn batchnorm_that_cannot_be_folded_is_a_clear_error_naming_the_node() {
    let mut nodes = residual_nodes(0, true, false);
    // BatchNorm after the add: its input is not a convolution's output
    let bn = nodes[1].clone();
    nodes.insert(10, NodeSpec { op: bn.op, inputs: vec![10] });
    for n in &mut nodes[11..] {
        n.inputs.iter_mut().filter(|v| **v >= 10).for_each(|v| *v += 1);
    }
    let e = Model::from_nodes(residual_stage(), nodes, meta()).unwrap_err().to_string();
    assert!(e.contains("node 10 (batchnorm) cannot be folded") && e.contains("add"), "{e}");
    // BatchNorm on a convolution output another node also reads
    let mut nodes = residual_nodes(0, true, false);
    nodes[9].inputs = vec![9, 1]; // the residual add reads the stem convolution before its BatchNorm
    let e = Model::from_nodes(residual_stage(), nodes, meta()).unwrap_err().to_string();
    assert!(e.contains("(batchnorm) cannot be folded") && e.contains("also read by 1 other node"), "{e}");
}

#[test]
fn every_method_is_finite_on_every_random_graph() {
    let (mut built, mut tried) = (0, 0);
    for seed in SEEDS {
        for (bias, relu6) in [(false, false), (true, true)] {
            let model = net(seed, bias, relu6);
            let mut ex = Explainer::new(&model);
            let x = input(seed);
            // every method but lrp-lstm (it needs an LSTM)
            for name in lrp::registry::names().filter(|n| *n != "lrp-lstm") {
                tried += 1;
                let m = Method::from_name(name, &model, &Params { steps: 4, samples: 3, ..Params::default() }).unwrap();
                built += 1;
                for q in [Query::default(), Query { target: Some(2), contrast: Some(0), normalize: false }] {
                    let e = ex.explain(&model, &x, &m, &q).unwrap();
                    assert_eq!(e.heatmap.len(), 3 * 11 * 11);
                    assert!(e.heatmap.iter().all(|v| v.is_finite()), "seed {seed} {name}: a non-finite heatmap");
                }
            }
        }
    }
    assert_eq!(built, tried);
    assert_eq!(tried, SEEDS.count() * 2 * (METHODS.len() - 1));
}

#[test]
fn a_graph_saves_and_loads_back_with_the_same_results() {
    let model = net(3, true, true);
    let back = Model::try_from(model.to_safetensors().unwrap().as_slice()).unwrap();
    assert!(!back.is_chain());
    for k in 0..model.layers().len() {
        assert_eq!(model.inputs(k), back.inputs(k));
    }
    assert_eq!(model.layers(), back.layers());
    assert_eq!(model.input_stage(), back.input_stage());
    let x = input(3);
    let m = Method::from_name("epsilon-gamma-box", &model, &Params::default()).unwrap();
    let a = Explainer::new(&model).explain(&model, &x, &m, &Query::default()).unwrap().clone();
    let m2 = Method::from_name("epsilon-gamma-box", &back, &Params::default()).unwrap();
    let b = Explainer::new(&back).explain(&back, &x, &m2, &Query::default()).unwrap().clone();
    assert_eq!(a.heatmap, b.heatmap);
}

fn digits_meta(classes: usize) -> ModelMeta {
    let mut m = ModelMeta::digits("bad");
    m.classes = (0..classes).map(|c| c.to_string()).collect();
    m
}

fn dense(i: usize, o: usize) -> Layer {
    Layer::Dense(lrp::model::Dense { weight: ndarray::Array2::from_elem((o, i), 0.1), bias: Array1::zeros(o) })
}

#[test]
fn graphs_too_large_or_malformed_are_errors_not_panics() {
    let err = |layers: Vec<Layer>, inputs: Vec<Vec<usize>>, classes: usize| {
        Model::graph(lrp::model::InputStage::default(), layers, inputs, digits_meta(classes)).unwrap_err().to_string()
    };
    let chain = |n: usize| (0..n).map(|k| vec![k]).collect::<Vec<_>>();
    // global average pooling over a map taller than any window
    let mut tall = Conv2d::new(Array4::from_elem((1, 1, 1, 1), 1.0), Array1::zeros(1), [1, 1], 0);
    tall.padding = [4096, 0, 0, 0];
    let e = err(vec![Layer::Conv2d(tall), Layer::GlobalAvgPool, Layer::Flatten, dense(1, 2)], chain(4), 2);
    assert!(e.contains("layer 1 (globalavgpool)"), "{e}");
    // a kernel whose input patches would not fit in memory
    let mut huge = Conv2d::new(Array4::from_elem((1, 1, 1000, 1000), 1e-6), Array1::zeros(1), [1, 1], 0);
    huge.padding = [1000; 4];
    let e = err(vec![Layer::Conv2d(huge), Layer::Flatten, dense(1029 * 1029, 2)], chain(3), 2);
    assert!(e.contains("input patches"), "{e}");
    // a depthwise convolution with a small im2col whose padded input would not fit in memory
    let mut padded = Conv2d::new(Array4::from_elem((2, 1, 1, 1), 1.0), Array1::zeros(2), [4096, 4096], 0);
    (padded.padding, padded.groups) = ([4096; 4], 2);
    let e = err(
        vec![Layer::Relu, Layer::Concat, Layer::Conv2d(padded), Layer::Flatten, dense(2 * 3 * 3, 2)],
        vec![vec![0], vec![1, 1], vec![2], vec![3], vec![4]],
        2,
    );
    assert!(e.contains("layer 2 (conv2d)") && e.contains("input patches"), "{e}");
    // a node that reads a value computed after it, one that reads too many, an output nobody reads
    let e = err(vec![Layer::Relu, Layer::Add, Layer::Flatten, dense(784, 2)], vec![vec![0], vec![1, 3], vec![2], vec![3]], 2);
    assert!(e.contains("reads value 3, which is not computed before it"), "{e}");
    let e = err(vec![Layer::Relu, Layer::Concat, Layer::Flatten, dense(784 * 300, 2)], vec![vec![0], vec![1; 300], vec![2], vec![3]], 2);
    assert!(e.contains("reads 300 values (limit 256)"), "{e}");
    let e = err(vec![Layer::Relu, Layer::Flatten, dense(784, 2)], vec![vec![0], vec![0], vec![2]], 2);
    assert!(e.contains("the output of layer 0 (relu) is never used"), "{e}");
    // a trailing identity that passes on an earlier value instead of the logits
    let nodes = vec![
        NodeSpec { op: NodeOp::Layer(Layer::Flatten), inputs: vec![0] },
        NodeSpec { op: NodeOp::Layer(dense(784, 2)), inputs: vec![1] },
        NodeSpec { op: NodeOp::Layer(Layer::Relu), inputs: vec![2] },
        NodeSpec { op: NodeOp::Identity, inputs: vec![2] },
    ];
    let e = Model::from_nodes(lrp::model::InputStage::default(), nodes, digits_meta(2)).unwrap_err().to_string();
    assert!(e.contains("the last node (identity) passes on value 2"), "{e}");
}
