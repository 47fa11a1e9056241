//! The photo model against an independent implementation: Zennit 0.5.1 (float64, CPU PyTorch) on the
//! committed EfficientNet-Lite0 (models/efficientnet-lite0.safetensors, the same bytes, float16 weights
//! widened) for the evaluation crops of www/data/photos/cat.jpg and coffee.jpg, made by
//! tests/reference/photo_fixtures.py and committed under tests/fixtures/photos/: epsilon-plus-flat,
//! epsilon-gamma-box and the gradient for the predicted class, and for the cat epsilon-plus-flat with
//! every bias left out of the rules (Zennit's `zero_params=['bias']`, our `RuleParams::bias = false`).
//! Each map is compared summed over the three channels: max |ours - Zennit| / max |Zennit| < 1e-3.
//!
//! The gradient is a discontinuous function of the input: ReLU6 passes it only where its input lies in
//! (0, 6), and a unit whose input lies within float32 rounding of 0 or 6 may have its gate set either
//! way by a float32 forward pass (ours, or torch's own in float32). On this network one such unit can
//! move the map by half of its max. The fixture lists, per photo, the units whose float64 input lies
//! that near a kink; the test finds those whose gate our forward pass sets the other way, adds each
//! one's exact contribution `df/dy_u * d input_u / dx` (the engine's gradient of a copy of the network cut
//! at that unit) to Zennit's map, and compares with 1e-3 then. A gate flipped anywhere else, or a wrong
//! correction, fails the test.
//!
//! Also: the relevance bookkeeping of the layer report (what reaches the input plus what the layers
//! absorbed is the explained logit), how little reaches the input of this network with its folded
//! BatchNorm biases and how much more without them, and the bias-free variant's exact conservation
//! through dense and convolution layers of small test networks.
#![cfg(not(target_arch = "wasm32"))]

use lrp::model::{Dense, ModelMeta, NodeOp, NodeSpec};
use lrp::testing::{random_pixels, tiny_cnn, tiny_mlp};
use lrp::{Explainer, Explanation, Layer, Method, Model, Params, Query, RuleParams};
use ndarray::{Array2, Array3};
use serde_json::Value;
use std::path::PathBuf;

const PHOTOS: [&str; 2] = ["cat", "coffee"];
/// max |ours - Zennit| / max |Zennit| of a channel-summed map.
const TOLERANCE: f32 = 1e-3;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/photos")
}

fn photo_model() -> Model {
    let bytes = std::fs::read(root().join("models/efficientnet-lite0.safetensors")).unwrap();
    Model::try_from(bytes.as_slice()).unwrap()
}

/// A photo's fixture: its JSON record and its crop (pixels in [0, 1], CHW).
struct Photo {
    name: &'static str,
    record: Value,
    pixels: Vec<f32>,
}

fn photo(name: &'static str) -> Photo {
    let dir = fixtures();
    let record: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    let crop: Array3<f32> = ndarray_npy::read_npy(dir.join(record["crop"].as_str().unwrap())).unwrap();
    assert_eq!(crop.shape(), [3, 224, 224], "{name}: the crop's shape");
    Photo { name, record, pixels: crop.iter().copied().collect() }
}

impl Photo {
    fn target(&self) -> usize {
        self.record["target"].as_u64().unwrap() as usize
    }
    fn methods(&self) -> Vec<&str> {
        self.record["methods"].as_object().unwrap().keys().map(String::as_str).collect()
    }
    /// Zennit's map of `method`, summed over the channels ([224, 224] row-major).
    fn zennit(&self, method: &str) -> Vec<f32> {
        let file = self.record["methods"][method]["map"].as_str().unwrap_or_else(|| panic!("{}: no fixture for {method}", self.name));
        let map: Array2<f32> = ndarray_npy::read_npy(fixtures().join(file)).unwrap();
        assert_eq!(map.shape(), [224, 224]);
        map.iter().copied().collect()
    }
}

/// Our method for a fixture's method name: a name of the method table with the default parameters
/// (epsilon 0.1, gamma 0.25: the fixture records Zennit's), `...-no-bias` with `bias: false`.
fn method(name: &str, model: &Model) -> Method {
    let (name, bias) = match name.strip_suffix("-no-bias") {
        Some(base) => (base, false),
        None => (name, true),
    };
    Method::from_name(name, model, &params(bias)).unwrap()
}

fn params(bias: bool) -> Params {
    Params { rules: RuleParams { bias, ..RuleParams::default() }, ..Params::default() }
}

