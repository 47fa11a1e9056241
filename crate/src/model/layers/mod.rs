//! The layer types. Each lives in its own module with everything about it (shape inference, forward,
//! backward, parameters, weight gradients); this file is the one `match` over them, each arm
//! delegating to the layer's module, and says once how relevance passes through each type
//! ([`Layer::relevance`]).
//!
//! Adding a layer type: its module here, its variant and arms in this file, its entry in
//! `model/file.rs` (the model file), and tests.

mod activation;
mod batchnorm;
mod conv;
mod dense;
mod linear;
mod lstm;
mod merge;
mod pool;

pub use batchnorm::{canonize, BatchNorm};
pub use conv::Conv2d;
pub use dense::Dense;
pub use linear::LinOp;
pub use lstm::{Lstm, LstmRelevance, LstmRule};
pub use pool::Pool;

use crate::ops::Window;

/// Shape of an activation tensor, channels x height x width. Dense layers use `(n, 1, 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Shape {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Shape {
    pub fn new(c: usize, h: usize, w: usize) -> Self {
        Shape { c, h, w }
    }
    pub fn len(&self) -> usize {
        self.c * self.h * self.w
    }
    /// The number of values, or `None` if it overflows (checked before a shape is used).
    pub fn checked_len(&self) -> Option<usize> {
        self.c.checked_mul(self.h)?.checked_mul(self.w)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One node's operation.
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    Dense(Dense),
    Conv2d(Conv2d),
    Relu,
    Tanh,
    /// `min(max(x, min), max)`; ReLU6 is `Clamp { min: 0, max: 6 }`.
    Clamp {
        min: f32,
        max: f32,
    },
    MaxPool2d(Pool),
    AvgPool2d(Pool),
    /// Sum over the window times `scale` (the LRP Toolbox uses `1/sqrt(kh*kw)`).
    SumPool2d(Pool, f32),
    /// Mean over each channel's map: `C x H x W` to `C x 1 x 1`.
    GlobalAvgPool,
    Flatten,
    /// Element-wise sum of two or more inputs of one shape (residual connections).
    Add,
    /// Concatenation of the inputs along channels.
    Concat,
    /// An LSTM over the rows of a `1 x T x E` input (one or both directions): the final hidden states.
    Lstm(Lstm),
}

/// How relevance passes through a layer type in LRP: the one place that says which layers take a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relevance {
    /// A linear map: a rule of [`crate::rules`] (the generic four-step rule with modified parameters).
    Rule,
    /// Element-wise activations: relevance passes unchanged.
    Identity,
    /// Relevance is routed like the gradient (max-pooling's winner-take-all, flatten, concat's slices).
    Gradient,
    /// `add`: split in proportion to the summands' contributions (z-rule, sign-aligned stabilizer).
    Proportional,
    /// An LSTM: the rules of Arras et al. 2017 inside the layer ([`Lstm::lrp`]), with the epsilon of
    /// its rule.
    Recurrent,
}

/// A node's operation before canonization: a layer, or a BatchNorm (folded into the layer before it),
/// or an identity (dropout at inference; dropped).
#[derive(Clone, Debug, PartialEq)]
pub enum NodeOp {
    Layer(Layer),
    BatchNorm(BatchNorm),
    Identity,
}

impl NodeOp {
    pub fn kind(&self) -> &'static str {
        match self {
            NodeOp::Layer(l) => l.kind(),
            NodeOp::BatchNorm(_) => "batchnorm",
            NodeOp::Identity => "identity",
        }
    }
}

/// A node of a model graph as read from a file: its operation and the values it reads (value 0 is the
/// model input, value `k + 1` the output of node `k`).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSpec {
    pub op: NodeOp,
    pub inputs: Vec<usize>,
}

/// The inputs of one node during a pass: the activations so far and the node's value indices.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub values: &'a [Vec<f32>],
    pub index: &'a [usize],
}

impl<'a> Inputs<'a> {
    pub fn get(&self, j: usize) -> &'a [f32] {
        &self.values[self.index[j]]
    }
    pub fn first(&self) -> &'a [f32] {
        self.get(0)
    }
    pub fn iter(&self) -> impl Iterator<Item = &'a [f32]> + '_ {
        self.index.iter().map(|&v| self.values[v].as_slice())
    }
}

