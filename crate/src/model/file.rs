//! The model file: one `.safetensors` container. Tensors are named `layers.{i}.weight` and
//! `layers.{i}.bias`; `__metadata__["lrp"]` holds a versioned JSON description of the architecture,
//! the input stage, the class names and the provenance. Everything is validated before use, and sizes
//! declared in the metadata are checked before any tensor is read.

use super::{Conv2d, Dense, InputStage, Layer, Model, Pool, MAX_ACTIVATION, MAX_PARAMETERS, SIDE};
use crate::error::{LrpError, Result};
use ndarray::{Array1, Array2, Array4};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Version of the metadata format this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;
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

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum LayerSpec {
    Dense { inputs: usize, outputs: usize },
    Conv2d { in_channels: usize, out_channels: usize, kernel: [usize; 2], stride: [usize; 2], padding: usize },
    Relu,
    Tanh,
    MaxPool2d { kernel: [usize; 2], stride: [usize; 2] },
    AvgPool2d { kernel: [usize; 2], stride: [usize; 2] },
    SumPool2d { kernel: [usize; 2], stride: [usize; 2], scale: f32 },
    Flatten,
}

#[derive(Serialize, Deserialize)]
struct InputSpec {
    height: usize,
    width: usize,
    channels: usize,
    #[serde(flatten)]
    stage: InputStage,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    input: InputSpec,
    layers: Vec<LayerSpec>,
    #[serde(flatten)]
    meta: ModelMeta,
}

fn fmt_err(msg: impl Into<String>) -> LrpError {
    LrpError::ModelFormat(msg.into())
}

/// Parameter count a spec declares, with overflow checks (refuses absurd sizes before allocating).
fn declared_params(spec: &LayerSpec) -> Option<usize> {
    match spec {
        LayerSpec::Dense { inputs, outputs } => inputs.checked_mul(*outputs)?.checked_add(*outputs),
        LayerSpec::Conv2d { in_channels, out_channels, kernel, .. } => {
            in_channels.checked_mul(*out_channels)?.checked_mul(kernel[0])?.checked_mul(kernel[1])?.checked_add(*out_channels)
        }
        _ => Some(0),
    }
}

fn read_tensor(st: &SafeTensors, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let t = st.tensor(name).map_err(|_| fmt_err(format!("tensor `{name}` is missing")))?;
    if t.dtype() != Dtype::F32 {
        return Err(fmt_err(format!("tensor `{name}` has dtype {:?}; only F32 is supported", t.dtype())));
    }
    if t.shape() != shape {
        return Err(LrpError::InvalidModel(format!("tensor `{name}` has shape {:?} but the architecture needs {:?}", t.shape(), shape)));
    }
    let v: Vec<f32> = t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    if let Some(bad) = v.iter().position(|x| !x.is_finite()) {
        return Err(LrpError::InvalidModel(format!("tensor `{name}` holds a non-finite value ({}) at index {bad}", v[bad])));
    }
    Ok(v)
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
    let header: Header = serde_json::from_str(json).map_err(|e| fmt_err(format!("metadata: {e}")))?;
    if header.format != "lrp-live-model" {
        return Err(fmt_err(format!("metadata format `{}` is not `lrp-live-model`", header.format)));
    }
    if header.version != FORMAT_VERSION {
        return Err(fmt_err(format!("metadata version {} is not supported (this build reads version {FORMAT_VERSION})", header.version)));
    }
    let inp = &header.input;
    if (inp.height, inp.width, inp.channels) != (SIDE, SIDE, 1) {
        return Err(LrpError::InvalidModel(format!("the model takes {}x{}x{} inputs; only 28x28x1 (MNIST) is supported", inp.height, inp.width, inp.channels)));
    }
    let mut total = 0usize;
    for (i, spec) in header.layers.iter().enumerate() {
        let p = declared_params(spec).ok_or_else(|| LrpError::InvalidModel(format!("layer {i}: declared size overflows")))?;
        total = total.saturating_add(p);
        if let LayerSpec::Dense { outputs: n, .. } | LayerSpec::Conv2d { out_channels: n, .. } = spec {
            if *n > MAX_ACTIVATION {
                return Err(LrpError::InvalidModel(format!("layer {i} declares {n} units (limit {MAX_ACTIVATION})")));
            }
        }
    }
    if total > MAX_PARAMETERS {
        return Err(LrpError::InvalidModel(format!("the model declares {total} parameters (limit {MAX_PARAMETERS})")));
    }
    let st = SafeTensors::deserialize(bytes).map_err(|e| fmt_err(format!("not a valid safetensors file ({e})")))?;
    let mut layers = Vec::with_capacity(header.layers.len());
    for (i, spec) in header.layers.iter().enumerate() {
        let (wn, bn) = (format!("layers.{i}.weight"), format!("layers.{i}.bias"));
        layers.push(match *spec {
            LayerSpec::Dense { inputs, outputs } => {
                let w = read_tensor(&st, &wn, &[outputs, inputs])?;
                let b = read_tensor(&st, &bn, &[outputs])?;
                Layer::Dense(Dense { weight: Array2::from_shape_vec((outputs, inputs), w).expect("checked shape"), bias: Array1::from(b) })
            }
            LayerSpec::Conv2d { in_channels, out_channels, kernel, stride, padding } => {
                let shape = [out_channels, in_channels, kernel[0], kernel[1]];
                let w = read_tensor(&st, &wn, &shape)?;
                let b = read_tensor(&st, &bn, &[out_channels])?;
                let weight = Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), w).expect("checked shape");
                Layer::Conv2d(Conv2d { weight, bias: Array1::from(b), stride, padding })
            }
            LayerSpec::Relu => Layer::Relu,
            LayerSpec::Tanh => Layer::Tanh,
            LayerSpec::MaxPool2d { kernel, stride } => Layer::MaxPool2d(Pool { kernel, stride }),
            LayerSpec::AvgPool2d { kernel, stride } => Layer::AvgPool2d(Pool { kernel, stride }),
            LayerSpec::SumPool2d { kernel, stride, scale } => Layer::SumPool2d(Pool { kernel, stride }, scale),
            LayerSpec::Flatten => Layer::Flatten,
        });
    }
    Model::new(header.input.stage, layers, header.meta)
}

