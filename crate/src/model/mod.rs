//! The network: an input stage and a graph of nodes, each a [`Layer`] reading one or more earlier
//! values. Value 0 is the model input (after the input stage); value `k + 1` is the output of node
//! `k`; the last node's output is the logits. Nodes are in topological order (each reads only values
//! before it), so a chain is the special case where node `k` reads value `k`. Every method in this
//! crate is built from the layers' `forward` and `backward` (its vector-Jacobian product).
//!
//! Tensors are `f32` in CHW order (channels, rows, columns), one sample at a time. Weights follow
//! PyTorch's layout: dense `[out, in]`, convolution `[out_c, in_c / groups, kh, kw]`.

mod file;
pub mod layers;
#[cfg(feature = "onnx")]
pub mod onnx;
mod stage;
mod toolbox;

pub use file::{ModelMeta, Provenance, Watermark, FORMAT_VERSION};
pub use layers::{BatchNorm, Conv2d, Dense, Layer, LinOp, Lstm, LstmRelevance, LstmRule, NodeOp, NodeSpec, Pool, Relevance, Shape};
#[cfg(feature = "onnx")]
pub use onnx::{import_onnx, OnnxOptions};
pub use stage::InputStage;
pub use toolbox::{import_toolbox, ToolboxOptions};

use crate::error::{invalid_model, LrpError, Result};
use layers::Inputs;
use std::sync::atomic::{AtomicU64, Ordering};

/// Pixels per side of the drawing grid (MNIST).
pub const SIDE: usize = 28;
/// Pixels of the drawing grid.
pub const PIXELS: usize = SIDE * SIDE;
/// Upper bound on the parameters of a model we accept.
pub const MAX_PARAMETERS: usize = 20_000_000;
/// Upper bound on the values of one activation tensor.
pub const MAX_ACTIVATION: usize = 4_000_000;
/// Upper bound on the nodes of a model.
pub const MAX_NODES: usize = 4096;
/// Upper bound on the values one node reads.
pub const MAX_INPUTS: usize = 256;
/// Upper bound on the buffers of one convolution: im2col (input patches times output positions), or
/// the padded input of a depthwise one.
pub const MAX_COLUMNS: usize = 16 * MAX_ACTIVATION;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How a node's result for one input value reaches that value's gradient or relevance buffer in a
/// backward pass (nodes run last to first): the first node to get there writes, later ones add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sink {
    Write,
    Add,
}

/// A validated network: input stage, nodes, the shape of every value, and metadata.
#[derive(Debug, Clone)]
pub struct Model {
    id: u64,
    input: InputStage,
    layers: Vec<Layer>,
    /// `inputs[k]`: the values node `k` reads.
    inputs: Vec<Vec<usize>>,
    /// `sinks[k][j]`: how node `k`'s backward result for its input `j` is stored.
    sinks: Vec<Vec<Sink>>,
    /// `shapes[v]`: the shape of value `v` (`shapes[0]` the padded input, the last the logits).
    shapes: Vec<Shape>,
    ops: Vec<Option<LinOp>>,
    /// Per node: the weights transposed, for a narrow convolution (see [`LinOp::transposed`]).
    transposed: Vec<Option<Vec<f32>>>,
    chain: bool,
    /// Per node: its input is the model input, through nothing but `flatten`.
    sees_input: Vec<bool>,
    meta: ModelMeta,
}

impl Model {
    /// A chain of layers (node `k` reads value `k`). Errors name the first layer that does not fit.
    pub fn new(input: InputStage, layers: Vec<Layer>, meta: ModelMeta) -> Result<Model> {
        let inputs = (0..layers.len()).map(|k| vec![k]).collect();
        Model::graph(input, layers, inputs, meta)
    }

