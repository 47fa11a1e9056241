//! Attribution methods: LRP (any composite) and the gradient family, all on one forward pass kept in
//! an [`Explainer`]'s buffers. Every method is a backward pass over the same layers
//! ([`Model`]'s `backward_layer`, or LRP's generic rule step on top of the same linear maps).
//!
//! Attributions are taken with respect to the model's input after its input stage (normalization,
//! padding) and reported cropped to the 28x28 pixel grid; relevance on constant padding is reported in
//! [`Explanation::padding`].

mod gradient;
mod integrated;
mod lrp;
mod occlusion;
#[cfg(any(test, feature = "testing"))]
pub(crate) use lrp::lrp_linear;
pub mod registry;
mod smooth;
mod taylor;

use crate::composite::Composite;
use crate::error::{invalid_param, LrpError, Result};
use crate::model::{LinOp, LstmRelevance, Model, Sink};
use crate::ops;
use crate::rules::{PreparedRule, Rule, RuleParams};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Largest number of steps (Integrated Gradients) or samples (SmoothGrad) accepted.
pub const MAX_STEPS: usize = 4096;
/// Largest number of base explanations one method may run (wrappers of wrappers multiply).
pub const MAX_PASSES: usize = 65536;

/// Parameters of rules and methods; each method reads the ones it needs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    #[serde(flatten)]
    pub rules: RuleParams,
    /// Integrated Gradients: Riemann steps.
    pub steps: usize,
    /// SmoothGrad: noisy samples.
    pub samples: usize,
    /// SmoothGrad: noise standard deviation as a fraction of the input range.
    pub sigma: f32,
    /// SmoothGrad: seed of the noise.
    pub seed: u64,
    /// Occlusion: the side of the square patch, in pixels.
    pub patch: usize,
    /// Occlusion: how far the patch moves between positions, in pixels.
    pub stride: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params { rules: RuleParams::default(), steps: 32, samples: 32, sigma: 0.15, seed: 0, patch: 4, stride: 2 }
    }
}

/// An attribution method with its parameters, validated against a model.
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    /// `df_c/dx`.
    Gradient,
    /// `(df_c/dx_i)^2`: decomposes the squared gradient norm.
    Sensitivity,
    /// `x_i df_c/dx_i`.
    GradientXInput,
    /// `(x_i - x~_i) df_c/dx_i(x~)` at a root point `x~` found by line search along the gradient.
    SimpleTaylor,
    /// `(x - x') * mean_k base(x' + k/m (x - x'))`, right Riemann sum, baseline x' = blank canvas. With
    /// the gradient as base this is Integrated Gradients; with another base, Zennit's attributor with a
    /// composite (the path integral of the modified gradient, times `x - x'`).
    IntegratedGradients { steps: usize, base: Box<Method> },
    /// The mean of `base` at `x + N(0, sigma^2)` noise, `sigma` a fraction of the input range: with the
    /// gradient as base SmoothGrad, with an LRP composite smoothed relevance (Zennit's SmoothGrad with a
    /// composite).
    SmoothGrad { samples: usize, sigma: f32, seed: u64, base: Box<Method> },
    /// The mean drop of the logit when a sliding `patch x patch` square covering the pixel is set to the
    /// blank canvas (Zeiler and Fergus 2014; Captum's `Occlusion`): forward passes only.
    Occlusion { patch: usize, stride: usize },
    /// Layer-wise relevance propagation with a rule per layer.
    Lrp(Composite),
}

impl Method {
    /// The method named `name` (a row of [`registry::METHODS`]) for `model`, with parameters from `p`.
    /// A wrapper takes its base after a colon: `smoothgrad:epsilon-plus` is SmoothGrad of the
    /// EpsilonPlus composite; `smoothgrad` alone wraps the gradient.
    pub fn from_name(name: &str, model: &Model, p: &Params) -> Result<Method> {
        match name.split_once(':') {
            None => registry::find(name)?.build(model, p),
            Some((wrapper, base)) => {
                let base = Method::from_name(base, model, p)?;
                registry::find(wrapper)?.wrap(model, p, base)
            }
        }
    }

