//! ONNX import: an `.onnx` file (opsets 11 to 21, as PyTorch's exporters and tf2onnx write them) to the
//! engine's [`Model`]. The protobuf is decoded by prost (types generated from the vendored
//! `proto/onnx.proto`); the graph is walked in topological order. Tensors the input does not reach
//! (initializers, `Constant` nodes and the shape arithmetic built on them, such as the "SAME" padding
//! of TensorFlow-style convolutions) are folded to constants at load, a constant zero `Pad` becomes the
//! padding of the convolution it feeds, a bias `Add` after `MatMul` or `Conv` joins that layer, and a
//! final `Softmax`/`LogSoftmax` is removed so that the logit is explained. Anything else is refused
//! with one message that names every unsupported operator and its node. Nothing is half-loaded.

pub mod proto;
mod tensor;

use super::{BatchNorm, Conv2d, Dense, InputStage, Layer, Model, ModelMeta, NodeOp, NodeSpec, Pool, Shape, MAX_ACTIVATION, MAX_NODES};
use crate::error::{LrpError, Result};
use ndarray::{Array1, Array2, Array4};
use prost::Message;
use proto::{attribute_proto::AttributeType, tensor_shape_proto::dimension::Value as Dim, type_proto::Value as TypeValue, NodeProto};
use std::collections::{HashMap, HashSet};
use tensor::{axis, Const, Data};

/// The opsets of the default domain this loader reads.
pub const OPSETS: std::ops::RangeInclusive<i64> = 11..=21;
/// Largest number of ONNX nodes read (shape arithmetic included).
pub const MAX_ONNX_NODES: usize = 100_000;

/// The operators that become layers (or pass their input on).
pub const LAYER_OPERATORS: &[&str] = &[
    "Gemm",
    "MatMul",
    "Conv",
    "Relu",
    "Clip",
    "Tanh",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "ReduceMean",
    "Flatten",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
    "BatchNormalization",
    "Add",
    "Concat",
    "Identity",
    "Dropout",
    "Softmax",
    "LogSoftmax",
    "Pad",
];
/// The operators folded on constants at load (shape arithmetic).
pub const CONSTANT_OPERATORS: &[&str] =
    &["Constant", "Shape", "Gather", "ConstantOfShape", "Slice", "Transpose", "Cast", "Sub", "Mul", "Div", "Ceil", "Floor", "Neg"];

/// What an ONNX file does not say: how pixels in [0, 1] become the model's input, the class names and
/// the model's name.
#[derive(Clone, Debug, PartialEq)]
pub struct OnnxOptions {
    pub name: String,
    /// Per channel (or one value for all): the input is `pixel * scale + shift`.
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
    /// Class names (default "0", "1", ...).
    pub classes: Option<Vec<String>>,
}

impl Default for OnnxOptions {
    fn default() -> Self {
        OnnxOptions { name: "onnx".into(), scale: vec![1.0], shift: vec![0.0], classes: None }
    }
}

impl OnnxOptions {
    /// Options with per-channel mean and standard deviation (the input is `(pixel - mean) / std`);
    /// an error unless there are as many of each and every std is finite and positive.
    pub fn with_mean_std(mut self, mean: &[f32], std: &[f32]) -> Result<OnnxOptions> {
        if mean.is_empty() || mean.len() != std.len() || std.iter().any(|s| !(s.is_finite() && *s > 0.0)) || mean.iter().any(|m| !m.is_finite()) {
            return Err(LrpError::InvalidParameter(format!("input mean {mean:?} and std {std:?}: as many of each, every std finite and > 0")));
        }
        (self.scale, self.shift) = super::stage::mean_std_affine(mean, std);
        Ok(self)
    }
}

fn err(msg: impl Into<String>) -> LrpError {
    LrpError::Onnx(msg.into())
}

/// Reads an ONNX model (every size bounded before allocating).
pub fn import_onnx(bytes: &[u8], options: &OnnxOptions) -> Result<Model> {
    let model = proto::ModelProto::decode(bytes).map_err(|e| err(format!("not an ONNX model (the protobuf does not decode: {e})")))?;
    let graph = model.graph.as_ref().ok_or_else(|| err("the file is a protobuf but holds no ONNX graph"))?;
    if graph.node.is_empty() {
        return Err(err("the ONNX graph has no nodes"));
    }
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain().is_empty() || o.domain() == "ai.onnx")
        .map(|o| o.version())
        .ok_or_else(|| err("the model imports no opset of the default ONNX domain"))?;
    if !OPSETS.contains(&opset) {
        return Err(err(format!("opset {opset} is not supported (this build reads opsets {} to {})", OPSETS.start(), OPSETS.end())));
    }
    if graph.node.len() > MAX_ONNX_NODES {
        return Err(err(format!("{} nodes is more than the limit of {MAX_ONNX_NODES}", graph.node.len())));
    }
    unsupported(&graph.node)?;
    let mut b = Builder::new(graph, opset)?;
    let order = topological(graph, &b.values)?;
    for &i in &order {
        let node = &graph.node[i];
        b.node(node).map_err(|e| err(format!("node \"{}\" ({}): {e}", node.name(), node.op_type())))?;
    }
    let meta = b.meta(&model, options)?;
    let (stage, nodes) = b.finish(options)?;
    Model::from_nodes(stage, nodes, meta).map_err(|e| match e {
        LrpError::InvalidModel(m) => err(m),
        other => other,
    })
}

/// One message naming every unsupported operator (and other domains' operators) with its node.
fn unsupported(nodes: &[NodeProto]) -> Result<()> {
    let bad: Vec<&NodeProto> = nodes
        .iter()
        .filter(|n| {
            let domain = n.domain();
            !(domain.is_empty() || domain == "ai.onnx") || !(LAYER_OPERATORS.contains(&n.op_type()) || CONSTANT_OPERATORS.contains(&n.op_type()))
        })
        .collect();
    let Some(first) = bad.first() else { return Ok(()) };
    let op = |n: &NodeProto| if n.domain().is_empty() { n.op_type().to_string() } else { format!("{}::{}", n.domain(), n.op_type()) };
    let listed: Vec<String> = bad.iter().skip(1).take(5).map(|n| format!("{} at \"{}\"", op(n), n.name())).collect();
    let etc = if bad.len() > 6 { ", ..." } else { "" };
    let more = if bad.len() > 1 { format!(" (and {} more: {}{etc})", bad.len() - 1, listed.join(", ")) } else { String::new() };
    Err(err(format!("unsupported ONNX operator {} at node \"{}\"{more}", op(first), first.name())))
}

