//! Property-based tests: no public function panics, whatever the shapes, parameters, bytes or text.
#![cfg(not(target_arch = "wasm32"))]

use lrp::model::{import_toolbox, Conv2d, Dense, InputStage, Layer, Model, ModelMeta, Pool, Shape, ToolboxOptions};
use lrp::testing::tiny_cnn;
use lrp::{Explainer, Method, Params, Query, RuleParams, METHODS};
use ndarray::{Array1, Array2, Array4};
use proptest::prelude::*;

fn arb_layer() -> impl Strategy<Value = Layer> {
    prop_oneof![
        (1usize..40, 1usize..40, -2.0f32..2.0)
            .prop_map(|(i, o, v)| Layer::Dense(Dense { weight: Array2::from_elem((o, i), v), bias: Array1::from_elem(o, v) })),
        (1usize..4, 1usize..4, 1usize..7, 1usize..7, 1usize..4, 0usize..3, -1.0f32..1.0).prop_map(|(ic, oc, kh, kw, s, p, v)| Layer::Conv2d(Conv2d::new(
            Array4::from_elem((oc, ic, kh, kw), v),
            Array1::from_elem(oc, v),
            [s, s],
            p
        ))),
        Just(Layer::Relu),
        Just(Layer::Tanh),
        Just(Layer::Flatten),
        (0usize..5, 0usize..4).prop_map(|(k, s)| Layer::MaxPool2d(Pool::new([k, k], [s, s]))),
        (0usize..5, 0usize..4).prop_map(|(k, s)| Layer::AvgPool2d(Pool::new([k, k], [s, s]))),
        (0usize..5, 0usize..4, -2.0f32..2.0).prop_map(|(k, s, f)| Layer::SumPool2d(Pool::new([k, k], [s, s]), f)),
        // the graph engine's layers: grouped, dilated, asymmetrically padded convolutions (groups that
        // may not divide), clamp (bounds that may be reversed), padded average pooling, global pooling
        (1usize..4, 1usize..5, 1usize..4, 1usize..3, 0usize..3, 0usize..4, 1usize..3, -1.0f32..1.0).prop_map(|(g, oc, k, s, p, q, d, v)| {
            let mut c = Conv2d::new(Array4::from_elem((oc * g, 1 + (v > 0.0) as usize, k, k), v), Array1::from_elem(oc * g, v), [s, s], p);
            (c.padding, c.dilation, c.groups) = ([p, q, q, p], [d, d], g);
            Layer::Conv2d(c)
        }),
        (-2.0f32..2.0, -2.0f32..8.0).prop_map(|(min, max)| Layer::Clamp { min, max }),
        (1usize..4, 1usize..3, 0usize..3).prop_map(|(k, s, p)| Layer::AvgPool2d(Pool { kernel: [k, k], stride: [s, s], padding: [p, 0, p, 1] })),
        Just(Layer::GlobalAvgPool),
        Just(Layer::Add),
        Just(Layer::Concat),
        // an LSTM over rows of 20 to 33 values (28 or 28 + padding fit the input), any weight size
        (1usize..5, any::<bool>(), 20usize..34, -3.0f32..3.0).prop_map(|(h, bidirectional, e, v)| {
            let dirs = 1 + bidirectional as usize;
            Layer::Lstm(lrp::model::Lstm { input: e, hidden: h, bidirectional, weights: vec![v; dirs * 4 * h * (e + h)], biases: vec![v; dirs * 8 * h] })
        }),
    ]
}

/// Dense layers take whatever the layer before them gives, so that many random chains fit.
fn fit(layers: Vec<Layer>, pad: usize) -> (Vec<Layer>, Shape) {
    let mut shape = Shape::new(1, 28 + 2 * pad, 28 + 2 * pad);
    let mut fitted = Vec::new();
    for l in layers {
        let l = match l {
            Layer::Dense(d) if shape.len() <= 5000 => {
                let (o, v) = (d.weight.dim().0, d.bias[0]);
                Layer::Dense(Dense {
                    weight: Array2::from_shape_fn((o, shape.len()), |(i, j)| v * (((i * 7 + j * 3) % 5) as f32 - 2.0)),
                    bias: Array1::from_elem(o, v),
                })
            }
            l => l,
        };
        if let Ok(s) = l.output_shape(&[shape]) {
            shape = s;
        }
        fitted.push(l);
    }
    (fitted, shape)
}

