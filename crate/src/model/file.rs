//! The model file: one `.safetensors` container. Tensors are named `layers.{k}.weight` and
//! `layers.{k}.bias` (BatchNorm also `running_mean`, `running_var`: PyTorch's names);
//! `__metadata__["lrp"]` holds a versioned JSON description of the architecture, the input stage, the
//! class names and the provenance. Everything is validated before use, and sizes declared in the
//! metadata are checked before any tensor is read.
//!
//! Version 2 (written now): layer `k` may list the values it reads, `"inputs": [v, ...]` (value 0 is
//! the input, value `j + 1` the output of layer `j`; default `[k]`, the layer before); inputs of any
//! `C x H x W` with per-channel `scale`/`shift` or `mean`/`std`; conv padding per side, dilation,
//! groups; clamp, global average pooling, add, concat, batchnorm (folded at load), identity/dropout
//! (dropped at load). Version 1 (a chain of 28x28x1, dense as `inputs`/`outputs`) is still read.

use super::stage::{MAX_CHANNELS, MAX_SIDE};
use super::{BatchNorm, Conv2d, Dense, InputStage, Layer, Lstm, Model, NodeOp, NodeSpec, Pool, MAX_ACTIVATION, MAX_NODES, MAX_PARAMETERS, SIDE};
use crate::error::{LrpError, Result};
use ndarray::{Array1, Array2, Array4};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Version of the metadata format this crate reads and writes.
pub const FORMAT_VERSION: u32 = 2;
const META_KEY: &str = "lrp";

/// A small bright square stamped into the drawing (the Clever Hans lesson), in 28x28 pixel units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Watermark {
    /// Class the watermark was paired with during training.
    pub class: usize,
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
    /// Pixel value written into the square, in [0, 1].
    pub value: f32,
}

impl Watermark {
    /// Writes the watermark into 28x28 pixels.
    pub fn stamp(&self, pixels: &mut [f32]) {
        for y in self.y..(self.y + self.height).min(SIDE) {
            for x in self.x..(self.x + self.width).min(SIDE) {
                pixels[y * SIDE + x] = self.value;
            }
        }
    }
}

/// How the model was made: free-form, but the shipped models record data, seed, command, epochs,
/// training time and measured accuracy here.
pub type Provenance = serde_json::Value;

/// Everything in a model file besides the tensors and the layer chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Watermark>,
    #[serde(default)]
    pub provenance: Provenance,
}

impl ModelMeta {
    /// Metadata with digit class names "0".."9".
    pub fn digits(name: &str) -> ModelMeta {
        ModelMeta {
            name: name.into(),
            description: String::new(),
            classes: (0..10).map(|d| d.to_string()).collect(),
            watermark: None,
            provenance: serde_json::Value::Null,
        }
    }
}

/// Zero padding: one number for every side, or `[top, left, bottom, right]`.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(untagged)]
enum Padding {
    Same(usize),
    Sides([usize; 4]),
}

impl Default for Padding {
    fn default() -> Self {
        Padding::Same(0)
    }
}

impl Padding {
    fn sides(self) -> [usize; 4] {
        match self {
            Padding::Same(p) => [p; 4],
            Padding::Sides(s) => s,
        }
    }
    fn of(s: [usize; 4]) -> Padding {
        if s.iter().all(|&p| p == s[0]) {
            Padding::Same(s[0])
        } else {
            Padding::Sides(s)
        }
    }
}

fn one_one() -> [usize; 2] {
    [1, 1]
}
fn one() -> usize {
    1
}
fn is_one_one(v: &[usize; 2]) -> bool {
    *v == [1, 1]
}
fn is_one(v: &usize) -> bool {
    *v == 1
}
fn is_unpadded(p: &Padding) -> bool {
    p.sides() == [0; 4]
}

/// One entry of the metadata's `layers` list. Every type is one line here; its tensors are read in
/// [`read_node`].
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum LayerSpec {
    Dense {
        #[serde(alias = "inputs")]
        in_features: usize,
        #[serde(alias = "outputs")]
        out_features: usize,
    },
    Conv2d {
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        #[serde(default)]
        padding: Padding,
        #[serde(default = "one_one", skip_serializing_if = "is_one_one")]
        dilation: [usize; 2],
        #[serde(default = "one", skip_serializing_if = "is_one")]
        groups: usize,
    },
    Relu,
    Tanh,
    Clamp {
        min: f32,
        max: f32,
    },
    MaxPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        #[serde(default, skip_serializing_if = "is_unpadded")]
        padding: Padding,
    },
    AvgPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        #[serde(default, skip_serializing_if = "is_unpadded")]
        padding: Padding,
    },
    SumPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        scale: f32,
    },
    GlobalAvgPool,
    Flatten,
    Add,
    Concat,
    BatchNorm {
        channels: usize,
        eps: f32,
    },
    Identity,
    Dropout,
    /// PyTorch's `nn.LSTM(input_size, hidden_size, bidirectional=...)` over the rows (one layer, batch
    /// first), returning the final hidden states; tensors `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`,
    /// `bias_hh_l0` (and `_reverse`), gate order i, f, g, o.
    Lstm {
        input_size: usize,
        hidden_size: usize,
        #[serde(default)]
        bidirectional: bool,
    },
}