fn explain(ex: &mut Explainer, model: &Model, p: &Photo, m: &Method) -> Explanation {
    ex.explain(model, &p.pixels, m, &Query { target: Some(p.target()), ..Query::default() }).unwrap().clone()
}

/// A `C x H x W` map summed over its channels.
fn channel_sum(map: &[f32]) -> Vec<f32> {
    let n = 224 * 224;
    assert_eq!(map.len(), 3 * n);
    (0..n).map(|i| map[i] + map[n + i] + map[2 * n + i]).collect()
}

/// max |ours - want| / max |want|.
fn max_rel_diff(ours: &[f32], want: &[f32]) -> f32 {
    assert_eq!(ours.len(), want.len());
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "an all-zero reference");
    ours.iter().zip(want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs())) / scale
}

/// `d (value v, unit i) / dx`, the gradient of one unit of the model's graph with respect to the model
/// input (after its stage), summed over the channels: the gradient of a copy of the network cut at
/// value `v`, with a dense layer that reads unit `i` as its first logit (a model has two or more).
fn unit_gradient(model: &Model, pixels: &[f32], v: usize, i: usize) -> Vec<f32> {
    let mut nodes: Vec<NodeSpec> = (0..v).map(|k| NodeSpec { op: NodeOp::Layer(model.layers()[k].clone()), inputs: model.inputs(k).to_vec() }).collect();
    let n = model.shapes()[v].len();
    let mut w = ndarray::Array2::zeros((2, n));
    w[[0, i]] = 1.0;
    nodes.push(NodeSpec { op: NodeOp::Layer(Layer::Flatten), inputs: vec![v] });
    nodes.push(NodeSpec { op: NodeOp::Layer(Layer::Dense(Dense { weight: w, bias: ndarray::Array1::zeros(2) })), inputs: vec![v + 1] });
    let mut meta = ModelMeta::digits("cut");
    meta.classes.truncate(2);
    let cut = Model::from_nodes(model.input_stage().clone(), nodes, meta).unwrap();
    let mut ex = Explainer::new(&cut);
    let e = ex.explain(&cut, pixels, &Method::Gradient, &Query { target: Some(0), ..Query::default() }).unwrap();
    channel_sum(&e.heatmap)
}

/// A ReLU6 gate our float32 forward pass sets the other way than float64 (see the module's text).
struct Flip {
    layer: usize,
    unit: usize,
    ours: f32,
    float64: f64,
}

/// Zennit's gradient map of `p`, corrected for the gates of the fixture's near-kink units that our
/// forward pass (`ex`'s last, a gradient of `p`) sets the other way; also checks that our forward pass
/// is well within the fixture's margin at those units. Returns the corrected map and the flips.
fn gate_corrected_gradient(model: &Model, ex: &Explainer, p: &Photo) -> (Vec<f32>, Vec<Flip>) {
    let kinks = &p.record["methods"]["gradient"]["kinks"];
    let units: Array2<f64> = ndarray_npy::read_npy(fixtures().join(kinks["file"].as_str().unwrap())).unwrap();
    let margin = kinks["margin"].as_f64().unwrap();
    assert_eq!(units.nrows() as u64, kinks["listed"].as_u64().unwrap());
    let mut reference = p.zennit("gradient");
    let (mut flips, mut worst) = (Vec::new(), 0.0f64);
    for row in units.rows() {
        let (k, i, float64) = (row[0] as usize, row[1] as usize, row[2]);
        let Layer::Clamp { min, max } = model.layers()[k] else { panic!("{}: layer {k} is not a clamp", p.name) };
        let v = model.inputs(k)[0];
        let pre = ex.activation(v).unwrap();
        let ours = pre[i];
        let scale = pre.iter().fold(0.0f32, |m, x| m.max(x.abs())) as f64;
        worst = worst.max((ours as f64 - float64).abs() / scale);
        let (open, open64) = (ours > min && ours < max, float64 > min as f64 && float64 < max as f64);
        if open != open64 {
            // ours passes df/dy_u through the unit where the reference does not, or the other way
            let dy = ex.layer_relevance(k + 1).unwrap()[i];
            let sign = if open { 1.0 } else { -1.0 };
            for (r, g) in reference.iter_mut().zip(unit_gradient(model, &p.pixels, v, i)) {
                *r += sign * dy * g;
            }
            flips.push(Flip { layer: k, unit: i, ours, float64 });
        }
    }
    eprintln!("{}: {} listed ReLU6 units near a kink; our float32 inputs there err by at most {worst:.1e} of the layer's max", p.name, units.nrows());
    for f in &flips {
        eprintln!("  gate set the other way: layer {} unit {}: input ours {:e}, float64 {:e}", f.layer, f.unit, f.ours, f.float64);
    }
    // the margin the listed units were chosen by holds our forward pass with room to spare
    assert!(worst < margin / 4.0, "{}: our float32 forward errs by {worst:.1e} of a layer's max at a listed unit (margin {margin})", p.name);
    assert!(flips.len() <= 10, "{}: {} gates flipped", p.name, flips.len());
    (reference, flips)
}