/// The node order: each node after the nodes whose outputs it reads (an error for a cycle or a read of
/// a tensor nothing produces).
fn topological(graph: &proto::GraphProto, known: &HashMap<String, Val>) -> Result<Vec<usize>> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in graph.node.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if known.contains_key(o.as_str()) || producer.insert(o, i).is_some() {
                return Err(err(format!("tensor \"{o}\" is produced twice (node \"{}\")", n.name())));
            }
        }
    }
    let mut waiting = vec![0usize; graph.node.len()];
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); graph.node.len()];
    for (i, n) in graph.node.iter().enumerate() {
        for x in n.input.iter().filter(|x| !x.is_empty()) {
            match producer.get(x.as_str()) {
                Some(&p) => {
                    waiting[i] += 1;
                    readers[p].push(i);
                }
                None if known.contains_key(x.as_str()) => {}
                None => return Err(err(format!("node \"{}\" reads tensor \"{x}\", which no node, input or initializer provides", n.name()))),
            }
        }
    }
    let mut ready: Vec<usize> = (0..graph.node.len()).filter(|&i| waiting[i] == 0).rev().collect();
    let mut order = Vec::with_capacity(graph.node.len());
    while let Some(i) = ready.pop() {
        order.push(i);
        for &r in readers[i].iter().rev() {
            waiting[r] -= 1;
            if waiting[r] == 0 {
                ready.push(r);
            }
        }
    }
    if order.len() != graph.node.len() {
        let stuck = (0..graph.node.len()).find(|&i| waiting[i] > 0).map_or("", |i| graph.node[i].name());
        return Err(err(format!("the graph has a cycle (node \"{stuck}\" depends on its own output)")));
    }
    Ok(order)
}

/// A tensor computed from the input: an engine value, its ONNX rank (4: `[1, C, H, W]`, 2: `[1, F]`),
/// and a zero padding still to be applied by the convolution that reads it.
#[derive(Clone, Debug)]
struct Dyn {
    v: usize,
    flat: bool,
    pad: [usize; 4],
}

#[derive(Clone, Debug)]
enum Val {
    Const(Const),
    Dyn(Dyn),
}

struct Builder<'g> {
    opset: i64,
    values: HashMap<String, Val>,
    /// How many nodes (and graph outputs) read each tensor.
    readers: HashMap<&'g str, usize>,
    nodes: Vec<NodeSpec>,
    /// `shapes[v]`: the engine shape of value `v`.
    shapes: Vec<Shape>,
    output: &'g str,
    removed: Option<String>,
}

fn dims_of(s: Shape, flat: bool) -> Vec<usize> {
    if flat {
        vec![1, s.len()]
    } else {
        vec![1, s.c, s.h, s.w]
    }
}

impl<'g> Builder<'g> {
    fn new(graph: &'g proto::GraphProto, opset: i64) -> Result<Builder<'g>> {
        let mut values = HashMap::new();
        for t in &graph.initializer {
            values.insert(t.name().to_string(), Val::Const(Const::from_proto(t).map_err(err)?));
        }
        if !graph.sparse_initializer.is_empty() {
            return Err(err("sparse initializers are not supported"));
        }
        let inputs: Vec<&proto::ValueInfoProto> = graph.input.iter().filter(|i| !values.contains_key(i.name())).collect();
        let input = match inputs.as_slice() {
            [one] => *one,
            [] => return Err(err("the graph has no input")),
            more => {
                let names: Vec<&str> = more.iter().map(|i| i.name()).collect();
                return Err(err(format!("the graph has {} inputs ({}): only one input is supported", more.len(), names.join(", "))));
            }
        };
        let shape = input_shape(input)?;
        values.insert(input.name().to_string(), Val::Dyn(Dyn { v: 0, flat: shape.1, pad: [0; 4] }));
        let output = match graph.output.as_slice() {
            [one] => one.name(),
            outs => return Err(err(format!("the graph has {} outputs: one output (the logits) is supported", outs.len()))),
        };
        let mut readers: HashMap<&str, usize> = HashMap::new();
        for n in &graph.node {
            for x in &n.input {
                *readers.entry(x.as_str()).or_default() += 1;
            }
        }
        *readers.entry(output).or_default() += 1;
        let mut b = Builder { opset, values, readers, nodes: Vec::new(), shapes: vec![shape.0], output, removed: None };
        if shape.1 {
            // a flat [N, F] input: the stage is F pixels (28x28 when F is 784), flattened by the first node
            b.shapes[0] = flat_stage_shape(shape.0.len());
            b.push(NodeOp::Layer(Layer::Flatten), vec![0]).map_err(err)?;
            b.values.insert(input.name().to_string(), Val::Dyn(Dyn { v: 1, flat: true, pad: [0; 4] }));
        }
        Ok(b)
    }

    /// Adds an engine node; returns its output value.
    fn push(&mut self, op: NodeOp, inputs: Vec<usize>) -> std::result::Result<usize, String> {
        if self.nodes.len() >= MAX_NODES {
            return Err(format!("the model would have more than {MAX_NODES} layers"));
        }
        let ins: Vec<Shape> = inputs.iter().map(|&v| self.shapes[v]).collect();
        let out = match &op {
            NodeOp::Layer(l) => {
                l.validate()?;
                l.output_shape(&ins)?
            }
            NodeOp::BatchNorm(bn) if bn.gamma.len() == ins[0].c => ins[0],
            NodeOp::BatchNorm(bn) => return Err(format!("{} channels of statistics for {} channels", bn.gamma.len(), ins[0].c)),
            NodeOp::Identity => ins[0],
        };
        if out.checked_len().is_none_or(|n| n == 0 || n > MAX_ACTIVATION) {
            return Err(format!("it would produce {}x{}x{} values (limit {MAX_ACTIVATION}, none empty)", out.c, out.h, out.w));
        }
        self.nodes.push(NodeSpec { op, inputs });
        self.shapes.push(out);
        Ok(self.nodes.len())
    }

    fn get(&self, name: &str) -> std::result::Result<&Val, String> {
        self.values.get(name).ok_or_else(|| format!("tensor \"{name}\" is not defined"))
    }
    fn input(&self, n: &NodeProto, i: usize) -> std::result::Result<Option<&Val>, String> {
        match n.input.get(i).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(name) => self.get(name).map(Some),
        }
    }
    fn konst(&self, n: &NodeProto, i: usize, what: &str) -> std::result::Result<Option<&Const>, String> {
        match self.input(n, i)? {
            None => Ok(None),
            Some(Val::Const(c)) => Ok(Some(c)),
            Some(Val::Dyn(_)) => Err(format!("its {what} (input {i}) is computed from the model input; only a constant {what} is supported")),
        }
    }
    fn need_const(&self, n: &NodeProto, i: usize, what: &str) -> std::result::Result<&Const, String> {
        self.konst(n, i, what)?.ok_or_else(|| format!("the {what} (input {i}) is missing"))
    }
    /// The computed input `i`; a pending zero padding is an error unless `pad_ok`.
    fn dynamic(&self, n: &NodeProto, i: usize, pad_ok: bool) -> std::result::Result<Dyn, String> {
        match self.input(n, i)? {
            Some(Val::Dyn(d)) if d.pad != [0; 4] && !pad_ok => Err("it reads the output of a Pad; only a zero Pad before a convolution is supported".into()),
            Some(Val::Dyn(d)) => Ok(d.clone()),
            Some(Val::Const(_)) => Err(format!("input {i} is a constant; a tensor computed from the model input is expected")),
            None => Err(format!("input {i} is missing")),
        }
    }
    fn set(&mut self, n: &NodeProto, v: Val) {
        if let Some(o) = n.output.first() {
            self.values.insert(o.clone(), v);
        }
    }
    fn set_dyn(&mut self, n: &NodeProto, v: usize, flat: bool) {
        self.set(n, Val::Dyn(Dyn { v, flat, pad: [0; 4] }));
    }
    /// Fails if an output beyond the first (indices, masks, running statistics) is read.
    fn only_first_output(&self, n: &NodeProto) -> std::result::Result<(), String> {
        match n.output.iter().skip(1).find(|o| !o.is_empty() && self.readers.contains_key(o.as_str())) {
            Some(o) => Err(format!("its output \"{o}\" is used; only the first output is supported")),
            None => Ok(()),
        }
    }
    fn onnx_dims(&self, d: &Dyn) -> Vec<usize> {
        dims_of(self.shapes[d.v], d.flat)
    }