type GraphPicks = Vec<(Layer, Vec<usize>)>;

fn arb_graph() -> impl Strategy<Value = GraphPicks> {
    let layer = prop_oneof![4 => arb_layer(), 1 => Just(Layer::Add), 1 => Just(Layer::Concat)];
    prop::collection::vec((layer, prop::collection::vec(0usize..8, 1..4)), 1..7)
}

/// A graph from random layers, each reading the value before it and, for add and concat, values drawn
/// from those before it (some out of range on purpose), closed by flatten and a dense layer to two
/// classes that fits what reaches it.
fn random_graph(picks: GraphPicks, bias: f32) -> lrp::Result<Model> {
    let (mut layers, mut inputs) = (Vec::new(), Vec::new());
    let mut shapes = vec![Shape::new(1, 28, 28)];
    for (k, (l, reads)) in picks.into_iter().enumerate() {
        // the value before it first (so that every output is read), then, for add and concat, others
        let extra = reads.into_iter().map(|v| if v <= k + 1 { v.min(k) } else { v });
        let reads: Vec<usize> = if matches!(l, Layer::Add | Layer::Concat) { std::iter::once(k).chain(extra).collect() } else { vec![k] };
        let ins: Vec<Shape> = reads.iter().filter_map(|&v| shapes.get(v).copied()).collect();
        shapes.push(l.output_shape(&ins).unwrap_or(Shape::new(1, 1, 1)));
        layers.push(l);
        inputs.push(reads);
    }
    let n = shapes.last().map_or(1, Shape::len).clamp(1, 100_000);
    layers.push(Layer::Flatten);
    inputs.push(vec![layers.len() - 1]);
    layers.push(Layer::Dense(Dense { weight: Array2::from_elem((2, n), bias), bias: Array1::from_elem(2, bias) }));
    inputs.push(vec![layers.len() - 1]);
    let mut meta = ModelMeta::digits("arb");
    meta.classes = vec!["a".into(), "b".into()];
    Model::graph(InputStage::default(), layers, inputs, meta)
}

#[test]
fn a_fair_share_of_the_random_graphs_is_valid() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut valid, mut graphs) = (0, 0);
    for _ in 0..400 {
        if let Ok(m) = random_graph(arb_graph().new_tree(&mut runner).unwrap().current(), 0.5) {
            valid += 1;
            graphs += !m.is_chain() as usize;
        }
    }
    assert!(valid >= 40 && graphs >= 10, "only {valid} of 400 random graphs are valid models, {graphs} of them not chains");
}

#[test]
fn a_fair_share_of_the_random_chains_is_valid() {
    // the property below would pass vacuously if no random chain were a valid model
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = prop::collection::vec(arb_layer(), 1..6);
    let mut valid = 0;
    for _ in 0..400 {
        let (layers, shape) = fit(strategy.new_tree(&mut runner).unwrap().current(), 0);
        let mut meta = ModelMeta::digits("arb");
        meta.classes = (0..shape.len()).map(|c| c.to_string()).collect();
        valid += Model::new(InputStage::default(), layers, meta).is_ok() as usize;
    }
    assert!(valid >= 40, "only {valid} of 400 random chains are valid models");
}