/// Relevance absorbed by the layers (biases, stabilizers, dropped padding): sum of out - in.
fn absorbed(e: &Explanation) -> f64 {
    e.layers.iter().map(|l| l.relevance_out as f64 - l.relevance_in as f64).sum()
}

#[test]
fn the_fixtures_were_made_with_our_conventions() {
    let d = Params::default().rules;
    for name in PHOTOS {
        let r = photo(name).record;
        assert_eq!(r["model"], "models/efficientnet-lite0.safetensors");
        assert_eq!(r["zennit"], "0.5.1");
        assert_eq!(r["dtype"], "float64");
        assert_eq!(r["stabilizer"].as_f64().unwrap() as f32, lrp::rules::STABILIZER);
        assert_eq!((r["epsilon"].as_f64().unwrap() as f32, r["gamma"].as_f64().unwrap() as f32), (d.epsilon, d.gamma));
        // z^B's box: pixels 0 and 1 through the model's input stage x * 255/128 - 127/128
        let stage = photo_model().input_stage().clone();
        for c in 0..3 {
            assert_eq!(stage.bounds(c), (r["zbox"]["low"].as_f64().unwrap() as f32, r["zbox"]["high"].as_f64().unwrap() as f32));
        }
        assert_eq!(stage.bounds(0), (-127.0 / 128.0, 1.0));
    }
}

#[test]
fn photo_heatmaps_match_zennit() {
    let model = photo_model();
    let mut ex = Explainer::new(&model);
    let mut compared = 0;
    for name in PHOTOS {
        let p = photo(name);
        // the same prediction and logits as torch (float64) on the same weights
        let pred = ex.predict(&model, &p.pixels).unwrap().clone();
        assert_eq!(pred.prediction, p.target(), "{name}: the predicted class");
        for t in p.record["top5"].as_array().unwrap() {
            let (c, want) = (t["class"].as_u64().unwrap() as usize, t["logit"].as_f64().unwrap() as f32);
            let got = pred.logits[c];
            eprintln!("{name}: logit of class {c}: ours {got}, torch {want} (diff {:.1e})", (got - want).abs());
            assert!((got - want).abs() <= 1e-4 * want.abs().max(1.0), "{name}: logit of class {c}: ours {got}, torch {want}");
        }
        let mut order: Vec<usize> = (0..pred.logits.len()).collect();
        order.sort_by(|&a, &b| pred.logits[b].total_cmp(&pred.logits[a]));
        let top5: Vec<u64> = p.record["top5"].as_array().unwrap().iter().map(|t| t["class"].as_u64().unwrap()).collect();
        assert_eq!(order[..5].iter().map(|&c| c as u64).collect::<Vec<_>>(), top5, "{name}: the top-5");
        for m in p.methods() {
            let e = explain(&mut ex, &model, &p, &method(m, &model));
            assert_eq!(e.target, p.target());
            let logit = p.record["logit"].as_f64().unwrap() as f32;
            if m != "gradient" {
                assert!((e.explained - logit).abs() <= 1e-4 * logit.abs(), "{name} {m}: explained {} vs the logit {logit}", e.explained);
            }
            let ours = channel_sum(&e.heatmap);
            let d = if m == "gradient" {
                let raw = max_rel_diff(&ours, &p.zennit(m));
                let (corrected, flips) = gate_corrected_gradient(&model, &ex, &p);
                let d = max_rel_diff(&ours, &corrected);
                eprintln!("{name} gradient: {raw:.2e} before correcting the {} flipped gates, {d:.2e} after", flips.len());
                d
            } else {
                max_rel_diff(&ours, &p.zennit(m))
            };
            // the sum over all of the map (LRP: the relevance that reached the input), relative to its mass
            let rec = &p.record["methods"][m];
            let (sum, mass) = (rec["sum"].as_f64().unwrap(), rec["abs_sum"].as_f64().unwrap());
            let sum_diff = (e.total() as f64 - sum).abs() / mass;
            eprintln!("{name} {m}: max |ours - Zennit| / max |Zennit| = {d:.2e}; sum ours {} Zennit {sum:.6e} (diff {sum_diff:.1e} of sum |R|)", e.total());
            assert!(d < TOLERANCE, "{name} {m}: max |ours - Zennit| / max |Zennit| = {d:.2e}");
            assert!(sum_diff < 1e-4, "{name} {m}: sum ours {} vs Zennit {sum}", e.total());
            compared += 1;
        }
    }
    assert_eq!(compared, 7, "two photos x three methods, and the bias-free variant for one photo");
}