    /// A computed tensor seen with other dimensions (Flatten, Reshape, Squeeze, Unsqueeze): a flatten
    /// to `[1, F]`, or a no-op between `[1, F]` and `[1, F, 1, 1]`.
    fn reinterpret(&mut self, n: &NodeProto, d: &Dyn, dims: &[usize]) -> std::result::Result<(), String> {
        let s = self.shapes[d.v];
        let total = s.len();
        let product = dims.iter().try_fold(1usize, |a, &x| a.checked_mul(x));
        if product != Some(total) {
            return Err(format!("cannot view a tensor of shape {:?} as {dims:?}", self.onnx_dims(d)));
        }
        // the batch axis may be dropped (a squeeze of everything of size 1)
        let dims: Vec<usize> = if dims.len() == 1 { vec![1, dims[0]] } else { dims.to_vec() };
        match dims.as_slice() {
            [1, _] if d.flat || (s.h, s.w) == (1, 1) => self.set_dyn(n, d.v, true),
            [1, _] => {
                let v = self.push(NodeOp::Layer(Layer::Flatten), vec![d.v])?;
                self.set_dyn(n, v, true);
            }
            [1, c, h, w] if (*c, *h, *w) == (s.c, s.h, s.w) => self.set_dyn(n, d.v, false),
            [1, _, 1, 1] if d.flat || (s.h, s.w) == (1, 1) => self.set_dyn(n, d.v, false),
            _ => return Err(format!("reshaping {:?} to {dims:?} is not supported (only flattening)", self.onnx_dims(d))),
        }
        Ok(())
    }