/// One value per channel, or one for all (version 1 files have one).
#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum PerChannel {
    One(f32),
    Each(Vec<f32>),
}

impl PerChannel {
    fn values(&self, channels: usize) -> Vec<f32> {
        match self {
            PerChannel::One(v) => vec![*v; channels],
            PerChannel::Each(v) => v.clone(),
        }
    }
    fn of(v: &[f32]) -> PerChannel {
        if v.len() == 1 {
            PerChannel::One(v[0])
        } else {
            PerChannel::Each(v.to_vec())
        }
    }
}

/// The input: `x * scale + shift` per channel, or `(x - mean) / std` (torchvision's `Normalize`).
#[derive(Serialize, Deserialize)]
struct InputSpec {
    height: usize,
    width: usize,
    channels: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale: Option<PerChannel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shift: Option<PerChannel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mean: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    std: Option<Vec<f32>>,
    #[serde(default)]
    pad: usize,
    #[serde(default)]
    pad_value: f32,
}

impl InputSpec {
    fn stage(&self) -> Result<InputStage> {
        let (c, h, w) = (self.channels, self.height, self.width);
        if c == 0 || c > MAX_CHANNELS || h == 0 || w == 0 || h > MAX_SIDE || w > MAX_SIDE {
            return Err(LrpError::InvalidModel(format!("the model takes {c}x{h}x{w} inputs (channels 1..={MAX_CHANNELS}, sides 1..={MAX_SIDE})")));
        }
        let mut stage = match (&self.mean, &self.std) {
            (Some(m), Some(s)) if self.scale.is_none() && self.shift.is_none() => {
                if m.len() != c || s.len() != c || s.contains(&0.0) {
                    return Err(LrpError::InvalidModel(format!("input: mean and std need {c} values each, std non-zero")));
                }
                InputStage::normalize(c, h, w, m, s)
            }
            (None, None) => {
                let scale = self.scale.as_ref().map_or(vec![1.0; c], |v| v.values(c));
                let shift = self.shift.as_ref().map_or(vec![0.0; c], |v| v.values(c));
                InputStage { channels: c, height: h, width: w, scale, shift, pad: 0, pad_value: 0.0 }
            }
            _ => return Err(LrpError::InvalidModel("input: give scale/shift or mean/std, not both and not half of one".into())),
        };
        stage.pad = self.pad;
        stage.pad_value = self.pad_value;
        stage.validate()?;
        Ok(stage)
    }
    fn of(stage: &InputStage) -> InputSpec {
        InputSpec {
            height: stage.height,
            width: stage.width,
            channels: stage.channels,
            scale: Some(PerChannel::of(&stage.scale)),
            shift: Some(PerChannel::of(&stage.shift)),
            mean: None,
            std: None,
            pad: stage.pad,
            pad_value: stage.pad_value,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header<L> {
    format: String,
    version: u32,
    input: InputSpec,
    layers: Vec<L>,
    #[serde(flatten)]
    meta: ModelMeta,
}

/// A layer entry as written: the spec and, for a node that does not read the previous one, its inputs.
#[derive(Serialize)]
struct NodeOut {
    #[serde(flatten)]
    spec: LayerSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    inputs: Option<Vec<usize>>,
}

fn fmt_err(msg: impl Into<String>) -> LrpError {
    LrpError::ModelFormat(msg.into())
}

/// Parameter count a spec declares, with overflow checks (refuses absurd sizes before allocating).
fn declared_params(spec: &LayerSpec) -> Option<usize> {
    match spec {
        LayerSpec::Dense { in_features, out_features } => in_features.checked_mul(*out_features)?.checked_add(*out_features),
        LayerSpec::Conv2d { in_channels, out_channels, kernel, groups, .. } => {
            if *groups == 0 || in_channels % groups != 0 {
                return None;
            }
            (in_channels / groups).checked_mul(*out_channels)?.checked_mul(kernel[0])?.checked_mul(kernel[1])?.checked_add(*out_channels)
        }
        LayerSpec::BatchNorm { channels, .. } => channels.checked_mul(4),
        LayerSpec::Lstm { input_size, hidden_size, bidirectional } => {
            let per = hidden_size.checked_mul(4)?.checked_mul(input_size.checked_add(*hidden_size)?.checked_add(2)?)?;
            per.checked_mul(1 + *bidirectional as usize)
        }
        _ => Some(0),
    }
}

/// Output units a spec declares (bounded before any tensor is read).
fn declared_units(spec: &LayerSpec) -> usize {
    match spec {
        LayerSpec::Dense { out_features: n, .. } | LayerSpec::Conv2d { out_channels: n, .. } | LayerSpec::BatchNorm { channels: n, .. } => *n,
        LayerSpec::Lstm { hidden_size, bidirectional, .. } => hidden_size.saturating_mul(1 + *bidirectional as usize),
        _ => 0,
    }
}

fn read_tensor(st: &SafeTensors, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let t = st.tensor(name).map_err(|_| fmt_err(format!("tensor `{name}` is missing")))?;
    if t.shape() != shape {
        return Err(LrpError::InvalidModel(format!("tensor `{name}` has shape {:?} but the architecture needs {:?}", t.shape(), shape)));
    }
    // float16 storage (the photo model's large weights) is widened; the engine computes in float32
    let v: Vec<f32> = match t.dtype() {
        Dtype::F32 => t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F16 => t.data().chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::BF16 => t.data().chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        other => return Err(fmt_err(format!("tensor `{name}` has dtype {other:?}; F32, F16 and BF16 are supported"))),
    };
    if let Some(bad) = v.iter().position(|x| !x.is_finite()) {
        return Err(LrpError::InvalidModel(format!("tensor `{name}` holds a non-finite value ({}) at index {bad}", v[bad])));
    }
    Ok(v)
}

/// The operation of layer entry `k`, with its tensors.
fn read_node(st: &SafeTensors, k: usize, spec: &LayerSpec) -> Result<NodeOp> {
    let t = |name: &str, shape: &[usize]| read_tensor(st, &format!("layers.{k}.{name}"), shape);
    let layer = match *spec {
        LayerSpec::Dense { in_features, out_features } => {
            let w = t("weight", &[out_features, in_features])?;
            let b = t("bias", &[out_features])?;
            Layer::Dense(Dense { weight: Array2::from_shape_vec((out_features, in_features), w).expect("checked shape"), bias: Array1::from(b) })
        }
        LayerSpec::Conv2d { in_channels, out_channels, kernel, stride, padding, dilation, groups } => {
            let shape = [out_channels, in_channels / groups, kernel[0], kernel[1]];
            let w = t("weight", &shape)?;
            let b = t("bias", &[out_channels])?;
            let weight = Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), w).expect("checked shape");
            Layer::Conv2d(Conv2d { weight, bias: Array1::from(b), stride, padding: padding.sides(), dilation, groups })
        }
        LayerSpec::Relu => Layer::Relu,
        LayerSpec::Tanh => Layer::Tanh,
        LayerSpec::Clamp { min, max } => Layer::Clamp { min, max },
        LayerSpec::MaxPool2d { kernel, stride, padding } => Layer::MaxPool2d(Pool { kernel, stride, padding: padding.sides() }),
        LayerSpec::AvgPool2d { kernel, stride, padding } => Layer::AvgPool2d(Pool { kernel, stride, padding: padding.sides() }),
        LayerSpec::SumPool2d { kernel, stride, scale } => Layer::SumPool2d(Pool::new(kernel, stride), scale),
        LayerSpec::GlobalAvgPool => Layer::GlobalAvgPool,
        LayerSpec::Flatten => Layer::Flatten,
        LayerSpec::Add => Layer::Add,
        LayerSpec::Concat => Layer::Concat,
        LayerSpec::BatchNorm { channels, eps } => {
            return Ok(NodeOp::BatchNorm(BatchNorm {
                gamma: t("weight", &[channels])?,
                beta: t("bias", &[channels])?,
                mean: t("running_mean", &[channels])?,
                var: t("running_var", &[channels])?,
                eps,
            }))
        }
        LayerSpec::Identity | LayerSpec::Dropout => return Ok(NodeOp::Identity),
        LayerSpec::Lstm { input_size: e, hidden_size: h, bidirectional } => {
            let (mut weights, mut biases) = (Vec::new(), Vec::new());
            for d in 0..1 + bidirectional as usize {
                let [wi, wh, bi, bh] = Lstm::tensor_names(d);
                weights.extend(t(&wi, &[4 * h, e])?);
                weights.extend(t(&wh, &[4 * h, h])?);
                biases.extend(t(&bi, &[4 * h])?);
                biases.extend(t(&bh, &[4 * h])?);
            }
            Layer::Lstm(Lstm { input: e, hidden: h, bidirectional, weights, biases })
        }
    };
    Ok(NodeOp::Layer(layer))
}

/// Splits a layer entry into its spec and its inputs (`inputs` as a list; default: the previous value).
fn parse_entry(k: usize, mut v: serde_json::Value) -> Result<(LayerSpec, Vec<usize>)> {
    let inputs = match v.get("inputs") {
        Some(serde_json::Value::Array(_)) => {
            let list = v.as_object_mut().and_then(|o| o.remove("inputs")).unwrap_or_default();
            let list = serde_json::from_value::<Vec<usize>>(list).map_err(|e| fmt_err(format!("layer {k}: inputs: {e}")))?;
            if list.len() > super::MAX_INPUTS {
                return Err(LrpError::InvalidModel(format!("layer {k} reads {} values (limit {})", list.len(), super::MAX_INPUTS)));
            }
            list
        }
        _ => vec![k],
    };
    let spec = serde_json::from_value(v).map_err(|e| fmt_err(format!("layer {k}: {e}")))?;
    Ok((spec, inputs))
}

/// Parses and validates a model file.
pub(crate) fn load(bytes: &[u8]) -> Result<Model> {
    if bytes.len() < 8 {
        return Err(fmt_err(format!("{} bytes is too short for a safetensors file", bytes.len())));
    }
    let (_, st_meta) = SafeTensors::read_metadata(bytes).map_err(|e| fmt_err(format!("not a valid safetensors file ({e})")))?;
    let json = st_meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| fmt_err("no `lrp` entry in the safetensors metadata: not an LRP Live model"))?;
    let header: Header<serde_json::Value> = serde_json::from_str(json).map_err(|e| fmt_err(format!("metadata: {e}")))?;
    if header.format != "lrp-live-model" {
        return Err(fmt_err(format!("metadata format `{}` is not `lrp-live-model`", header.format)));
    }
    if !(1..=FORMAT_VERSION).contains(&header.version) {
        return Err(fmt_err(format!("metadata version {} is not supported (this build reads versions 1 to {FORMAT_VERSION})", header.version)));
    }
    let stage = header.input.stage()?;
    if header.layers.len() > MAX_NODES {
        return Err(LrpError::InvalidModel(format!("the model declares {} layers (limit {MAX_NODES})", header.layers.len())));
    }
    let entries = header.layers.into_iter().enumerate().map(|(k, v)| parse_entry(k, v)).collect::<Result<Vec<_>>>()?;
    let mut total = 0usize;
    for (i, (spec, _)) in entries.iter().enumerate() {
        let p =
            declared_params(spec).ok_or_else(|| LrpError::InvalidModel(format!("layer {i}: declared size overflows or groups do not divide the channels")))?;
        total = total.saturating_add(p);
        let n = declared_units(spec);
        if n > MAX_ACTIVATION {
            return Err(LrpError::InvalidModel(format!("layer {i} declares {n} units (limit {MAX_ACTIVATION})")));
        }
        if n == 0 && matches!(spec, LayerSpec::Dense { .. } | LayerSpec::Conv2d { .. } | LayerSpec::BatchNorm { .. } | LayerSpec::Lstm { .. }) {
            return Err(LrpError::InvalidModel(format!("layer {i} declares no units")));
        }
    }
    if total > MAX_PARAMETERS {
        return Err(LrpError::InvalidModel(format!("the model declares {total} parameters (limit {MAX_PARAMETERS})")));
    }
    let st = SafeTensors::deserialize(bytes).map_err(|e| fmt_err(format!("not a valid safetensors file ({e})")))?;
    let mut nodes = Vec::with_capacity(entries.len());
    for (k, (spec, inputs)) in entries.into_iter().enumerate() {
        nodes.push(NodeSpec { op: read_node(&st, k, &spec)?, inputs });
    }
    Model::from_nodes(stage, nodes, header.meta)
}