    /// A graph: `inputs[k]` lists the values node `k` reads (see the module doc).
    pub fn graph(input: InputStage, layers: Vec<Layer>, inputs: Vec<Vec<usize>>, meta: ModelMeta) -> Result<Model> {
        input.validate()?;
        if layers.is_empty() {
            return Err(invalid_model("the model has no layers"));
        }
        if layers.len() > MAX_NODES || inputs.len() != layers.len() {
            return Err(invalid_model(format!("{} nodes with {} input lists (limit {MAX_NODES} nodes)", layers.len(), inputs.len())));
        }
        let params: usize = layers.iter().map(Layer::parameters).sum();
        if params > MAX_PARAMETERS {
            return Err(invalid_model(format!("{params} parameters is more than the limit of {MAX_PARAMETERS}")));
        }
        let padded = input.padded_shape();
        if padded.checked_len().is_none_or(|n| n > MAX_ACTIVATION) {
            return Err(invalid_model(format!("a {}x{}x{} input (padded) is more than {MAX_ACTIVATION} values", padded.c, padded.h, padded.w)));
        }
        let mut shapes = vec![padded];
        let mut ops = Vec::with_capacity(layers.len());
        let mut consumed = vec![0usize; layers.len() + 1];
        for (k, layer) in layers.iter().enumerate() {
            let fail = |e: String| invalid_model(format!("layer {k} ({}): {e}", layer.kind()));
            if let Some(&v) = inputs[k].iter().find(|&&v| v > k) {
                return Err(fail(format!("reads value {v}, which is not computed before it (values 0..={k})")));
            }
            if inputs[k].len() > MAX_INPUTS {
                return Err(fail(format!("reads {} values (limit {MAX_INPUTS})", inputs[k].len())));
            }
            let ins: Vec<Shape> = inputs[k].iter().map(|&v| shapes[v]).collect();
            let out = layer.output_shape(&ins).map_err(fail)?;
            match out.checked_len() {
                Some(n) if n > 0 && n <= MAX_ACTIVATION => {}
                _ => return Err(fail(format!("produces {}x{}x{} values (limit {MAX_ACTIVATION}, none empty)", out.c, out.h, out.w))),
            }
            layer.validate().map_err(fail)?;
            inputs[k].iter().for_each(|&v| consumed[v] += 1);
            let op = layer.linear_op(ins[0]);
            if layer.is_linear() && op.is_none() {
                return Err(fail("its window does not fit the input".into()));
            }
            // the buffer the op works in, and im2col (which training reads for every convolution)
            let cols = op.as_ref().map_or(Some(0), |o| match o {
                LinOp::Conv { win, .. } => win.col_rows().checked_mul(win.positions()).zip(o.checked_col_len()).map(|(a, b)| a.max(b)),
                _ => Some(0),
            });
            let cols = cols.map(|n| n.max(layer.buffer_len(ins[0])));
            if cols.is_none_or(|n| n > MAX_COLUMNS) {
                return Err(fail(format!("its input patches would take more than {MAX_COLUMNS} values")));
            }
            ops.push(op);
            shapes.push(out);
        }
        if let Some(v) = (0..layers.len()).find(|&v| consumed[v] == 0) {
            return Err(invalid_model(if v == 0 {
                "no layer reads the model input".to_string()
            } else {
                format!("the output of layer {} ({}) is never used", v - 1, layers[v - 1].kind())
            }));
        }
        // backward passes run from the last node down: the first to reach a value writes it
        let mut seen = vec![false; layers.len() + 1];
        let mut sinks: Vec<Vec<Sink>> = vec![Vec::new(); layers.len()];
        for k in (0..layers.len()).rev() {
            sinks[k] = inputs[k].iter().map(|&v| if std::mem::replace(&mut seen[v], true) { Sink::Add } else { Sink::Write }).collect();
        }
        let classes = shapes.last().map_or(0, Shape::len);
        if meta.classes.len() != classes {
            return Err(invalid_model(format!("the model declares {} class names but outputs {classes} values", meta.classes.len())));
        }
        if classes < 2 {
            return Err(invalid_model("the model must output at least two classes"));
        }
        let chain = inputs.iter().enumerate().all(|(k, i)| i.as_slice() == [k]);
        let mut is_input = vec![true];
        let mut sees_input = Vec::with_capacity(layers.len());
        for (k, l) in layers.iter().enumerate() {
            let s = inputs[k].len() == 1 && is_input[inputs[k][0]];
            sees_input.push(s);
            is_input.push(s && matches!(l, Layer::Flatten));
        }
        let transposed = transposed(&layers, &ops);
        Ok(Model { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), input, layers, inputs, sinks, shapes, ops, transposed, chain, sees_input, meta })
    }

    /// A graph from file nodes: BatchNorms folded into the layer before them, identities dropped.
    pub fn from_nodes(input: InputStage, nodes: Vec<NodeSpec>, meta: ModelMeta) -> Result<Model> {
        let (layers, inputs) = layers::canonize(nodes)?.into_iter().unzip();
        Model::graph(input, layers, inputs, meta)
    }

    /// Changes weights in place (training). Shapes must stay as they are; the model gets a new id so
    /// that caches keyed on it are rebuilt.
    pub fn update_layers(&mut self, f: impl FnOnce(&mut [Layer])) {
        f(&mut self.layers);
        self.transposed = transposed(&self.layers, &self.ops);
        self.id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    }

    /// Replaces the metadata (name, classes, provenance); the class count must match.
    pub fn set_meta(&mut self, meta: ModelMeta) -> Result<()> {
        if meta.classes.len() != self.classes() {
            return Err(invalid_model(format!("{} class names for {} outputs", meta.classes.len(), self.classes())));
        }
        self.meta = meta;
        Ok(())
    }

    /// A process-unique id (caches keyed on a model use it).
    pub fn id(&self) -> u64 {
        self.id
    }
    pub fn input_stage(&self) -> &InputStage {
        &self.input
    }
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
    /// The values node `k` reads.
    pub fn inputs(&self, k: usize) -> &[usize] {
        &self.inputs[k]
    }
    /// True if node `k` reads value `k` for every `k`.
    pub fn is_chain(&self) -> bool {
        self.chain
    }
    pub(crate) fn sinks(&self, k: usize) -> &[Sink] {
        &self.sinks[k]
    }
    /// `shapes()[v]` is the shape of value `v`: `shapes()[0]` the padded input, the last the logits.
    /// In a chain, `shapes()[k]` is the input shape of layer `k`.
    pub fn shapes(&self) -> &[Shape] {
        &self.shapes
    }
    /// The shape of node `k`'s first input.
    pub fn input_shape_of(&self, k: usize) -> Shape {
        self.shapes[self.inputs[k][0]]
    }
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }
    pub fn classes(&self) -> usize {
        self.shapes.last().map_or(0, Shape::len)
    }
    pub fn parameters(&self) -> usize {
        self.layers.iter().map(Layer::parameters).sum()
    }
    /// Multiply-adds of the dense and convolution layers in one forward pass (the usual size of a
    /// network's compute; pooling and activations are not counted).
    pub fn multiply_adds(&self) -> usize {
        self.layers
            .iter()
            .enumerate()
            .map(|(k, l)| match l {
                Layer::Dense(d) => d.weight.len(),
                Layer::Conv2d(c) => self.shapes[k + 1].len() * c.weight.len() / c.weight.dim().0,
                Layer::Lstm(l) => self.input_shape_of(k).h * l.weights.len(),
                _ => 0,
            })
            .sum()
    }
    /// Values of one input (the stage's `C x H x W`, before padding).
    pub fn input_len(&self) -> usize {
        self.input.input_len()
    }
    /// Values of node `k`'s buffer: a linear map's ([`LinOp::col_len`]) or an LSTM's states and scratch.
    pub(crate) fn buffer_len(&self, k: usize) -> usize {
        self.ops[k].as_ref().map_or_else(|| self.layers[k].buffer_len(self.input_shape_of(k)), LinOp::col_len)
    }
    /// True if some node is an LSTM.
    pub fn has_lstm(&self) -> bool {
        self.layers.iter().any(|l| matches!(l, Layer::Lstm(_)))
    }
    pub(crate) fn op(&self, k: usize) -> Option<&LinOp> {
        self.ops[k].as_ref()
    }
    /// For each value, true if it can only be non-negative (after ReLU, or a non-negative input stage),
    /// decided from the architecture alone. Rules use it to skip the negative-input terms.
    pub fn values_non_negative(&self) -> Vec<bool> {
        self.values_non_negative_from(self.input.non_negative())
    }
    /// As [`Model::values_non_negative`], with the input's sign given (false for noisy inputs).
    fn values_non_negative_from(&self, input: bool) -> Vec<bool> {
        let mut nonneg = vec![input];
        for (k, l) in self.layers.iter().enumerate() {
            let all = self.inputs[k].iter().all(|&v| nonneg[v]);
            nonneg.push(l.keeps_non_negative(all));
        }
        nonneg
    }
    /// For each node, true if its (first) input can only be non-negative; `exact_input`: the model
    /// input is what the stage makes of pixels in [0, 1] (false: any value, as SmoothGrad's noisy copies).
    pub fn input_non_negative(&self, exact_input: bool) -> Vec<bool> {
        let v = self.values_non_negative_from(exact_input && self.input.non_negative());
        self.inputs.iter().map(|i| v[i[0]]).collect()
    }
    /// For each node, true if its input is the model input, reached through nothing but `flatten`
    /// (the layers where z^B's pixel box applies).
    pub fn sees_input(&self) -> &[bool] {
        &self.sees_input
    }
    /// The flat weight and bias of a dense or convolution layer.
    pub(crate) fn weights(&self, k: usize) -> Option<(&[f32], &[f32])> {
        self.layers[k].weights()
    }
    /// The single factor of a sum, average or global average pooling layer.
    pub(crate) fn pool_factor(&self, k: usize) -> Option<f32> {
        self.layers[k].pool_factor(self.input_shape_of(k))
    }

    fn node_inputs<'a>(&'a self, k: usize, values: &'a [Vec<f32>]) -> Inputs<'a> {
        Inputs { values, index: &self.inputs[k] }
    }

    /// Runs node `k` forward; `values` holds the values before it (at least `k + 1`). `col` is the
    /// node's buffer ([`LinOp::col_len`]), where a convolution leaves its prepared input.
    pub(crate) fn forward_layer(&self, k: usize, values: &[Vec<f32>], col: &mut [f32], out: &mut [f32]) {
        self.layers[k].forward(self.ops[k].as_ref(), self.transposed[k].as_deref(), self.input_shape_of(k), self.node_inputs(k, values), col, out);
    }

    /// The vector-Jacobian product of node `k` with respect to its input `j`: `gx = (d out / d x_j)^T g`,
    /// given the values before it, its output `y` and `kept`, its buffer from that forward pass.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward_layer(&self, k: usize, j: usize, values: &[Vec<f32>], y: &[f32], g: &[f32], kept: &[f32], col: &mut [f32], gx: &mut [f32]) {
        self.layers[k].backward(self.ops[k].as_ref(), self.input_shape_of(k), self.node_inputs(k, values), j, y, g, kept, col, gx);
    }

    /// LRP through an `add` node: the relevance of its summand `j`.
    pub(crate) fn add_relevance(&self, k: usize, j: usize, values: &[Vec<f32>], y: &[f32], r: &[f32], rj: &mut [f32]) {
        Layer::add_relevance(self.node_inputs(k, values), j, y, r, rj)
    }
}