/// The comparison tells the methods apart: a wrong rule set fails it by far.
#[test]
fn a_wrong_method_fails_the_comparison() {
    let model = photo_model();
    let mut ex = Explainer::new(&model);
    let p = photo("cat");
    let flat = channel_sum(&explain(&mut ex, &model, &p, &method("epsilon-plus-flat", &model)).heatmap);
    let no_bias = channel_sum(&explain(&mut ex, &model, &p, &method("epsilon-plus-flat-no-bias", &model)).heatmap);
    let gamma = channel_sum(&explain(&mut ex, &model, &p, &method("epsilon-gamma-box", &model)).heatmap);
    let plus = channel_sum(&explain(&mut ex, &model, &p, &method("epsilon-plus", &model)).heatmap);
    for (what, ours, fixture) in [
        ("epsilon-plus-flat vs the gradient", &flat, "gradient"),
        ("epsilon-plus-flat vs epsilon-gamma-box", &flat, "epsilon-gamma-box"),
        ("epsilon-plus-flat vs its bias-free variant", &flat, "epsilon-plus-flat-no-bias"),
        ("the bias-free variant vs epsilon-plus-flat", &no_bias, "epsilon-plus-flat"),
        ("epsilon-gamma-box vs epsilon-plus-flat", &gamma, "epsilon-plus-flat"),
        ("epsilon-plus (z+ at the input) vs epsilon-gamma-box", &plus, "epsilon-gamma-box"),
    ] {
        let d = max_rel_diff(ours, &p.zennit(fixture));
        eprintln!("{what}: {d:.2e}");
        assert!(d > 100.0 * TOLERANCE, "{what}: {d:.2e} would pass the comparison");
    }
}

/// Per photo: epsilon-plus-flat with the biases (the default) or without; returns the explanation and
/// checks that the input relevance plus what every layer absorbed is the explained logit.
fn bookkeeping(model: &Model, ex: &mut Explainer, p: &Photo, bias: bool) -> Explanation {
    let e = explain(ex, model, p, &Method::from_name("epsilon-plus-flat", model, &params(bias)).unwrap());
    assert_eq!(e.layers.len(), model.layers().len());
    let input = e.total() as f64 + e.padding as f64;
    let absorbed = absorbed(&e);
    let residual = (input + absorbed - e.explained as f64) / e.explained as f64;
    let kinds = |k: &str| e.layers.iter().filter(|l| l.kind == k).map(|l| l.relevance_out as f64 - l.relevance_in as f64).sum::<f64>();
    eprintln!(
        "{} bias={bias}: logit {}, input {input:.6e} ({:.4} % of the logit), absorbed {absorbed:.6} (conv {:.6}, dense {:.6}, add {:.2e}, globalavgpool {:.2e}); residual {residual:.2e}",
        p.name,
        e.explained,
        100.0 * input / e.explained as f64,
        kinds("conv2d"),
        kinds("dense"),
        kinds("add"),
        kinds("globalavgpool"),
    );
    assert!(residual.abs() < 1e-4, "{} bias={bias}: input {input} + absorbed {absorbed} != logit {}", p.name, e.explained);
    for (i, (l, layer)) in e.layers.iter().zip(model.layers()).enumerate() {
        let lost = l.relevance_out as f64 - l.relevance_in as f64;
        match layer {
            // relevance passes element-wise activations and flatten unchanged
            Layer::Clamp { .. } | Layer::Flatten => assert_eq!(l.relevance_out, l.relevance_in, "{} layer {i} ({})", p.name, l.kind),
            // the proportional split of add and the pools' LRP-0 lose only the 1e-9 stabilizer
            Layer::Add | Layer::GlobalAvgPool => {
                assert!(lost.abs() < 1e-5 * e.explained as f64, "{} layer {i} ({}) absorbed {lost}", p.name, l.kind)
            }
            _ => {}
        }
    }
    // flat at the input spreads all of its relevance: nothing absorbed by the first convolution
    let first = &e.layers[0];
    assert_eq!(first.kind, "conv2d");
    assert!((first.relevance_out - first.relevance_in).abs() < 1e-5 * e.explained, "{} flat absorbed {first:?}", p.name);
    e
}