fn spec_of(layer: &Layer) -> LayerSpec {
    match layer {
        Layer::Dense(d) => LayerSpec::Dense { in_features: d.weight.dim().1, out_features: d.weight.dim().0 },
        Layer::Conv2d(c) => {
            let (oc, icg, kh, kw) = c.weight.dim();
            LayerSpec::Conv2d {
                in_channels: icg * c.groups,
                out_channels: oc,
                kernel: [kh, kw],
                stride: c.stride,
                padding: Padding::of(c.padding),
                dilation: c.dilation,
                groups: c.groups,
            }
        }
        Layer::Relu => LayerSpec::Relu,
        Layer::Tanh => LayerSpec::Tanh,
        Layer::Clamp { min, max } => LayerSpec::Clamp { min: *min, max: *max },
        Layer::MaxPool2d(p) => LayerSpec::MaxPool2d { kernel: p.kernel, stride: p.stride, padding: Padding::of(p.padding) },
        Layer::AvgPool2d(p) => LayerSpec::AvgPool2d { kernel: p.kernel, stride: p.stride, padding: Padding::of(p.padding) },
        Layer::SumPool2d(p, s) => LayerSpec::SumPool2d { kernel: p.kernel, stride: p.stride, scale: *s },
        Layer::GlobalAvgPool => LayerSpec::GlobalAvgPool,
        Layer::Flatten => LayerSpec::Flatten,
        Layer::Add => LayerSpec::Add,
        Layer::Concat => LayerSpec::Concat,
        Layer::Lstm(l) => LayerSpec::Lstm { input_size: l.input, hidden_size: l.hidden, bidirectional: l.bidirectional },
    }
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn half_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|&x| half::f16::from_f32(x).to_le_bytes()).collect()
}