fn arb_params() -> impl Strategy<Value = Params> {
    (
        prop_oneof![Just(f32::NAN), Just(-1.0f32), 0.0f32..2.0],
        prop_oneof![Just(f32::INFINITY), Just(-0.5f32), 0.0f32..3.0],
        prop_oneof![Just(2.0f32), 0.0f32..4.0, Just(f32::NAN)],
        0usize..80,
        0usize..20,
        prop_oneof![Just(f32::NAN), -1.0f32..1.0],
        any::<u64>(),
        any::<bool>(),
        prop_oneof![Just(f32::NAN), Just(1.0f32), -0.5f32..1.5],
        (0usize..40, 0usize..40),
    )
        .prop_map(|(epsilon, gamma, alpha, steps, samples, sigma, seed, bias, bias_factor, (patch, stride))| Params {
            rules: RuleParams { epsilon, gamma, alpha, beta: alpha - 1.0, bias, bias_factor },
            steps,
            samples,
            sigma,
            seed,
            patch,
            stride,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn building_and_running_arbitrary_models_never_panics(layers in prop::collection::vec(arb_layer(), 1..6), pad in 0usize..3, wrong_classes in any::<bool>()) {
        let stage = InputStage::mnist(1.0, 0.0, pad, 0.0);
        let (fitted, shape) = fit(layers, pad);
        let mut meta = ModelMeta::digits("arb");
        meta.classes = (0..shape.len() + usize::from(wrong_classes)).map(|c| c.to_string()).collect();
        if let Ok(model) = Model::new(stage, fitted, meta) {
            let mut ex = Explainer::new(&model);
            let x = vec![0.3f32; 784];
            for name in lrp::registry::names() {
                if let Ok(m) = Method::from_name(name, &model, &Params { steps: 3, samples: 2, ..Params::default() }) {
                    if let Ok(e) = ex.explain(&model, &x, &m, &Query::default()) {
                        prop_assert!(e.heatmap.iter().all(|v| v.is_finite()));
                    }
                }
            }
            // a model that builds also saves and loads back
            let bytes = model.to_safetensors().unwrap();
            prop_assert!(Model::try_from(bytes.as_slice()).is_ok());
        }
    }

    #[test]
    fn arbitrary_parameters_targets_and_inputs_never_panic(p in arb_params(), name in 0usize..METHODS.len(), target in prop::option::of(0usize..14), contrast in prop::option::of(0usize..14), len in prop_oneof![Just(784usize), 0usize..1600], fill in prop_oneof![Just(f32::NAN), -1.0f32..2.0]) {
        let model = tiny_cnn(1, true);
        let mut ex = Explainer::new(&model);
        if let Ok(m) = Method::from_name(METHODS[name].name, &model, &p) {
            let x = vec![fill; len];
            let r = ex.explain(&model, &x, &m, &Query { target, contrast, normalize: false });
            if let Ok(e) = r {
                prop_assert!(e.heatmap.iter().all(|v| v.is_finite()));
            }
            let _ = Method::from_rule_list("eps,gamma=0.2,zb,0", &model, &p);
        }
    }

    #[test]
    fn arbitrary_graphs_never_panic(picks in arb_graph(), bias in -1.0f32..1.0) {
        if let Ok(model) = random_graph(picks, bias) {
            let mut ex = Explainer::new(&model);
            for name in lrp::registry::names() {
                if let Ok(m) = Method::from_name(name, &model, &Params { steps: 2, samples: 2, ..Params::default() }) {
                    if let Ok(e) = ex.explain(&model, &vec![0.4f32; 784], &m, &Query::default()) {
                        prop_assert!(e.heatmap.iter().all(|v| v.is_finite()));
                    }
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_loader(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        prop_assert!(Model::try_from(bytes.as_slice()).is_err());
    }

    #[test]
    fn corrupting_a_valid_file_never_panics(pos in 0usize..100_000, byte in any::<u8>(), cut in 0usize..100_000) {
        let mut good = tiny_cnn(2, true).to_safetensors().unwrap();
        let n = good.len();
        good[pos % n] = byte;
        good.truncate(n - cut % (n / 2));
        let _ = Model::try_from(good.as_slice());
    }

    #[test]
    fn arbitrary_toolbox_text_never_panics(lines in prop::collection::vec(prop_oneof![
        Just("Linear 784 3".to_string()), Just("Rect".to_string()), Just("Flatten".to_string()), Just("SoftMax".to_string()),
        Just("MaxPool 2 2 2 2".to_string()), Just("SumPool 3 3 1 1".to_string()), Just("Convolution 3 3 1 2 1 1".to_string()),
        "[ -~]{0,30}", "(-?[0-9]{1,2}(\\.[0-9])? ){0,20}"
    ], 0..8)) {
        let _ = import_toolbox(&lines.join("\n"), &ToolboxOptions { stage: InputStage::default(), name: "p".into() });
    }
}