fn spec_of(layer: &Layer) -> LayerSpec {
    match layer {
        Layer::Dense(d) => LayerSpec::Dense { inputs: d.weight.dim().1, outputs: d.weight.dim().0 },
        Layer::Conv2d(c) => {
            let (oc, ic, kh, kw) = c.weight.dim();
            LayerSpec::Conv2d { in_channels: ic, out_channels: oc, kernel: [kh, kw], stride: c.stride, padding: c.padding }
        }
        Layer::Relu => LayerSpec::Relu,
        Layer::Tanh => LayerSpec::Tanh,
        Layer::MaxPool2d(p) => LayerSpec::MaxPool2d { kernel: p.kernel, stride: p.stride },
        Layer::AvgPool2d(p) => LayerSpec::AvgPool2d { kernel: p.kernel, stride: p.stride },
        Layer::SumPool2d(p, s) => LayerSpec::SumPool2d { kernel: p.kernel, stride: p.stride, scale: *s },
        Layer::Flatten => LayerSpec::Flatten,
    }
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Model {
    /// Serializes the model to the `.safetensors` bytes [`Model::try_from`] reads back.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let header = Header {
            format: "lrp-live-model".into(),
            version: FORMAT_VERSION,
            input: InputSpec { height: SIDE, width: SIDE, channels: 1, stage: self.input_stage().clone() },
            layers: self.layers().iter().map(spec_of).collect(),
            meta: self.meta().clone(),
        };
        let json = serde_json::to_string(&header).map_err(|e| fmt_err(e.to_string()))?;
        let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (i, layer) in self.layers().iter().enumerate() {
            let (w, b, shape): (Vec<f32>, Vec<f32>, Vec<usize>) = match layer {
                Layer::Dense(d) => (d.weight.iter().copied().collect(), d.bias.to_vec(), d.weight.shape().to_vec()),
                Layer::Conv2d(c) => (c.weight.iter().copied().collect(), c.bias.to_vec(), c.weight.shape().to_vec()),
                _ => continue,
            };
            buffers.push((format!("layers.{i}.bias"), vec![b.len()], le_bytes(&b)));
            buffers.push((format!("layers.{i}.weight"), shape, le_bytes(&w)));
        }
        let views = buffers
            .iter()
            .map(|(n, s, d)| TensorView::new(Dtype::F32, s.clone(), d).map(|v| (n.clone(), v)))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| fmt_err(e.to_string()))?;
        let meta: HashMap<String, String> = [(META_KEY.to_string(), json)].into();
        safetensors::serialize(views, &Some(meta)).map_err(|e| fmt_err(e.to_string()))
    }
}