    /// LRP with one rule per dense/conv layer given as text, e.g. `zb,gamma,eps,0` (see [`Rule::parse`]);
    /// `p.rules.bias` applies to every rule.
    pub fn from_rule_list(list: &str, model: &Model, p: &Params) -> Result<Method> {
        let rules = list.split(',').map(|r| Rule::parse(r, &p.rules)).collect::<Result<Vec<_>>>()?;
        Ok(Method::Lrp(Composite::from_list(model, &rules)?.with_bias(p.rules.bias)))
    }

    pub fn validate(&self, model: &Model) -> Result<()> {
        match self {
            Method::IntegratedGradients { steps, .. } if *steps == 0 || *steps > MAX_STEPS => {
                Err(invalid_param(format!("steps must be 1..={MAX_STEPS}, got {steps}")))
            }
            Method::SmoothGrad { samples, .. } if *samples == 0 || *samples > MAX_STEPS => {
                Err(invalid_param(format!("samples must be 1..={MAX_STEPS}, got {samples}")))
            }
            Method::SmoothGrad { sigma, .. } if !(sigma.is_finite() && (0.0..=10.0).contains(sigma)) => {
                Err(invalid_param(format!("sigma must be in [0, 10], got {sigma}")))
            }
            Method::Occlusion { patch, stride } => match occlusion::validate(model, *patch, *stride)? {
                n if n > MAX_PASSES => Err(invalid_param(format!("occlusion: {n} patch positions; at most {MAX_PASSES} (a larger stride)"))),
                _ => Ok(()),
            },
            _ if self.passes() > MAX_PASSES => Err(invalid_param(format!("{} base explanations; at most {MAX_PASSES} (steps times samples)", self.passes()))),
            Method::IntegratedGradients { base, .. } | Method::SmoothGrad { base, .. } => base.validate(model),
            Method::Lrp(c) => c.validate(model),
            _ => Ok(()),
        }
    }

    /// True for LRP (per-layer relevance is reported).
    pub fn is_lrp(&self) -> bool {
        matches!(self, Method::Lrp(_))
    }

    /// How many explanations of the innermost method one explanation runs (saturating).
    pub fn passes(&self) -> usize {
        match self {
            Method::IntegratedGradients { steps: n, base } | Method::SmoothGrad { samples: n, base, .. } => n.saturating_mul(base.passes()),
            _ => 1,
        }
    }

    /// The innermost method (itself unless a wrapper).
    pub fn innermost(&self) -> &Method {
        match self {
            Method::IntegratedGradients { base, .. } | Method::SmoothGrad { base, .. } => base.innermost(),
            m => m,
        }
    }

    /// True when some input the innermost method sees may leave the stage's range (SmoothGrad noise).
    fn noisy(&self) -> bool {
        match self {
            Method::SmoothGrad { sigma, base, .. } => *sigma > 0.0 || base.noisy(),
            Method::IntegratedGradients { base, .. } => base.noisy(),
            _ => false,
        }
    }
}

/// What to explain: the target class (default: the predicted one), an optional contrast class
/// ("why target and not contrast": `R(target) - R(contrast)`), and LRP's normalized start (`1` instead
/// of the logit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Query {
    pub target: Option<usize>,
    pub contrast: Option<usize>,
    pub normalize: bool,
}

/// Relevance entering a layer from above (at its output) and leaving it downwards (at its input).
/// The difference is what the layer's biases and stabilizers absorbed (or, for alpha-beta, created).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LayerTotal {
    pub kind: &'static str,
    pub relevance_out: f32,
    pub relevance_in: f32,
}

/// The result of one explanation. Buffers are reused between calls of the same [`Explainer`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Explanation {
    pub target: usize,
    pub contrast: Option<usize>,
    pub prediction: usize,
    pub logits: Vec<f32>,
    pub probabilities: Vec<f32>,
    /// The quantity decomposed: `logit[target]` (1 when normalized), minus the contrast's.
    pub explained: f32,
    /// Attribution per input value (the stage's `C x H x W`, CHW order; 28x28 row-major for a digit).
    pub heatmap: Vec<f32>,
    /// Attribution that fell on the input stage's constant padding (dropped from the heatmap).
    pub padding: f32,
    /// LRP only: per layer, the total relevance in and out.
    pub layers: Vec<LayerTotal>,
    /// LRP of a model with an LSTM: per direction, the relevance of each input row, and what was left on
    /// the zero initial states (with a bias factor).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lstm: Option<LstmRelevance>,
    /// Simple Taylor only: the root point (in pixels, as the input) and the logit there.
    pub root: Option<Vec<f32>>,
    pub root_value: Option<f32>,
}