#[test]
fn relevance_is_accounted_for_and_the_folded_biases_absorb_almost_all_of_it() {
    let model = photo_model();
    let mut ex = Explainer::new(&model);
    for name in PHOTOS {
        let p = photo(name);
        let e = bookkeeping(&model, &mut ex, &p, true);
        // the folded BatchNorm biases absorb all but a few 1e-4 of the logit (Zennit: 0.021 % and 0.032 %)
        let share = (e.total() + e.padding) / e.explained;
        assert!((1e-4..1e-3).contains(&share), "{name}: {:.4} % of the logit reaches the input", 100.0 * share);
        // most of it in the convolutions (z+ with the folded biases), the rest in the dense layer's eps and bias
        let conv: f32 = e.layers.iter().filter(|l| l.kind == "conv2d").map(|l| l.relevance_out - l.relevance_in).sum();
        assert!(conv > 0.95 * e.explained, "{name}: the convolutions absorbed {conv} of {}", e.explained);
    }
}

#[test]
fn without_biases_more_relevance_reaches_the_input() {
    let model = photo_model();
    let mut ex = Explainer::new(&model);
    for name in PHOTOS {
        let p = photo(name);
        let with = bookkeeping(&model, &mut ex, &p, true);
        let without = bookkeeping(&model, &mut ex, &p, false);
        let share = |e: &Explanation| (e.total() + e.padding) / e.explained;
        // measured: cat 3.94 %, coffee 4.34 % of the logit (Zennit with zero_params=["bias"]: cat 3.94 %)
        assert!((0.02..0.08).contains(&share(&without)), "{name}: {:.3} % of the logit reaches the input without biases", 100.0 * share(&without));
        assert!(share(&without) > 50.0 * share(&with), "{name}: with biases {}, without {}", share(&with), share(&without));
        // the same forward pass and starting relevance either way
        assert_eq!(with.logits, without.logits);
        assert_eq!(with.explained, without.explained);
    }
}

/// LRP-0 of a small network whose dense (and convolution) layers have non-zero biases: with
/// `bias: false` every such layer passes on exactly what it received; with the biases (the default)
/// each absorbs `sum_k R_k b_k / (z_k + eps sign z_k)`, as computed here from its outputs.
#[test]
fn bias_free_lrp0_conserves_relevance_through_layers_with_biases() {
    for (what, model) in [("tiny-mlp", tiny_mlp(7, true)), ("tiny-cnn", tiny_cnn(7, true))] {
        let pixels = random_pixels(3);
        let mut ex = Explainer::new(&model);
        let mut checked = 0;
        for bias in [true, false] {
            let e = ex.explain(&model, &pixels, &Method::from_name("lrp-0", &model, &params(bias)).unwrap(), &Query::default()).unwrap().clone();
            for (i, layer) in model.layers().iter().enumerate() {
                let Some((_, b)) = layer.weights() else { continue };
                assert!(b.iter().any(|&v| v != 0.0), "{what} layer {i} has a bias");
                let (r_out, z) = (ex.layer_relevance(i + 1).unwrap(), ex.activation(i + 1).unwrap());
                let mass: f64 = r_out.iter().map(|r| r.abs() as f64).sum();
                let l = &e.layers[i];
                let lost = l.relevance_out as f64 - l.relevance_in as f64;
                // what the bias takes: R_k b_k / stabilize(z_k), per output k of channel k / positions
                let per = z.len() / b.len();
                let share: f64 = (0..z.len()).map(|k| r_out[k] as f64 * b[k / per] as f64 / lrp::rules::stabilize(z[k], lrp::rules::STABILIZER) as f64).sum();
                eprintln!(
                    "{what} layer {i} ({}) bias={bias}: out {} in {} absorbed {lost:.3e}, bias share {share:.3e}, sum |R| {mass:.3e}",
                    l.kind, l.relevance_out, l.relevance_in
                );
                if bias {
                    assert!(share.abs() > 1e-3 * mass, "{what} layer {i}: the bias takes a visible share");
                    assert!((lost - share).abs() < 1e-4 * mass, "{what} layer {i}: absorbed {lost}, the bias's share {share}");
                } else {
                    assert!(lost.abs() < 1e-5 * mass, "{what} layer {i}: absorbed {lost} of {mass} without bias");
                }
                checked += 1;
            }
        }
        assert!(checked >= 4, "{what}: {checked} layers checked");
    }
}