    fn node(&mut self, n: &NodeProto) -> std::result::Result<(), String> {
        let op = n.op_type();
        // constant folding: every input constant (or a Shape, which only needs the shape)
        let all_const = n.input.iter().filter(|x| !x.is_empty()).all(|x| matches!(self.values.get(x.as_str()), Some(Val::Const(_))));
        if op == "Constant" {
            let c = constant_attr(n)?;
            self.set(n, Val::Const(c));
            return Ok(());
        }
        if op == "Shape" {
            let dims: Vec<usize> = match self.input(n, 0)?.ok_or("input 0 is missing")? {
                Val::Const(c) => c.dims.clone(),
                // a zero padding not yet applied still counts in the shape
                Val::Dyn(d) => {
                    let mut dims = self.onnx_dims(d);
                    if !d.flat {
                        dims[2] += d.pad[0] + d.pad[2];
                        dims[3] += d.pad[1] + d.pad[3];
                    }
                    dims
                }
            };
            let r = dims.len() as i64;
            let clampi = |a: i64| (if a < 0 { a + r } else { a }).clamp(0, r) as usize;
            let (s, e) = (clampi(attr_int(n, "start").unwrap_or(0)), clampi(attr_int(n, "end").unwrap_or(r)));
            let v: Vec<i64> = dims[s..e.max(s)].iter().map(|&x| x as i64).collect();
            self.set(n, Val::Const(Const::i64(vec![v.len()], v)));
            return Ok(());
        }
        if all_const && !n.input.is_empty() && op != "Softmax" && op != "LogSoftmax" {
            let c = self.fold(n)?;
            self.set(n, Val::Const(c));
            return Ok(());
        }
        match op {
            "Gemm" => {
                let a = self.dynamic(n, 0, false)?;
                if !a.flat {
                    return Err("Gemm of a 4-d tensor (flatten it first)".into());
                }
                if attr_int(n, "transA").unwrap_or(0) != 0 {
                    return Err("transA=1 is not supported".into());
                }
                let b = self.need_const(n, 1, "weight")?;
                let c = self.konst(n, 2, "bias")?;
                let (alpha, beta) = (attr_float(n, "alpha").unwrap_or(1.0), attr_float(n, "beta").unwrap_or(1.0));
                let w = matrix(b, attr_int(n, "transB").unwrap_or(0) != 0)?;
                let out = w.dim().0;
                let bias = match c {
                    Some(c) => bias_vector(c, out)?,
                    None => vec![0.0; out],
                };
                let dense = Dense { weight: w.mapv(|x| x * alpha), bias: Array1::from(bias).mapv(|x| x * beta) };
                let v = self.push(NodeOp::Layer(Layer::Dense(dense)), vec![a.v])?;
                self.set_dyn(n, v, true);
            }
            "MatMul" => {
                let a = self.dynamic(n, 0, false)?;
                if !a.flat {
                    return Err("MatMul of a 4-d tensor (flatten it first)".into());
                }
                let b = self.need_const(n, 1, "weight")?;
                let w = matrix(b, false)?;
                let out = w.dim().0;
                let v = self.push(NodeOp::Layer(Layer::Dense(Dense { weight: w, bias: Array1::zeros(out) })), vec![a.v])?;
                self.set_dyn(n, v, true);
            }
            "Conv" => self.conv(n)?,
            "Relu" | "Tanh" => {
                let d = self.dynamic(n, 0, false)?;
                let v = self.push(NodeOp::Layer(if op == "Relu" { Layer::Relu } else { Layer::Tanh }), vec![d.v])?;
                self.set_dyn(n, v, d.flat);
            }
            "Clip" => {
                let d = self.dynamic(n, 0, false)?;
                let (min, max) = if self.opset >= 11 {
                    let bound = |i: usize| -> std::result::Result<Option<f32>, String> { self.konst(n, i, "bound")?.map(Const::scalar).transpose() };
                    (bound(1)?.unwrap_or(f32::NEG_INFINITY), bound(2)?.unwrap_or(f32::INFINITY))
                } else {
                    (attr_float(n, "min").unwrap_or(f32::NEG_INFINITY), attr_float(n, "max").unwrap_or(f32::INFINITY))
                };
                let v = self.push(NodeOp::Layer(Layer::Clamp { min, max }), vec![d.v])?;
                self.set_dyn(n, v, d.flat);
            }
            "MaxPool" | "AveragePool" => self.pool(n)?,
            "GlobalAveragePool" => {
                let d = self.dynamic(n, 0, false)?;
                if d.flat {
                    return Err("GlobalAveragePool of a 2-d tensor".into());
                }
                let v = self.push(NodeOp::Layer(Layer::GlobalAvgPool), vec![d.v])?;
                self.set_dyn(n, v, false);
            }
            "ReduceMean" => {
                let d = self.dynamic(n, 0, false)?;
                let axes: Vec<i64> = if self.opset >= 18 {
                    self.konst(n, 1, "axes")?.map(|c| c.ints().map(<[i64]>::to_vec)).transpose()?.unwrap_or_default()
                } else {
                    attr_ints(n, "axes").unwrap_or_default()
                };
                let mut axes = axes.iter().map(|&a| axis(a, 4)).collect::<std::result::Result<Vec<usize>, String>>()?;
                axes.sort_unstable();
                if d.flat || axes != [2, 3] {
                    return Err(format!("ReduceMean over axes {axes:?}: only the mean over the spatial axes [2, 3] of a 4-d tensor is supported"));
                }
                let v = self.push(NodeOp::Layer(Layer::GlobalAvgPool), vec![d.v])?;
                self.set_dyn(n, v, attr_int(n, "keepdims").unwrap_or(1) == 0);
            }
            "Flatten" => {
                let d = self.dynamic(n, 0, false)?;
                let rank = if d.flat { 2 } else { 4 };
                if axis(attr_int(n, "axis").unwrap_or(1), rank)? != 1 {
                    return Err("Flatten with an axis other than 1".into());
                }
                let total = self.shapes[d.v].len();
                self.reinterpret(n, &d, &[1, total])?;
            }
            "Reshape" => {
                let d = self.dynamic(n, 0, false)?;
                let target = self.need_const(n, 1, "shape")?.ints()?.to_vec();
                let dims = reshape_dims(&self.onnx_dims(&d), &target, attr_int(n, "allowzero").unwrap_or(0) != 0)?;
                self.reinterpret(n, &d, &dims)?;
            }
            "Squeeze" | "Unsqueeze" => {
                let d = self.dynamic(n, 0, false)?;
                let axes = self.axes_of(n)?;
                let cur = self.onnx_dims(&d);
                let dims = if op == "Squeeze" { squeeze(&cur, axes.as_deref())? } else { unsqueeze(&cur, &axes.unwrap_or_default())? };
                self.reinterpret(n, &d, &dims)?;
            }
            "BatchNormalization" => {
                let d = self.dynamic(n, 0, false)?;
                self.only_first_output(n)?;
                if attr_int(n, "training_mode").unwrap_or(0) != 0 {
                    return Err("training_mode=1 (export the model in eval mode)".into());
                }
                let get = |i: usize, what: &str| self.need_const(n, i, what).map(Const::floats);
                let bn = BatchNorm {
                    gamma: get(1, "scale")?,
                    beta: get(2, "bias")?,
                    mean: get(3, "mean")?,
                    var: get(4, "variance")?,
                    eps: attr_float(n, "epsilon").unwrap_or(1e-5),
                };
                let v = self.push(NodeOp::BatchNorm(bn), vec![d.v])?;
                self.set_dyn(n, v, d.flat);
            }
            "Add" => self.add(n)?,
            "Concat" => {
                let parts = (0..n.input.len()).map(|i| self.dynamic(n, i, false)).collect::<std::result::Result<Vec<Dyn>, String>>()?;
                let flat = parts[0].flat;
                if parts.iter().any(|p| p.flat != flat) || axis(attr_int(n, "axis").unwrap_or(1), if flat { 2 } else { 4 })? != 1 {
                    return Err("only a concatenation along channels (axis 1) of tensors of one rank is supported".into());
                }
                let v = self.push(NodeOp::Layer(Layer::Concat), parts.iter().map(|p| p.v).collect())?;
                self.set_dyn(n, v, flat);
            }
            "Identity" | "Dropout" => {
                self.only_first_output(n)?;
                let d = self.dynamic(n, 0, true)?;
                self.set(n, Val::Dyn(d));
            }
            "Cast" => {
                let d = self.dynamic(n, 0, false)?;
                use proto::tensor_proto::DataType as T;
                let to = attr_int(n, "to").unwrap_or(0);
                if ![T::Float, T::Float16, T::Bfloat16, T::Double].iter().any(|&d| to == d as i64) {
                    return Err("a Cast of a computed tensor to a type other than float".into());
                }
                self.set(n, Val::Dyn(d));
            }
            "Softmax" | "LogSoftmax" => {
                let d = self.dynamic(n, 0, false)?;
                if n.output.first().map(String::as_str) != Some(self.output) {
                    return Err(format!("{op} inside the network; only a final {op} (removed, so that the logit is explained) is supported"));
                }
                let rank = if d.flat { 2 } else { 4 };
                let default_axis = if self.opset >= 13 { -1 } else { 1 };
                let a = axis(attr_int(n, "axis").unwrap_or(default_axis), rank)?;
                if a != 1 {
                    return Err(format!("{op} over axis {a}: only over the classes (axis 1) is supported"));
                }
                self.removed = Some(op.to_string());
                self.set(n, Val::Dyn(d));
            }
            "Pad" => self.pad(n)?,
            _ => return Err(format!("{op} of a tensor computed from the model input is not supported")),
        }
        Ok(())
    }