impl Layer {
    /// Short lowercase name of the layer type, as in the model file.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Dense(_) => "dense",
            Layer::Conv2d(_) => "conv2d",
            Layer::Relu => "relu",
            Layer::Tanh => "tanh",
            Layer::Clamp { .. } => "clamp",
            Layer::MaxPool2d(_) => "maxpool2d",
            Layer::AvgPool2d(_) => "avgpool2d",
            Layer::SumPool2d(..) => "sumpool2d",
            Layer::GlobalAvgPool => "globalavgpool",
            Layer::Flatten => "flatten",
            Layer::Add => "add",
            Layer::Concat => "concat",
            Layer::Lstm(_) => "lstm",
        }
    }

    pub fn relevance(&self) -> Relevance {
        match self {
            Layer::Dense(_) | Layer::Conv2d(_) | Layer::AvgPool2d(_) | Layer::SumPool2d(..) | Layer::GlobalAvgPool => Relevance::Rule,
            Layer::Relu | Layer::Tanh | Layer::Clamp { .. } => Relevance::Identity,
            Layer::MaxPool2d(_) | Layer::Flatten | Layer::Concat => Relevance::Gradient,
            Layer::Add => Relevance::Proportional,
            Layer::Lstm(_) => Relevance::Recurrent,
        }
    }

    /// True for dense, convolution and LSTM layers (their own weights; the layers rule lists name).
    pub fn is_weighted(&self) -> bool {
        matches!(self, Layer::Dense(_) | Layer::Conv2d(_) | Layer::Lstm(_))
    }

    /// True for linear layers (take a rule).
    pub fn is_linear(&self) -> bool {
        self.relevance() == Relevance::Rule
    }

    /// True if the layer has several inputs.
    pub fn is_merge(&self) -> bool {
        matches!(self, Layer::Add | Layer::Concat)
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> usize {
        match self {
            Layer::Dense(d) => d.weight.len() + d.bias.len(),
            Layer::Conv2d(c) => c.weight.len() + c.bias.len(),
            Layer::Lstm(l) => l.parameters(),
            _ => 0,
        }
    }

    /// Checks the layer's own parameters (finite, non-degenerate).
    pub fn validate(&self) -> Result<(), String> {
        let finite = match self {
            Layer::Dense(d) => d.weight.iter().chain(d.bias.iter()).all(|v| v.is_finite()),
            Layer::Conv2d(c) => c.weight.iter().chain(c.bias.iter()).all(|v| v.is_finite()),
            Layer::SumPool2d(_, f) => f.is_finite() && *f != 0.0,
            Layer::Clamp { min, max } => return activation::validate_clamp(*min, *max),
            Layer::Lstm(l) => return l.validate(),
            _ => true,
        };
        if finite {
            Ok(())
        } else {
            Err("NaN or infinite parameters".into())
        }
    }

    /// Output shape for the input shapes, or why the layer does not fit.
    pub fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> {
        if inputs.is_empty() || (!self.is_merge() && inputs.len() != 1) {
            return Err(format!("takes {} input(s), got {}", if self.is_merge() { "two or more" } else { "one" }, inputs.len()));
        }
        let s = inputs[0];
        match self {
            Layer::Dense(d) => d.output_shape(s),
            Layer::Conv2d(c) => c.output_shape(s),
            Layer::Relu | Layer::Tanh | Layer::Clamp { .. } => Ok(s),
            Layer::MaxPool2d(p) | Layer::AvgPool2d(p) | Layer::SumPool2d(p, _) => p.output_shape(s),
            Layer::GlobalAvgPool => {
                pool::global_window(s).ok_or_else(|| format!("a {}x{} map is larger than a pooling window may be", s.h, s.w))?;
                Ok(Shape::new(s.c, 1, 1))
            }
            Layer::Flatten => Ok(Shape::new(s.len(), 1, 1)),
            Layer::Add => merge::add_shape(inputs),
            Layer::Concat => merge::concat_shape(inputs),
            Layer::Lstm(l) => l.output_shape(s),
        }
    }

    /// The linear map of a layer that takes a rule, for input shape `s`.
    pub fn linear_op(&self, s: Shape) -> Option<LinOp> {
        match self {
            Layer::Dense(d) => Some(d.op()),
            Layer::Conv2d(c) => c.op(s),
            Layer::AvgPool2d(p) | Layer::SumPool2d(p, _) => p.op(s),
            Layer::GlobalAvgPool => pool::global_window(s).map(|win| LinOp::Pool { win }),
            _ => None,
        }
    }

    /// The flat weight and bias of a dense or convolution layer.
    pub fn weights(&self) -> Option<(&[f32], &[f32])> {
        match self {
            Layer::Dense(d) => Some((d.weight.as_slice()?, d.bias.as_slice()?)),
            Layer::Conv2d(c) => Some((c.weight.as_slice()?, c.bias.as_slice()?)),
            _ => None,
        }
    }

    /// The single factor of a pooling layer that is linear, for input shape `s`.
    pub fn pool_factor(&self, s: Shape) -> Option<f32> {
        match self {
            Layer::AvgPool2d(p) => Some(p.mean_factor()),
            Layer::SumPool2d(_, f) => Some(*f),
            Layer::GlobalAvgPool => Some(pool::global_factor(s)),
            _ => None,
        }
    }

    /// True if the output is non-negative whenever every input is (or always, for ReLU).
    pub fn keeps_non_negative(&self, inputs_non_negative: bool) -> bool {
        match self {
            Layer::Relu => true,
            Layer::Clamp { min, max } => *min >= 0.0 || (inputs_non_negative && *max >= 0.0),
            Layer::MaxPool2d(_) | Layer::AvgPool2d(_) | Layer::GlobalAvgPool | Layer::Flatten | Layer::Add | Layer::Concat => inputs_non_negative,
            Layer::SumPool2d(_, f) => inputs_non_negative && *f > 0.0,
            Layer::Dense(_) | Layer::Conv2d(_) | Layer::Tanh | Layer::Lstm(_) => false,
        }
    }

    /// Forward pass. `op` is the layer's linear map (if it has one), `wt` its weights transposed if it
    /// is a narrow convolution, `col` its buffer ([`LinOp::col_len`]: a convolution leaves its prepared
    /// input there, im2col or the padded input).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn forward(&self, op: Option<&LinOp>, wt: Option<&[f32]>, s: Shape, x: Inputs, col: &mut [f32], out: &mut [f32]) {
        match self {
            Layer::Dense(_) | Layer::Conv2d(_) => {
                let (w, b) = self.weights().expect("contiguous weights");
                op.expect("linear op").forward(w, wt, Some(b), x.first(), None, col, out);
            }
            Layer::AvgPool2d(_) | Layer::SumPool2d(..) | Layer::GlobalAvgPool => {
                let f = [self.pool_factor(s).expect("pooling factor")];
                op.expect("linear op").forward(&f, None, None, x.first(), None, col, out);
            }
            Layer::Relu => activation::relu_forward(x.first(), out),
            Layer::Tanh => activation::tanh_forward(x.first(), out),
            Layer::Clamp { min, max } => activation::clamp_forward(*min, *max, x.first(), out),
            Layer::Flatten => out.copy_from_slice(x.first()),
            Layer::MaxPool2d(p) => pool::max_forward(&self.max_window(p, s), x.first(), out),
            Layer::Add => merge::add_forward(x.iter(), out),
            Layer::Concat => merge::concat_forward(x.iter(), out),
            Layer::Lstm(l) => l.forward(x.first(), col, out),
        }
    }

    /// Values of the buffer a layer without a linear map keeps from its forward pass (an LSTM's
    /// states), at least the scratch its backward and LRP passes take; 0 for the others.
    pub fn buffer_len(&self, s: Shape) -> usize {
        match self {
            Layer::Lstm(l) => l.buffer_len(s.h).max(l.work_len()),
            _ => 0,
        }
    }

    fn max_window(&self, p: &Pool, s: Shape) -> Window {
        p.window(s).expect("validated")
    }

    /// The vector-Jacobian product with respect to input `j`: `gx = (d out / d x_j)^T g`, given the
    /// inputs `x`, the output `y`, the input shape `s` (of input 0) and `kept`, the node's buffer from
    /// the forward pass of the same input (an LSTM's states); `col` is scratch.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward(&self, op: Option<&LinOp>, s: Shape, x: Inputs, j: usize, y: &[f32], g: &[f32], kept: &[f32], col: &mut [f32], gx: &mut [f32]) {
        match self {
            Layer::Dense(_) | Layer::Conv2d(_) => {
                let (w, _) = self.weights().expect("contiguous weights");
                op.expect("linear op").backward(w, g, col, gx);
            }
            Layer::AvgPool2d(_) | Layer::SumPool2d(..) | Layer::GlobalAvgPool => {
                let f = [self.pool_factor(s).expect("pooling factor")];
                op.expect("linear op").backward(&f, g, col, gx);
            }
            Layer::Relu => activation::relu_backward(y, g, gx),
            Layer::Tanh => activation::tanh_backward(y, g, gx),
            Layer::Clamp { min, max } => activation::clamp_backward(*min, *max, y, g, gx),
            Layer::Flatten | Layer::Add => gx.copy_from_slice(g),
            Layer::MaxPool2d(p) => pool::max_route(&self.max_window(p, s), x.first(), g, gx),
            Layer::Concat => {
                let offset = x.index[..j].iter().map(|&v| x.values[v].len()).sum();
                merge::concat_backward(g, offset, gx)
            }
            Layer::Lstm(l) => l.backward(x.first(), kept, g, gx, None, col),
        }
    }

    /// LRP through an `add` node: the share of summand `j`.
    pub(crate) fn add_relevance(x: Inputs, j: usize, y: &[f32], r: &[f32], rj: &mut [f32]) {
        merge::add_relevance(x.get(j), y, r, rj)
    }
}