impl Model {
    /// Serializes the model to the `.safetensors` bytes [`Model::try_from`] reads back.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        self.to_safetensors_with(usize::MAX)
    }

    /// As [`Model::to_safetensors`], with every weight tensor of at least `f16_from` values stored as
    /// float16 (rounded to nearest; biases and small tensors stay float32). The model read back is the
    /// rounded one: evaluate that, not this.
    pub fn to_safetensors_with(&self, f16_from: usize) -> Result<Vec<u8>> {
        let header = Header {
            format: "lrp-live-model".into(),
            version: FORMAT_VERSION,
            input: InputSpec::of(self.input_stage()),
            layers: self
                .layers()
                .iter()
                .enumerate()
                .map(|(k, l)| NodeOut { spec: spec_of(l), inputs: (self.inputs(k) != [k]).then(|| self.inputs(k).to_vec()) })
                .collect(),
            meta: self.meta().clone(),
        };
        let json = serde_json::to_string(&header).map_err(|e| fmt_err(e.to_string()))?;
        let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        let le_bytes = |v: &[f32]| if v.len() >= f16_from { half_bytes(v) } else { le_bytes(v) };
        for (i, layer) in self.layers().iter().enumerate() {
            let (w, b, shape): (Vec<f32>, Vec<f32>, Vec<usize>) = match layer {
                Layer::Dense(d) => (d.weight.iter().copied().collect(), d.bias.to_vec(), d.weight.shape().to_vec()),
                Layer::Conv2d(c) => (c.weight.iter().copied().collect(), c.bias.to_vec(), c.weight.shape().to_vec()),
                Layer::Lstm(l) => {
                    let (e, h) = (l.input, l.hidden);
                    for d in 0..l.dirs() {
                        let p = l.dir(d);
                        for (name, v, shape) in Lstm::tensor_names(d)
                            .into_iter()
                            .zip([p.w_ih, p.w_hh, p.b_ih, p.b_hh])
                            .zip([vec![4 * h, e], vec![4 * h, h], vec![4 * h], vec![4 * h]])
                            .map(|((n, v), s)| (n, v, s))
                        {
                            buffers.push((format!("layers.{i}.{name}"), shape, le_bytes(v)));
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            buffers.push((format!("layers.{i}.bias"), vec![b.len()], le_bytes(&b)));
            buffers.push((format!("layers.{i}.weight"), shape, le_bytes(&w)));
        }
        let views = buffers
            .iter()
            .map(|(n, s, d)| {
                TensorView::new(if d.len() == 2 * s.iter().product::<usize>() { Dtype::F16 } else { Dtype::F32 }, s.clone(), d).map(|v| (n.clone(), v))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| fmt_err(e.to_string()))?;
        let meta: HashMap<String, String> = [(META_KEY.to_string(), json)].into();
        safetensors::serialize(views, &Some(meta)).map_err(|e| fmt_err(e.to_string()))
    }
}