impl Explanation {
    /// Sum of the heatmap.
    pub fn total(&self) -> f32 {
        self.heatmap.iter().sum()
    }
}

/// Softmax of `logits` into `out` (display only: never part of an explanation).
pub fn softmax(logits: &[f32], out: &mut Vec<f32>) {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    out.clear();
    out.extend(logits.iter().map(|&l| (l - m).exp()));
    let s: f32 = out.iter().sum();
    out.iter_mut().for_each(|p| *p /= s);
}

/// Index of the largest value (first on ties).
pub fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| if x > bv { (i, x) } else { (bi, bv) }).0
}

/// Checks one or more inputs of `n` values each (784 for a 28x28 digit): length a multiple of `n`,
/// every value finite and in [0, 1]. Returns how many inputs there are.
pub fn validate_pixels(pixels: &[f32], n: usize) -> Result<usize> {
    if n == 0 || pixels.is_empty() || !pixels.len().is_multiple_of(n) {
        return Err(LrpError::InvalidInput(format!("expected a multiple of {n} pixels (one input), got {}", pixels.len())));
    }
    if let Some(i) = pixels.iter().position(|p| !p.is_finite() || !(0.0..=1.0).contains(p)) {
        return Err(LrpError::InvalidInput(format!("pixel {} of input {} is {}; pixels must be finite and in [0, 1]", i % n, i / n, pixels[i])));
    }
    Ok(pixels.len() / n)
}

/// Checks exactly one input of `n` values.
fn validate_one(pixels: &[f32], n: usize) -> Result<()> {
    validate_pixels(pixels, n)?;
    if pixels.len() != n {
        return Err(LrpError::InvalidInput(format!("expected {n} pixels, got {}", pixels.len())));
    }
    Ok(())
}

/// A wrapper's working input (pixels) and its sum of base explanations (model input size).
#[derive(Default)]
struct Level {
    pix: Vec<f32>,
    acc: Vec<f32>,
}

/// Scratch space of the LRP step, sized for the largest layer.
#[derive(Default)]
pub struct Scratch {
    pub z: Vec<f32>,
    pub tmp: Vec<f32>,
    pub s: Vec<f32>,
    pub xmod: Vec<f32>,
    pub c: Vec<f32>,
    pub col: Vec<f32>,
    /// A prepared input (im2col) mapped element-wise: `x+` or `x-` of the one the forward pass kept.
    pub col_mod: Vec<f32>,
}

/// Runs models forward and explains their predictions, reusing its buffers: after the first call for a
/// model and method, an explanation allocates nothing.
#[derive(Default)]
pub struct Explainer {
    model_id: u64,
    /// `acts[v]` is value `v` of the model graph: `acts[0]` the normalized, padded input, `acts[k + 1]`
    /// the output of node `k`, the last the logits (in a chain, `acts[k]` is the input of layer `k`).
    acts: Vec<Vec<f32>>,
    /// im2col of each convolution's input, kept from the forward pass.
    cols: Vec<Vec<f32>>,
    /// Gradient or relevance of every value, same indexing as `acts`.
    rel: Vec<Vec<f32>>,
    /// A node's contribution to a value that several nodes read (summed into `rel`).
    contrib: Vec<f32>,
    /// Graphs: the relevance each node passed down (the chain reads it off `rel`), and the contrast's.
    node_in: Vec<f32>,
    saved_in: Vec<f32>,
    /// A second set for contrastive explanations.
    saved: Vec<Vec<f32>>,
    scratch: Scratch,
    /// z^B bounds at the model input (padding: the pad value).
    lo: Vec<f32>,
    hi: Vec<f32>,
    /// Working pixels (one input) and input-sized buffers.
    pix: Vec<f32>,
    xin: Vec<f32>,
    xref: Vec<f32>,
    map: Vec<f32>,
    map2: Vec<f32>,
    start: Vec<f32>,
    root: Vec<f32>,
    prepared: Option<(u64, Composite, bool, Vec<Option<PreparedRule>>)>,
    /// Working inputs and sums of the wrappers (one per nesting level, kept between calls).
    levels: Vec<Level>,
    out: Explanation,
    /// An LSTM's per-direction report of the last LRP pass, and the contrast's.
    lstm: LstmRelevance,
    lstm_saved: LstmRelevance,
    /// The pixels `acts` were last computed for (every method leaves `acts` at its input), so that an
    /// explanation right after a prediction of the same input skips the second forward pass.
    forward_of: Vec<f32>,
    /// Concept Relevance Propagation: LRP passes down only the relevance of this (value, channel).
    condition: Option<(usize, usize)>,
}