    /// `axes` of Squeeze/Unsqueeze: an attribute before opset 13, an input after.
    fn axes_of(&self, n: &NodeProto) -> std::result::Result<Option<Vec<i64>>, String> {
        if self.opset >= 13 {
            self.konst(n, 1, "axes")?.map(|c| c.ints().map(<[i64]>::to_vec)).transpose()
        } else {
            Ok(attr_ints(n, "axes"))
        }
    }

    fn conv(&mut self, n: &NodeProto) -> std::result::Result<(), String> {
        let x = self.dynamic(n, 0, true)?;
        if x.flat {
            return Err("Conv of a 2-d tensor".into());
        }
        let w = self.need_const(n, 1, "weight")?;
        let [oc, icg, kh, kw] = w.dims[..] else {
            return Err(format!("weight of shape {:?}: only 2-d convolutions (a 4-d weight) are supported", w.dims));
        };
        if [oc, icg, kh, kw].contains(&0) {
            return Err(format!("an empty weight of shape {:?}", w.dims));
        }
        if let Some(k) = attr_ints(n, "kernel_shape") {
            if k != [kh as i64, kw as i64] {
                return Err(format!("kernel_shape {k:?} does not match the weight's {kh}x{kw}"));
            }
        }
        let bias = match self.konst(n, 2, "bias")? {
            Some(b) => bias_vector(b, oc)?,
            None => vec![0.0; oc],
        };
        let weight = Array4::from_shape_vec((oc, icg, kh, kw), w.floats()).map_err(|e| e.to_string())?;
        let stride = pair(n, "strides")?;
        let dilation = pair(n, "dilations")?;
        let groups = usize::try_from(attr_int(n, "group").unwrap_or(1)).map_err(|_| "a negative group count")?;
        let s = self.shapes[x.v];
        let own = padding(n, [s.h, s.w], [kh, kw], stride, dilation)?;
        let pad = [0, 1, 2, 3].map(|i| own[i] + x.pad[i]);
        let conv = Conv2d { weight, bias: Array1::from(bias), stride, padding: pad, dilation, groups };
        let v = self.push(NodeOp::Layer(Layer::Conv2d(conv)), vec![x.v])?;
        self.set_dyn(n, v, false);
        Ok(())
    }

    fn pool(&mut self, n: &NodeProto) -> std::result::Result<(), String> {
        let op = n.op_type();
        self.only_first_output(n)?;
        let x = self.dynamic(n, 0, false)?;
        if x.flat {
            return Err(format!("{op} of a 2-d tensor"));
        }
        let k = attr_ints(n, "kernel_shape").ok_or("kernel_shape is missing")?;
        let [kh, kw] = k[..] else { return Err(format!("kernel_shape {k:?}: only 2-d pooling is supported")) };
        let kernel = [kh, kw].map(|v| usize::try_from(v).unwrap_or(0));
        if kernel.contains(&0) {
            return Err(format!("kernel_shape {k:?}"));
        }
        let stride = pair(n, "strides")?;
        if pair(n, "dilations")? != [1, 1] {
            return Err("dilated pooling is not supported".into());
        }
        let s = self.shapes[x.v];
        let pad = padding(n, [s.h, s.w], kernel, stride, [1, 1])?;
        if attr_int(n, "ceil_mode").unwrap_or(0) != 0 {
            // ceil_mode only matters when the last window would start inside the input but end outside it
            for (i, (len, p)) in [(s.h, pad[0] + pad[2]), (s.w, pad[1] + pad[3])].into_iter().enumerate() {
                if (len + p).saturating_sub(kernel[i]) % stride[i] != 0 {
                    return Err("ceil_mode=1 with a window that does not tile the input is not supported".into());
                }
            }
        }
        let pool = Pool { kernel, stride, padding: pad };
        let layer = if op == "MaxPool" {
            Layer::MaxPool2d(pool)
        } else {
            if pad != [0; 4] && attr_int(n, "count_include_pad").unwrap_or(0) == 0 {
                return Err("AveragePool with padding and count_include_pad=0 is not supported (PyTorch's default count_include_pad=True is)".into());
            }
            Layer::AvgPool2d(pool)
        };
        let v = self.push(NodeOp::Layer(layer), vec![x.v])?;
        self.set_dyn(n, v, false);
        Ok(())
    }

