//! Tiny cases computed by hand, exact numbers in the comments.
#![cfg(not(target_arch = "wasm32"))]

use lrp::model::{Conv2d, Dense, InputStage, Layer, Model, ModelMeta, Pool, Shape};
use lrp::testing::rule_step;
use lrp::{Explainer, Method, Params, Query, Rule};
use ndarray::{Array1, Array2, Array4};

/// One neuron, two inputs: x = (1, 2), w = (2, -1), b = 0.5, so z = 2 - 2 + 0.5 = 0.5; R_out = 1.
fn one_neuron(rule: Rule) -> Vec<f32> {
    let layer = Layer::Dense(Dense { weight: Array2::from_shape_vec((1, 2), vec![2.0, -1.0]).unwrap(), bias: Array1::from(vec![0.5]) });
    rule_step(&layer, Shape::new(2, 1, 1), rule, true, &[1.0, 2.0], &[1.0], (&[0.0, 0.0], &[2.0, 2.0]))
}

/// A model named `name` with the digits' input and two classes (the last layer has two outputs).
fn two_classes(name: &str, layers: Vec<Layer>) -> Model {
    let mut meta = ModelMeta::digits(name);
    meta.classes.truncate(2);
    Model::new(InputStage::default(), layers, meta).unwrap()
}

#[track_caller]
fn close(got: &[f32], want: &[f32]) {
    lrp::testing::assert_close(got, want, 1e-6, &format!("got {got:?}, want {want:?}"));
}

#[test]
fn lrp0() {
    // R_j = x_j w_j / z: (2 / 0.5, -2 / 0.5) = (4, -4); the bias absorbed 0.5 / 0.5 = 1 of R = 1.
    close(&one_neuron(Rule::Zero), &[4.0, -4.0]);
}

#[test]
fn epsilon() {
    // z + eps = 0.5 + 0.5 = 1: (2, -2)
    close(&one_neuron(Rule::Epsilon { epsilon: 0.5 }), &[2.0, -2.0]);
}

#[test]
fn zplus() {
    // positive contributions: 2 (input 0) and the bias 0.5: z+ = 2.5, R = (2 / 2.5, 0) = (0.8, 0)
    close(&one_neuron(Rule::ZPlus), &[0.8, 0.0]);
}

#[test]
fn alpha2_beta1() {
    // positive part as z+: (0.8, 0) times alpha 2 = (1.6, 0);
    // negative part: z- = -2 (b- = 0), input 1 gets -2 / -2 = 1, times -beta = -1.  R = (1.6, -1).
    close(&one_neuron(Rule::AlphaBeta { alpha: 2.0, beta: 1.0 }), &[1.6, -1.0]);
}

#[test]
fn gamma() {
    // gamma 0.5: w' = (2 + 1, -1) = (3, -1), b' = 0.5 + 0.25 = 0.75, z = 3 - 2 + 0.75 = 1.75
    // R = (3 / 1.75, -2 / 1.75) = (12/7, -8/7)
    close(&one_neuron(Rule::Gamma { gamma: 0.5 }), &[12.0 / 7.0, -8.0 / 7.0]);
}

#[test]
fn wsquare() {
    // w^2 = (4, 1), sum 5: (0.8, 0.2)
    close(&one_neuron(Rule::WSquare), &[0.8, 0.2]);
}

#[test]
fn flat() {
    close(&one_neuron(Rule::Flat), &[0.5, 0.5]);
}

#[test]
fn zbox() {
    // l = 0, h = 2: input 0: 1*2 - 0*2 - 2*0 = 2; input 1: 2*(-1) - 0*0 - 2*(-1) = 0; z = 2.  R = (1, 0)
    close(&one_neuron(Rule::ZBox), &[1.0, 0.0]);
}

#[test]
fn max_pool_splits_ties_equally() {
    // 28x28 input pooled by 14x14 windows into 2x2; class 0 reads window 0, class 1 window 1.
    // Window 0 holds two pixels of 0.5 (a tie), so logit 0 = 0.5 and each tied pixel gets 0.25 under
    // LRP-0, and gradient 0.5 each (the gradient is split like the relevance).
    let mut w = Array2::zeros((2, 4));
    w[[0, 0]] = 1.0;
    w[[1, 1]] = 1.0;
    let layers = vec![Layer::MaxPool2d(Pool::new([14, 14], [14, 14])), Layer::Flatten, Layer::Dense(Dense { weight: w, bias: Array1::zeros(2) })];
    let model = two_classes("pool", layers);
    let mut x = vec![0.0f32; 784];
    x[3 * 28 + 4] = 0.5;
    x[10 * 28 + 1] = 0.5;
    x[2 * 28 + 20] = 0.2; // window 1
    let mut ex = Explainer::new(&model);
    let e = ex.explain(&model, &x, &Method::from_name("lrp-0", &model, &Params::default()).unwrap(), &Query::default()).unwrap();
    assert_eq!(e.prediction, 0);
    assert_eq!(e.logits, vec![0.5, 0.2]);
    assert!((e.heatmap[3 * 28 + 4] - 0.25).abs() < 1e-7);
    assert!((e.heatmap[10 * 28 + 1] - 0.25).abs() < 1e-7);
    assert_eq!(e.heatmap.iter().filter(|&&v| v != 0.0).count(), 2);
    let g = ex.explain(&model, &x, &Method::Gradient, &Query::default()).unwrap();
    assert_eq!(g.heatmap[3 * 28 + 4], 0.5);
    assert_eq!(g.heatmap[10 * 28 + 1], 0.5);
}