impl Explainer {
    pub fn new(model: &Model) -> Explainer {
        let mut e = Explainer::default();
        e.ensure(model);
        e
    }

    /// Sizes the buffers for `model` (a no-op if they already are).
    fn ensure(&mut self, model: &Model) {
        if self.model_id == model.id() {
            return;
        }
        let shapes = model.shapes();
        let sizes: Vec<usize> = shapes.iter().map(|s| s.len()).collect();
        let maxlen = sizes.iter().copied().max().unwrap_or(0);
        let cols: Vec<usize> = (0..model.layers().len()).map(|i| model.buffer_len(i)).collect();
        let maxcol = cols.iter().copied().max().unwrap_or(0);
        self.acts = sizes.iter().map(|&n| vec![0.0; n]).collect();
        self.rel = self.acts.clone();
        self.saved = self.acts.clone();
        self.cols = cols.iter().map(|&n| vec![0.0; n]).collect();
        self.scratch = Scratch {
            z: vec![0.0; maxlen],
            tmp: vec![0.0; maxlen],
            s: vec![0.0; maxlen],
            xmod: vec![0.0; maxlen],
            c: vec![0.0; maxlen],
            col: vec![0.0; maxcol],
            col_mod: vec![0.0; (0..model.layers().len()).filter_map(|i| model.op(i)).map(|o| o.prepared_len()).max().unwrap_or(0)],
        };
        self.contrib = vec![0.0; maxlen];
        self.node_in = vec![0.0; model.layers().len()];
        self.saved_in = self.node_in.clone();
        let n_in = sizes[0];
        let stage = model.input_stage();
        // z^B's box per channel; the constant padding's box is the pad value
        self.lo = vec![stage.pad_value; n_in];
        self.hi = vec![stage.pad_value; n_in];
        let (ps, p) = (stage.padded_shape(), stage.pad);
        for c in 0..stage.channels {
            let (l, h) = stage.bounds(c);
            for y in 0..stage.height {
                let row = (c * ps.h + y + p) * ps.w + p;
                self.lo[row..row + stage.width].fill(l);
                self.hi[row..row + stage.width].fill(h);
            }
        }
        for v in [&mut self.xin, &mut self.xref, &mut self.map, &mut self.map2] {
            *v = vec![0.0; n_in];
        }
        let pixels = model.input_len();
        self.pix = vec![0.0; pixels];
        self.root = vec![0.0; pixels];
        self.start = vec![0.0; model.classes()];
        self.out = Explanation {
            heatmap: vec![0.0; pixels],
            logits: vec![0.0; model.classes()],
            probabilities: vec![0.0; model.classes()],
            layers: Vec::with_capacity(model.layers().len()),
            ..Default::default()
        };
        self.prepared = None;
        self.levels.clear();
        self.forward_of = Vec::with_capacity(pixels);
        self.model_id = model.id();
    }

    /// Forward pass on `pixels` (the model's input size, not validated), keeping every activation.
    fn forward(&mut self, model: &Model, pixels: &[f32]) {
        self.forward_of.clear();
        model.input_stage().apply(pixels, &mut self.acts[0]);
        for k in 0..model.layers().len() {
            let (a, b) = self.acts.split_at_mut(k + 1);
            model.forward_layer(k, a, &mut self.cols[k], &mut b[0]);
        }
    }