    fn add(&mut self, n: &NodeProto) -> std::result::Result<(), String> {
        if n.input.len() != 2 {
            return Err(format!("Add of {} inputs", n.input.len()));
        }
        let (a, b) = (self.input(n, 0)?.cloned(), self.input(n, 1)?.cloned());
        match (a, b) {
            (Some(Val::Dyn(a)), Some(Val::Dyn(b))) => {
                if a.pad != [0; 4] || b.pad != [0; 4] {
                    return Err("it reads the output of a Pad; only a zero Pad before a convolution is supported".into());
                }
                if a.flat != b.flat {
                    return Err("Add of tensors of different ranks".into());
                }
                let v = self.push(NodeOp::Layer(Layer::Add), vec![a.v, b.v])?;
                self.set_dyn(n, v, a.flat);
            }
            (Some(Val::Dyn(d)), Some(Val::Const(c))) | (Some(Val::Const(c)), Some(Val::Dyn(d))) => {
                // a bias: joins the dense or convolution layer that made `d`, if nothing else reads it
                let name = n.input.iter().find(|x| matches!(self.values.get(x.as_str()), Some(Val::Dyn(_)))).cloned().unwrap_or_default();
                let sole = self.readers.get(name.as_str()) == Some(&1);
                let layer = if d.v > 0 && d.pad == [0; 4] && sole { self.nodes.get_mut(d.v - 1) } else { None };
                let bias = match layer.map(|l| &mut l.op) {
                    Some(NodeOp::Layer(Layer::Dense(l))) => &mut l.bias,
                    Some(NodeOp::Layer(Layer::Conv2d(l))) => &mut l.bias,
                    _ => return Err("an Add of a constant is supported only as the bias of the MatMul, Gemm or Conv before it".into()),
                };
                let add = bias_vector(&c, bias.len())?;
                bias.iter_mut().zip(add).for_each(|(b, a)| *b += a);
                self.set(n, Val::Dyn(d));
            }
            _ => return Err("an input is missing".into()),
        }
        Ok(())
    }

    fn pad(&mut self, n: &NodeProto) -> std::result::Result<(), String> {
        let d = self.dynamic(n, 0, true)?;
        if d.flat {
            return Err("Pad of a 2-d tensor".into());
        }
        let mode = attr_str(n, "mode").unwrap_or_else(|| "constant".into());
        if mode != "constant" {
            return Err(format!("Pad mode \"{mode}\": only zero (constant) padding before a convolution is supported"));
        }
        let pads = self.need_const(n, 1, "pads")?.ints()?.to_vec();
        if let Some(v) = self.konst(n, 2, "constant_value")? {
            if v.len() > 1 || v.floats().iter().any(|&x| x != 0.0) {
                return Err("a Pad with a value other than 0".into());
            }
        }
        // pads per axis (begin..., end...), for the axes given (opset 18) or all four
        let axes: Vec<usize> = match self.konst(n, 3, "axes")? {
            Some(a) => a.ints()?.iter().map(|&x| axis(x, 4)).collect::<std::result::Result<_, _>>()?,
            None => (0..4).collect(),
        };
        if pads.len() != 2 * axes.len() {
            return Err(format!("{} pads for {} axes", pads.len(), axes.len()));
        }
        let mut full = [0i64; 8];
        for (i, &a) in axes.iter().enumerate() {
            full[a] = pads[i];
            full[a + 4] = pads[i + axes.len()];
        }
        if full.iter().any(|&p| p < 0) || full[0] != 0 || full[1] != 0 || full[4] != 0 || full[5] != 0 {
            return Err(format!("pads {full:?}: only non-negative padding of the spatial axes is supported"));
        }
        let add = [full[2], full[3], full[6], full[7]].map(|p| p as usize);
        if add.iter().any(|&p| p > 1 << 16) {
            return Err(format!("padding {add:?} is too large"));
        }
        let pad = [0, 1, 2, 3].map(|i| d.pad[i] + add[i]);
        self.set(n, Val::Dyn(Dyn { pad, ..d }));
        Ok(())
    }

    /// Evaluates a node whose inputs are all constants.
    fn fold(&self, n: &NodeProto) -> std::result::Result<Const, String> {
        let c = |i: usize| -> std::result::Result<&Const, String> { self.need_const(n, i, "input") };
        let ints =
            |i: usize| -> std::result::Result<Option<Vec<i64>>, String> { self.konst(n, i, "input")?.map(|c| c.ints().map(<[i64]>::to_vec)).transpose() };
        let op = n.op_type();
        Ok(match op {
            "Gather" => c(0)?.gather(c(1)?, attr_int(n, "axis").unwrap_or(0))?,
            "ConstantOfShape" => {
                let dims = c(0)?
                    .ints()?
                    .iter()
                    .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let count = tensor::count(&dims)?;
                let value = match attr(n, "value").and_then(|a| a.t.as_ref()) {
                    Some(t) => Const::from_proto(t)?,
                    None => Const::f32(vec![1], vec![0.0]),
                };
                match value.data {
                    Data::F32(v) if v.len() == 1 => Const::f32(dims, vec![v[0]; count]),
                    Data::I64(v) if v.len() == 1 => Const::i64(dims, vec![v[0]; count]),
                    _ => return Err("ConstantOfShape value must hold one element".into()),
                }
            }
            "Concat" => {
                let parts = (0..n.input.len()).map(c).collect::<std::result::Result<Vec<_>, _>>()?;
                Const::concat(&parts, attr_int(n, "axis").ok_or("Concat without an axis")?)?
            }
            "Slice" => {
                let (starts, ends) = (ints(1)?.ok_or("starts missing")?, ints(2)?.ok_or("ends missing")?);
                c(0)?.slice(&starts, &ends, ints(3)?.as_deref(), ints(4)?.as_deref())?
            }
            "Transpose" => c(0)?.transpose(attr_ints(n, "perm").as_deref())?,
            "Cast" => c(0)?.cast(attr_int(n, "to").ok_or("Cast without `to`")? as i32)?,
            "Reshape" => {
                let x = c(0)?;
                let dims = reshape_dims(&x.dims, c(1)?.ints()?, attr_int(n, "allowzero").unwrap_or(0) != 0)?;
                x.clone().reshaped(dims)?
            }
            "Squeeze" | "Unsqueeze" => {
                let x = c(0)?;
                let axes = self.axes_of(n)?;
                let dims = if op == "Squeeze" { squeeze(&x.dims, axes.as_deref())? } else { unsqueeze(&x.dims, &axes.unwrap_or_default())? };
                x.clone().reshaped(dims)?
            }
            "Flatten" => {
                let x = c(0)?;
                let a = axis(attr_int(n, "axis").unwrap_or(1), x.dims.len() + 1)?;
                let dims = vec![x.dims[..a].iter().product(), x.dims[a..].iter().product()];
                x.clone().reshaped(dims)?
            }
            "Add" | "Sub" | "Mul" | "Div" => c(0)?.binary(c(1)?, op)?,
            "Ceil" | "Floor" | "Neg" => c(0)?.unary(op),
            "Identity" | "Dropout" => c(0)?.clone(),
            _ => return Err(format!("{op} of constants is not supported (the whole node could be folded away)")),
        })
    }