#[test]
fn two_by_two_max_pool_on_an_odd_size_matches_brute_force() {
    // a 2x2 convolution that copies its top-left tap turns the 28x28 input into its 27x27 corner; a
    // 2x2 pool of that is 13x13 (row and column 26 are in no window). Logit 0 = sum_j w_j * max(window j).
    let mut k = Array4::zeros((1, 1, 2, 2));
    k[[0, 0, 0, 0]] = 1.0;
    let weights: Vec<f32> = (0..169).map(|j| ((j * 37) % 23) as f32 / 8.0 - 1.375).collect();
    let mut w = Array2::zeros((2, 169));
    w.row_mut(0).assign(&Array1::from(weights.clone()));
    let layers = vec![
        Layer::Conv2d(Conv2d::new(k, Array1::zeros(1), [1, 1], 0)),
        Layer::MaxPool2d(Pool::new([2, 2], [2, 2])),
        Layer::Flatten,
        Layer::Dense(Dense { weight: w, bias: Array1::zeros(2) }),
    ];
    let model = two_classes("odd-pool", layers);
    // quarter steps: every product and sum below is exact in f32; a few windows hold ties
    let x: Vec<f32> = (0..784).map(|i| ((i * 7919) % 5) as f32 / 4.0).collect();
    let (mut logit, mut grad) = (0.0f32, vec![0.0f32; 784]);
    for (j, &wj) in weights.iter().enumerate() {
        let (oy, ox) = (j / 13, j % 13);
        let window = [0, 1, 28, 29].map(|d| (2 * oy) * 28 + 2 * ox + d);
        let m = window.iter().map(|&i| x[i]).fold(f32::MIN, f32::max);
        let ties = window.iter().filter(|&&i| x[i] == m).count() as f32;
        logit += wj * m;
        window.iter().filter(|&&i| x[i] == m).for_each(|&i| grad[i] = wj / ties);
    }
    let mut ex = Explainer::new(&model);
    let g = ex.explain(&model, &x, &Method::Gradient, &Query { target: Some(0), ..Default::default() }).unwrap();
    assert_eq!(g.logits[0], logit);
    assert_eq!(g.heatmap, grad);
    assert!((0..28).all(|i| g.heatmap[26 * 28 + i] == 0.0 && g.heatmap[i * 28 + 26] == 0.0 && g.heatmap[i * 28 + 27] == 0.0));
}

#[test]
fn sensitivity_sums_to_the_squared_gradient_norm() {
    // a linear model: logit 0 = sum of the first row's weights times pixels; gradient = that row.
    let mut w = Array2::zeros((2, 784));
    w[[0, 0]] = 3.0;
    w[[0, 1]] = -4.0;
    let layers = vec![Layer::Flatten, Layer::Dense(Dense { weight: w, bias: Array1::zeros(2) })];
    let model = two_classes("linear", layers);
    let mut ex = Explainer::new(&model);
    let e = ex.explain(&model, &[0.0; 784], &Method::Sensitivity, &Query { target: Some(0), ..Default::default() }).unwrap();
    // 3^2 + 4^2 = 25
    assert_eq!(e.total(), 25.0);
    assert_eq!(e.heatmap[1], 16.0);
}

#[test]
fn two_by_two_max_pool_splits_ties_equally() {
    // the 2x2 fast path: window (0, 0) holds 0.5 twice and 0.25 once; class 0 reads pooled value 0.
    let mut w = Array2::zeros((2, 196));
    w[[0, 0]] = 2.0;
    w[[1, 1]] = 1.0;
    let layers = vec![Layer::MaxPool2d(Pool::new([2, 2], [2, 2])), Layer::Flatten, Layer::Dense(Dense { weight: w, bias: Array1::zeros(2) })];
    let model = two_classes("pool2", layers);
    let mut x = vec![0.0f32; 784];
    x[0] = 0.5;
    x[29] = 0.5;
    x[28] = 0.25;
    let mut ex = Explainer::new(&model);
    // logit 0 = 2 * 0.5 = 1; LRP-0 gives 0.5 to each tied pixel, the gradient 2 / 2 = 1 to each
    let e = ex.explain(&model, &x, &Method::from_name("lrp-0", &model, &Params::default()).unwrap(), &Query { target: Some(0), ..Default::default() }).unwrap();
    assert_eq!((e.heatmap[0], e.heatmap[29], e.heatmap[28], e.heatmap[1]), (0.5, 0.5, 0.0, 0.0));
    let g = ex.explain(&model, &x, &Method::Gradient, &Query { target: Some(0), ..Default::default() }).unwrap();
    assert_eq!((g.heatmap[0], g.heatmap[29], g.heatmap[28], g.heatmap[1]), (1.0, 1.0, 0.0, 0.0));
    // an all-zero window splits the gradient four ways
    let g = ex.explain(&model, &x, &Method::Gradient, &Query { target: Some(1), ..Default::default() }).unwrap();
    assert_eq!((g.heatmap[2], g.heatmap[3], g.heatmap[30], g.heatmap[31]), (0.25, 0.25, 0.25, 0.25));
}