    /// The logits of the last forward pass.
    fn logits(&self) -> &[f32] {
        self.acts.last().expect("model has layers")
    }

    /// Gradient of `start . logits` with respect to every layer's input, into `rel`.
    fn backward(&mut self, model: &Model) {
        self.backward_to(model, 0)
    }

    /// [`Explainer::backward`] through nodes `lowest..` only (training skips the first layer's input).
    fn backward_to(&mut self, model: &Model, lowest: usize) {
        let n = model.layers().len();
        self.rel[n].copy_from_slice(&self.start);
        for k in (lowest..n).rev() {
            let (lo, hi) = self.rel.split_at_mut(k + 1);
            let (g, y) = (&hi[0], &self.acts[k + 1]);
            for (j, (&v, &sink)) in model.inputs(k).iter().zip(model.sinks(k)).enumerate() {
                match sink {
                    Sink::Write => model.backward_layer(k, j, &self.acts, y, g, &self.cols[k], &mut self.scratch.col, &mut lo[v]),
                    Sink::Add => {
                        let t = &mut self.contrib[..lo[v].len()];
                        model.backward_layer(k, j, &self.acts, y, g, &self.cols[k], &mut self.scratch.col, t);
                        lo[v].iter_mut().zip(t.iter()).for_each(|(a, b)| *a += b);
                    }
                }
            }
        }
    }

    /// Forward pass without validation (training).
    pub(crate) fn forward_pub(&mut self, model: &Model, pixels: &[f32]) {
        self.ensure(model);
        self.forward(model, pixels);
    }

    /// Backward pass of the gradient of `dlogits . logits` through nodes `lowest..` (training).
    pub(crate) fn backward_from(&mut self, model: &Model, dlogits: &[f32], lowest: usize) {
        self.start.copy_from_slice(dlogits);
        self.backward_to(model, lowest);
    }

    /// Node `k`'s buffer from the last forward pass (an LSTM's states).
    pub(crate) fn kept(&self, k: usize) -> &[f32] {
        &self.cols[k]
    }