    fn meta(&self, model: &proto::ModelProto, options: &OnnxOptions) -> Result<ModelMeta> {
        let Some(Val::Dyn(out)) = self.values.get(self.output) else {
            return Err(err(format!("the graph output \"{}\" is a constant or is not computed", self.output)));
        };
        let classes = self.shapes[out.v].len();
        let names = match &options.classes {
            Some(c) if c.len() != classes => return Err(err(format!("{} class names for {classes} outputs", c.len()))),
            Some(c) => c.clone(),
            None => (0..classes).map(|i| i.to_string()).collect(),
        };
        let removed = self.removed.as_ref().map(|op| format!(" The final {op} was removed: the heatmaps explain the logits."));
        let producer = format!("{} {}", model.producer_name(), model.producer_version());
        Ok(ModelMeta {
            name: options.name.clone(),
            description: format!("Imported from ONNX (opset {}, made by {}).{}", self.opset, producer.trim(), removed.as_deref().unwrap_or("")),
            classes: names,
            watermark: None,
            provenance: serde_json::json!({
                "format": "onnx",
                "opset": self.opset,
                "producer": producer.trim(),
                "removed_final": self.removed,
            }),
        })
    }

    /// The input stage and the nodes that lead to the output (the rest dropped, values renumbered).
    fn finish(self, options: &OnnxOptions) -> Result<(InputStage, Vec<NodeSpec>)> {
        let Some(Val::Dyn(out)) = self.values.get(self.output) else { unreachable!("checked in meta") };
        if out.pad != [0; 4] {
            return Err(err("the graph output is the output of a Pad"));
        }
        if out.v == 0 {
            return Err(err("the graph output is its input"));
        }
        let mut keep = vec![false; self.nodes.len() + 1];
        keep[out.v] = true;
        for k in (0..self.nodes.len()).rev() {
            if keep[k + 1] {
                self.nodes[k].inputs.iter().for_each(|&v| keep[v] = true);
            }
        }
        let mut map = vec![0usize; self.nodes.len() + 1];
        let mut nodes = Vec::new();
        for (k, mut node) in self.nodes.into_iter().enumerate() {
            if keep[k + 1] {
                node.inputs.iter_mut().for_each(|v| *v = map[*v]);
                nodes.push(node);
                map[k + 1] = nodes.len();
            }
        }
        let s = self.shapes[0];
        let per = |v: &[f32], what: &str| -> Result<Vec<f32>> {
            match v.len() {
                1 => Ok(vec![v[0]; s.c]),
                n if n == s.c => Ok(v.to_vec()),
                n => Err(err(format!("{n} values of the input {what} for {} channels", s.c))),
            }
        };
        let stage = InputStage {
            channels: s.c,
            height: s.h,
            width: s.w,
            scale: per(&options.scale, "scale")?,
            shift: per(&options.shift, "shift")?,
            pad: 0,
            pad_value: 0.0,
        };
        Ok((stage, nodes))
    }
}

/// The stage of a flat input of `f` features: 28x28 for 784 (an MNIST MLP), else `1 x 1 x f`.
fn flat_stage_shape(f: usize) -> Shape {
    if f == super::PIXELS {
        Shape::new(1, super::SIDE, super::SIDE)
    } else {
        Shape::new(1, 1, f)
    }
}

/// The graph input's shape: `[N, C, H, W]` or `[N, F]` with fixed sizes (N may be symbolic).
fn input_shape(input: &proto::ValueInfoProto) -> Result<(Shape, bool)> {
    let name = input.name();
    let Some(TypeValue::TensorType(t)) = input.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Err(err(format!("the input \"{name}\" is not a tensor")));
    };
    // a half-precision or double model is computed in float32 (its weights are converted)
    use proto::tensor_proto::DataType as T;
    if ![T::Float, T::Float16, T::Bfloat16, T::Double].iter().any(|&d| t.elem_type() == d as i32) {
        return Err(err(format!("the input \"{name}\" is not a float tensor")));
    }
    let dims = t.shape.as_ref().map(|s| s.dim.as_slice()).unwrap_or_default();
    let fixed = |i: usize| -> Result<usize> {
        match dims[i].value {
            Some(Dim::DimValue(v)) if v > 0 && v <= 1 << 20 => Ok(v as usize),
            _ => Err(err(format!(
                "the input \"{name}\" has a dynamic or invalid size in axis {i}: export with a fixed input size (only the batch axis may be dynamic)"
            ))),
        }
    };
    let shape = match dims.len() {
        4 => (Shape::new(fixed(1)?, fixed(2)?, fixed(3)?), false),
        2 => (Shape::new(fixed(1)?, 1, 1), true),
        r => return Err(err(format!("the input \"{name}\" has rank {r}: [N, C, H, W] images or [N, F] vectors are supported"))),
    };
    let padded = if shape.1 { flat_stage_shape(shape.0.len()) } else { shape.0 };
    if padded.c > super::stage::MAX_CHANNELS
        || padded.h > super::stage::MAX_SIDE
        || padded.w > super::stage::MAX_SIDE
        || padded.checked_len().is_none_or(|n| n > MAX_ACTIVATION)
    {
        return Err(err(format!("the input \"{name}\" of {}x{}x{} is larger than this engine takes", shape.0.c, shape.0.h, shape.0.w)));
    }
    Ok(shape)
}

fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a proto::AttributeProto> {
    n.attribute.iter().find(|a| a.name() == name)
}
fn attr_int(n: &NodeProto, name: &str) -> Option<i64> {
    attr(n, name).and_then(|a| a.i)
}
fn attr_float(n: &NodeProto, name: &str) -> Option<f32> {
    attr(n, name).and_then(|a| a.f)
}
fn attr_ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}
fn attr_str(n: &NodeProto, name: &str) -> Option<String> {
    attr(n, name).and_then(|a| a.s.as_ref()).map(|s| String::from_utf8_lossy(s).into_owned())
}