/// The transposed weights of every narrow convolution (None for every other node).
fn transposed(layers: &[Layer], ops: &[Option<LinOp>]) -> Vec<Option<Vec<f32>>> {
    layers.iter().zip(ops).map(|(l, op)| op.as_ref().zip(l.weights()).and_then(|(op, (w, _))| op.transposed(w))).collect()
}

impl TryFrom<&[u8]> for Model {
    type Error = LrpError;
    fn try_from(bytes: &[u8]) -> Result<Model> {
        file::load(bytes)
    }
}

/// The formats a model is read from. `lrp` and the page both go through [`ModelFormat::load`].
#[derive(Clone, Debug, PartialEq)]
pub enum ModelFormat {
    /// This crate's `.safetensors` file (tensors plus versioned JSON metadata).
    Safetensors,
    /// An LRP Toolbox text model, with the input stage it expects (the text format does not say).
    Toolbox(ToolboxOptions),
    /// An ONNX file, with what it does not say (input normalisation, class names, name).
    #[cfg(feature = "onnx")]
    Onnx(OnnxOptions),
}

impl ModelFormat {
    /// Reads a model from `bytes` in this format (every size bounded before allocating).
    pub fn load(&self, bytes: &[u8]) -> Result<Model> {
        match self {
            ModelFormat::Safetensors => Model::try_from(bytes),
            ModelFormat::Toolbox(options) => {
                let text = std::str::from_utf8(bytes).map_err(|_| LrpError::Toolbox { line: 0, message: "the file is not UTF-8 text".into() })?;
                import_toolbox(text, options)
            }
            #[cfg(feature = "onnx")]
            ModelFormat::Onnx(options) => import_onnx(bytes, options),
        }
    }
}