    /// The im2col of convolution `i`'s input in the last forward pass: the buffer it kept, or made now
    /// for a convolution that computes without one (on its input, depthwise).
    pub(crate) fn im2col(&self, model: &Model, i: usize) -> Cow<'_, [f32]> {
        let Some(op @ LinOp::Conv { win, .. }) = model.op(i) else { return Cow::Borrowed(&[]) };
        if op.keeps_im2col() {
            return Cow::Borrowed(&self.cols[i]);
        }
        let mut col = vec![0.0; win.col_rows() * win.positions()];
        win.im2col(&self.acts[model.inputs(i)[0]], &mut col);
        Cow::Owned(col)
    }

    /// Runs the model on one input (`model.input_len()` pixels in [0, 1], CHW); returns logits,
    /// probabilities and the predicted class.
    pub fn predict(&mut self, model: &Model, pixels: &[f32]) -> Result<&Explanation> {
        validate_one(pixels, model.input_len())?;
        self.ensure(model);
        self.forward(model, pixels);
        self.forward_of.extend_from_slice(pixels);
        self.record_prediction();
        Ok(&self.out)
    }

    fn record_prediction(&mut self) {
        let logits = self.acts.last().expect("model has layers");
        self.out.logits.clear();
        self.out.logits.extend_from_slice(logits);
        softmax(logits, &mut self.out.probabilities);
        self.out.prediction = argmax(logits);
    }

    /// Explains the model's output for one input (`model.input_len()` pixels) with `method`.
    pub fn explain(&mut self, model: &Model, pixels: &[f32], method: &Method, query: &Query) -> Result<&Explanation> {
        validate_one(pixels, model.input_len())?;
        method.validate(model)?;
        let classes = model.classes();
        for c in [query.target, query.contrast].into_iter().flatten() {
            if c >= classes {
                return Err(LrpError::TargetOutOfRange { target: c, classes });
            }
        }
        self.ensure(model);
        if self.forward_of != pixels {
            self.forward(model, pixels);
            self.record_prediction();
        }
        let target = query.target.unwrap_or(self.out.prediction);
        if let Method::Lrp(c) = method.innermost() {
            self.prepare(model, c, !method.noisy());
        }
        let explained = match query.contrast {
            None => self.attribute(model, pixels, method, target, query.normalize),
            Some(k) => {
                // R(target) - R(k), each with the same rules; the target runs last so that
                // method extras (the Taylor root point) belong to it.
                let ek = self.attribute(model, pixels, method, k, query.normalize);
                std::mem::swap(&mut self.map, &mut self.map2);
                std::mem::swap(&mut self.rel, &mut self.saved);
                std::mem::swap(&mut self.node_in, &mut self.saved_in);
                std::mem::swap(&mut self.lstm, &mut self.lstm_saved);
                let et = self.attribute(model, pixels, method, target, query.normalize);
                self.map.iter_mut().zip(&self.map2).for_each(|(t, k)| *t -= k);
                if method.is_lrp() {
                    for (r, s) in self.rel.iter_mut().zip(&self.saved) {
                        r.iter_mut().zip(s).for_each(|(t, k)| *t -= k);
                    }
                    self.node_in.iter_mut().zip(&self.saved_in).for_each(|(t, k)| *t -= k);
                    let (l, s) = (&mut self.lstm, &self.lstm_saved);
                    l.rows.iter_mut().flatten().zip(s.rows.iter().flatten()).for_each(|(t, k)| *t -= k);
                    l.initial_state.iter_mut().zip(&s.initial_state).for_each(|(t, k)| *t -= k);
                }
                et - ek
            }
        };
        let out = &mut self.out;
        out.target = target;
        out.contrast = query.contrast;
        out.explained = explained;
        out.padding = model.input_stage().crop(&self.map, &mut out.heatmap);
        out.layers.clear();
        if method.is_lrp() && model.is_chain() {
            let mut below = ops::sum(&self.rel[0]);
            for (l, rel) in model.layers().iter().zip(&self.rel[1..]) {
                let above = ops::sum(rel);
                out.layers.push(LayerTotal { kind: l.kind(), relevance_out: above, relevance_in: below });
                below = above;
            }
        } else if method.is_lrp() {
            // a value several nodes read sums their shares: each node's own share was totalled in `lrp`
            for (k, l) in model.layers().iter().enumerate() {
                out.layers.push(LayerTotal { kind: l.kind(), relevance_out: ops::sum(&self.rel[k + 1]), relevance_in: self.node_in[k] });
            }
        }
        // field by field, so that the report's buffers are reused (a derived clone_from allocates)
        match &mut out.lstm {
            Some(l) if method.is_lrp() && model.has_lstm() => {
                l.rows.resize(self.lstm.rows.len(), Vec::new());
                l.rows.iter_mut().zip(&self.lstm.rows).for_each(|(a, b)| a.clone_from(b));
                l.initial_state.clone_from(&self.lstm.initial_state);
            }
            o => *o = (method.is_lrp() && model.has_lstm()).then(|| self.lstm.clone()),
        }
        if matches!(method, Method::SimpleTaylor) {
            out.root.get_or_insert_with(Vec::new).clone_from(&self.root);
        } else {
            out.root = None;
            out.root_value = None;
        }
        // every method leaves the activations at `pixels`
        self.forward_of.clear();
        self.forward_of.extend_from_slice(pixels);
        if let Some(i) = out.heatmap.iter().position(|v| !v.is_finite()) {
            return Err(LrpError::InvalidInput(format!("the explanation overflowed at pixel {i}: the model's values are too large for f32")));
        }
        Ok(&self.out)
    }

    /// LRP of only the relevance that passes through channel `channel` of value `value` (Concept
    /// Relevance Propagation, Achtibat et al. 2023: the relevance of every other channel of that value
    /// is set to zero on the way down). `value` is as in [`Explainer::layer_relevance`] (1 to the
    /// logits); a dense layer's channels are its units. The conditional heatmaps of all channels of a
    /// value add up to the heatmap (the rules are linear in the relevance from above).
    pub fn explain_conditional(&mut self, model: &Model, pixels: &[f32], method: &Method, query: &Query, value: usize, channel: usize) -> Result<&Explanation> {
        if !matches!(method, Method::Lrp(_)) {
            return Err(invalid_param("a conditional heatmap (one channel's relevance) needs an LRP method"));
        }
        let values = model.shapes().len();
        if value == 0 || value >= values {
            return Err(invalid_param(format!("value {value}: a channel of values 1 to {} (the input has no relevance to condition on)", values - 1)));
        }
        let channels = model.shapes()[value].c;
        if channel >= channels {
            return Err(invalid_param(format!("channel {channel} of value {value}, which has {channels}")));
        }
        self.condition = Some((value, channel));
        // the activations of `pixels` are kept, but the forward pass runs again, so that a conditional
        // explanation never reuses an unconditional one's state
        self.forward_of.clear();
        let r = self.explain(model, pixels, method, query).map(|_| ());
        self.condition = None;
        self.forward_of.clear();
        r.map(|_| &self.out)
    }

    /// Explains `n` inputs (`pixels` holds `n * model.input_len()` values) with the same method and query.
    pub fn explain_batch(&mut self, model: &Model, pixels: &[f32], method: &Method, query: &Query) -> Result<Vec<Explanation>> {
        validate_pixels(pixels, model.input_len())?;
        pixels.chunks_exact(model.input_len()).map(|p| self.explain(model, p, method, query).cloned()).collect()
    }

    /// The last prediction or explanation.
    pub fn last(&self) -> &Explanation {
        &self.out
    }

    /// Relevance (LRP) or gradient of value `i` from the last explanation (in a chain: at the input of
    /// layer `i`; `i = layers` for the output); CHW order, shape `model.shapes()[i]`.
    pub fn layer_relevance(&self, i: usize) -> Option<&[f32]> {
        self.rel.get(i).map(Vec::as_slice)
    }

    /// Value `i` of the last forward pass (in a chain: the input of layer `i`).
    pub fn activation(&self, i: usize) -> Option<&[f32]> {
        self.acts.get(i).map(Vec::as_slice)
    }

    /// A wrapper's buffers: kept from an earlier call, or made once per nesting level.
    fn take_level(&mut self) -> Level {
        self.levels.pop().unwrap_or_else(|| Level { pix: vec![0.0; self.pix.len()], acc: vec![0.0; self.map.len()] })
    }

    /// What a wrapper explains: the logit at the input (1 for a normalized LRP base), as its base would.
    fn wrapped_explained(&self, base: &Method, logit: f32, normalize: bool) -> f32 {
        if normalize && base.innermost().is_lrp() {
            1.0
        } else {
            logit
        }
    }

    /// The attribution for one class into `self.map` (model input space); returns the explained value.
    /// Expects the forward pass at `pixels` in `acts` (methods that run others restore it).
    fn attribute(&mut self, model: &Model, pixels: &[f32], method: &Method, class: usize, normalize: bool) -> f32 {
        let logit = self.logits()[class];
        self.start.fill(0.0);
        match method {
            Method::Lrp(_) => {
                self.start[class] = if normalize { 1.0 } else { logit };
                self.lrp(model);
                self.map.copy_from_slice(&self.rel[0]);
                self.start[class]
            }
            Method::Gradient | Method::Sensitivity | Method::GradientXInput => {
                self.start[class] = 1.0;
                self.gradient_family(model, method);
                logit
            }
            Method::IntegratedGradients { steps, base } => {
                self.integrated(model, pixels, base, class, normalize, *steps);
                self.wrapped_explained(base, logit, normalize)
            }
            Method::SmoothGrad { samples, sigma, seed, base } => {
                self.smooth(model, pixels, base, class, normalize, (*samples, *sigma, *seed));
                self.wrapped_explained(base, logit, normalize)
            }
            Method::SimpleTaylor => {
                self.start[class] = 1.0;
                let v = self.simple_taylor(model, pixels, class);
                self.out.root_value = Some(v);
                logit
            }
            Method::Occlusion { patch, stride } => {
                self.occlusion(model, pixels, class, *patch, *stride);
                logit
            }
        }
    }
}