/// A `Constant` node's value.
fn constant_attr(n: &NodeProto) -> std::result::Result<Const, String> {
    let a = n.attribute.first().ok_or("Constant without a value")?;
    Ok(match (a.name(), a.r#type()) {
        ("value", _) => Const::from_proto(a.t.as_ref().ok_or("Constant value is not a tensor")?)?,
        ("value_float", _) => Const::f32(vec![], vec![a.f()]),
        ("value_floats", _) => Const::f32(vec![a.floats.len()], a.floats.clone()),
        ("value_int", _) => Const::i64(vec![], vec![a.i()]),
        ("value_ints", _) => Const::i64(vec![a.ints.len()], a.ints.clone()),
        (other, t) if t == AttributeType::SparseTensor || other == "sparse_value" => return Err("sparse constants are not supported".into()),
        (other, _) => return Err(format!("Constant attribute \"{other}\" is not supported")),
    })
}

/// A 2-element attribute (strides, dilations), default `[1, 1]`, each at least 1.
fn pair(n: &NodeProto, name: &str) -> std::result::Result<[usize; 2], String> {
    match attr_ints(n, name).as_deref() {
        None => Ok([1, 1]),
        Some(&[a, b]) if a >= 1 && b >= 1 && a <= 1 << 16 && b <= 1 << 16 => Ok([a as usize, b as usize]),
        Some(v) => Err(format!("{name} {v:?}: two values of at least 1 expected")),
    }
}

/// Zero padding `[top, left, bottom, right]` from `pads` or `auto_pad`.
fn padding(n: &NodeProto, input: [usize; 2], kernel: [usize; 2], stride: [usize; 2], dilation: [usize; 2]) -> std::result::Result<[usize; 4], String> {
    let auto = attr_str(n, "auto_pad").unwrap_or_else(|| "NOTSET".into());
    match auto.as_str() {
        "NOTSET" => match attr_ints(n, "pads").as_deref() {
            None => Ok([0; 4]),
            Some(&[t, l, b, r]) if [t, l, b, r].iter().all(|&p| (0..=1 << 16).contains(&p)) => Ok([t, l, b, r].map(|p| p as usize)),
            Some(p) => Err(format!("pads {p:?}: four non-negative values expected")),
        },
        "VALID" => Ok([0; 4]),
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut out = [0usize; 4];
            for i in 0..2 {
                let o = input[i].div_ceil(stride[i]);
                let span = (kernel[i] - 1) * dilation[i] + 1;
                let total = ((o - 1) * stride[i] + span).saturating_sub(input[i]);
                let (small, big) = (total / 2, total - total / 2);
                let (begin, end) = if auto == "SAME_UPPER" { (small, big) } else { (big, small) };
                out[i] = begin;
                out[i + 2] = end;
            }
            Ok(out)
        }
        other => Err(format!("auto_pad \"{other}\" is not supported")),
    }
}

/// A constant 2-d weight as `[out, in]` (`transposed`: it is stored `[out, in]`, else `[in, out]`).
fn matrix(c: &Const, transposed: bool) -> std::result::Result<Array2<f32>, String> {
    let [r, k] = c.dims[..] else { return Err(format!("a weight of shape {:?}: a 2-d matrix is expected", c.dims)) };
    let m = Array2::from_shape_vec((r, k), c.floats()).map_err(|e| e.to_string())?;
    Ok(if transposed { m } else { m.t().as_standard_layout().into_owned() })
}

/// A bias of `n` values from a constant of shape `[n]`, `[1, n]`, `[n, 1, 1]`, `[1, n, 1, 1]` or one value.
fn bias_vector(c: &Const, n: usize) -> std::result::Result<Vec<f32>, String> {
    let v = c.floats();
    let non_one: Vec<usize> = c.dims.iter().copied().filter(|&d| d != 1).collect();
    if v.len() == 1 {
        return Ok(vec![v[0]; n]);
    }
    // [n], [1, n], [n, 1, 1] or [1, n, 1, 1]: the one axis that is not 1 must be the channel axis
    let channel_axis = match c.dims.len() {
        1 | 2 => c.dims.len() - 1,
        3 => 0,
        4 => 1,
        _ => usize::MAX,
    };
    if v.len() == n && non_one.len() == 1 && c.dims.get(channel_axis) == Some(&n) {
        Ok(v)
    } else {
        Err(format!("a bias of shape {:?} for {n} outputs", c.dims))
    }
}

/// Reshape's target (0: keep that axis unless `allowzero`, -1: inferred).
fn reshape_dims(cur: &[usize], target: &[i64], allowzero: bool) -> std::result::Result<Vec<usize>, String> {
    let total: usize = cur.iter().product();
    let mut dims = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer.is_none() => {
                infer = Some(i);
                dims.push(1);
            }
            0 if !allowzero => dims.push(*cur.get(i).ok_or("Reshape copies an axis the tensor does not have")?),
            t if t >= 0 => dims.push(t as usize),
            _ => return Err(format!("Reshape target {target:?}")),
        }
    }
    let known = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or("Reshape target overflows")?;
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {cur:?} to {target:?}"));
        }
        dims[i] = total / known;
    } else if known != total {
        return Err(format!("cannot reshape {cur:?} to {target:?}"));
    }
    Ok(dims)
}

fn squeeze(cur: &[usize], axes: Option<&[i64]>) -> std::result::Result<Vec<usize>, String> {
    let drop: HashSet<usize> = match axes {
        Some(a) => a.iter().map(|&x| axis(x, cur.len())).collect::<std::result::Result<_, _>>()?,
        None => (0..cur.len()).filter(|&i| cur[i] == 1).collect(),
    };
    if drop.iter().any(|&i| cur[i] != 1) {
        return Err(format!("Squeeze of an axis that is not 1 in {cur:?}"));
    }
    Ok(cur.iter().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, &d)| d).collect())
}

fn unsqueeze(cur: &[usize], axes: &[i64]) -> std::result::Result<Vec<usize>, String> {
    let r = cur.len() + axes.len();
    let mut add = axes.iter().map(|&x| axis(x, r)).collect::<std::result::Result<Vec<_>, _>>()?;
    add.sort_unstable();
    add.dedup();
    if add.len() != axes.len() {
        return Err("Unsqueeze with a repeated axis".into());
    }
    let mut src = cur.iter();
    Ok((0..r).map(|i| if add.binary_search(&i).is_ok() { 1 } else { *src.next().unwrap_or(&1) }).collect())
}
