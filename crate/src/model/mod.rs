//! The network: an input stage and a chain of layers, each with `forward` and `backward`
//! (its vector-Jacobian product). Every method in this crate is built from these two functions.
//!
//! Tensors are `f32` in CHW order (channels, rows, columns), one sample at a time. Weights follow
//! PyTorch's layout: dense `[out, in]`, convolution `[out_c, in_c, kh, kw]`.

mod file;
mod toolbox;

pub use file::{ModelMeta, Provenance, Watermark, FORMAT_VERSION};
pub use toolbox::{import_toolbox, ToolboxOptions};

use crate::error::{invalid_model, LrpError, Result};
use crate::ops::{self, Window};
use ndarray::{Array1, Array2, Array4};
use std::sync::atomic::{AtomicU64, Ordering};

/// Pixels per side of the drawing grid every model takes (MNIST).
pub const SIDE: usize = 28;
/// Pixels of the drawing grid.
pub const PIXELS: usize = SIDE * SIDE;
/// Upper bound on the parameters of a model we accept.
pub const MAX_PARAMETERS: usize = 20_000_000;
/// Upper bound on the values of one activation tensor.
pub const MAX_ACTIVATION: usize = 4_000_000;

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
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The model's fixed input stage: pixel `x` in [0, 1] becomes `x * scale + shift`, then `pad`
/// pixels of `pad_value` are added on every side. Attributions are taken after this stage.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputStage {
    pub scale: f32,
    pub shift: f32,
    #[serde(default)]
    pub pad: usize,
    #[serde(default)]
    pub pad_value: f32,
}

impl Default for InputStage {
    fn default() -> Self {
        InputStage { scale: 1.0, shift: 0.0, pad: 0, pad_value: 0.0 }
    }
}

impl InputStage {
    /// Side length after padding.
    pub fn side(&self) -> usize {
        SIDE + 2 * self.pad
    }
    /// The value a pixel `p` in [0, 1] takes after normalization.
    pub fn map(&self, p: f32) -> f32 {
        p * self.scale + self.shift
    }
    /// Lowest and highest value of a normalized pixel (the box of z^B).
    pub fn bounds(&self) -> (f32, f32) {
        let (a, b) = (self.map(0.0), self.map(1.0));
        (a.min(b), a.max(b))
    }
    /// Writes the normalized, padded input for 28x28 `pixels` into `out`.
    pub fn apply(&self, pixels: &[f32], out: &mut [f32]) {
        let side = self.side();
        out[..side * side].fill(self.pad_value);
        for y in 0..SIDE {
            let dst = &mut out[(y + self.pad) * side + self.pad..][..SIDE];
            for (d, &p) in dst.iter_mut().zip(&pixels[y * SIDE..(y + 1) * SIDE]) {
                *d = self.map(p);
            }
        }
    }
    /// Copies the 28x28 centre of a padded map into `out`; returns the sum of what lay on the padding.
    pub fn crop(&self, padded: &[f32], out: &mut [f32]) -> f32 {
        let side = self.side();
        let total: f32 = padded[..side * side].iter().sum();
        for y in 0..SIDE {
            out[y * SIDE..(y + 1) * SIDE].copy_from_slice(&padded[(y + self.pad) * side + self.pad..][..SIDE]);
        }
        total - out[..PIXELS].iter().sum::<f32>()
    }
    fn validate(&self) -> Result<()> {
        if !(self.scale.is_finite() && self.shift.is_finite() && self.pad_value.is_finite()) || self.scale == 0.0 {
            return Err(invalid_model("input stage: scale, shift and pad value must be finite, scale non-zero"));
        }
        if self.pad > 64 {
            return Err(invalid_model(format!("input stage: padding {} is more than 64 pixels", self.pad)));
        }
        Ok(())
    }
}

/// A fully connected layer `z = W a + b`, `W` of shape `[out, in]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    pub weight: Array2<f32>,
    pub bias: Array1<f32>,
}

/// A 2-d convolution with zero padding, weight `[out_c, in_c, kh, kw]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2d {
    pub weight: Array4<f32>,
    pub bias: Array1<f32>,
    pub stride: [usize; 2],
    pub padding: usize,
}

/// Pooling window (no padding).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
}

/// One layer of the chain.
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    Dense(Dense),
    Conv2d(Conv2d),
    Relu,
    Tanh,
    MaxPool2d(Pool),
    AvgPool2d(Pool),
    /// Sum over the window times `scale` (the LRP Toolbox uses `1/sqrt(kh*kw)`).
    SumPool2d(Pool, f32),
    Flatten,
}

impl Layer {
    /// Short lowercase name of the layer type, as in the model file.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Dense(_) => "dense",
            Layer::Conv2d(_) => "conv2d",
            Layer::Relu => "relu",
            Layer::Tanh => "tanh",
            Layer::MaxPool2d(_) => "maxpool2d",
            Layer::AvgPool2d(_) => "avgpool2d",
            Layer::SumPool2d(..) => "sumpool2d",
            Layer::Flatten => "flatten",
        }
    }
    /// Number of trainable parameters.
    pub fn parameters(&self) -> usize {
        match self {
            Layer::Dense(d) => d.weight.len() + d.bias.len(),
            Layer::Conv2d(c) => c.weight.len() + c.bias.len(),
            _ => 0,
        }
    }
    /// Output shape for an input shape, or why the layer does not fit.
    pub fn output_shape(&self, s: Shape) -> std::result::Result<Shape, String> {
        match self {
            Layer::Dense(d) => {
                let (o, i) = d.weight.dim();
                if s.len() != i {
                    return Err(format!("dense layer expects {i} inputs but receives {} ({}x{}x{})", s.len(), s.c, s.h, s.w));
                }
                if d.bias.len() != o {
                    return Err(format!("dense bias has {} values for {o} outputs", d.bias.len()));
                }
                Ok(Shape::new(o, 1, 1))
            }
            Layer::Conv2d(c) => {
                let (oc, ic, kh, kw) = c.weight.dim();
                if ic != s.c {
                    return Err(format!("conv2d expects {ic} input channels but receives {}", s.c));
                }
                if c.bias.len() != oc {
                    return Err(format!("conv2d bias has {} values for {oc} channels", c.bias.len()));
                }
                let w = Window::new(s.c, s.h, s.w, [kh, kw], c.stride, c.padding)
                    .ok_or_else(|| format!("conv2d kernel {kh}x{kw} (stride {:?}, padding {}) does not fit a {}x{} input", c.stride, c.padding, s.h, s.w))?;
                Ok(Shape::new(oc, w.out_h, w.out_w))
            }
            Layer::Relu | Layer::Tanh => Ok(s),
            Layer::MaxPool2d(p) | Layer::AvgPool2d(p) | Layer::SumPool2d(p, _) => {
                let w = Window::new(s.c, s.h, s.w, p.kernel, p.stride, 0)
                    .ok_or_else(|| format!("pooling window {:?} (stride {:?}) does not fit a {}x{} input", p.kernel, p.stride, s.h, s.w))?;
                Ok(Shape::new(s.c, w.out_h, w.out_w))
            }
            Layer::Flatten => Ok(Shape::new(s.len(), 1, 1)),
        }
    }
}

/// A linear map in the sense of LRP (dense, convolution, sum/avg pooling) with its geometry, so that
/// every rule can run `forward` and `backward` with *modified* weights `w` (a flat buffer of the layer's
/// weight shape; a pooling layer has a single weight, the factor applied to the window sum).
#[derive(Clone, Copy, Debug)]
pub enum LinOp {
    Dense { n_in: usize },
    Conv { win: Window, out_c: usize },
    Pool { win: Window },
}

impl LinOp {
    /// The linear map of a dense, convolution or sum/average pooling layer with input shape `s`.
    pub fn new(layer: &Layer, s: Shape) -> Option<LinOp> {
        match layer {
            Layer::Dense(d) => Some(LinOp::Dense { n_in: d.weight.dim().1 }),
            Layer::Conv2d(c) => {
                let (oc, _, kh, kw) = c.weight.dim();
                Window::new(s.c, s.h, s.w, [kh, kw], c.stride, c.padding).map(|win| LinOp::Conv { win, out_c: oc })
            }
            Layer::AvgPool2d(p) | Layer::SumPool2d(p, _) => Window::new(s.c, s.h, s.w, p.kernel, p.stride, 0).map(|win| LinOp::Pool { win }),
            _ => None,
        }
    }
    /// Rows x columns of the im2col buffer this op needs (0 if none).
    pub fn col_len(&self) -> usize {
        match self {
            LinOp::Conv { win, .. } => win.col_rows() * win.positions(),
            _ => 0,
        }
    }
    /// `out = forward(w, b, x)`. For a convolution, `ready` may hold `im2col(x)` computed before;
    /// otherwise `im2col(x)` is written to `col`.
    pub fn forward(&self, w: &[f32], b: Option<&[f32]>, x: &[f32], ready: Option<&[f32]>, col: &mut [f32], out: &mut [f32]) {
        match *self {
            LinOp::Dense { n_in, .. } => ops::dense_forward(w, n_in, x, b, out),
            LinOp::Conv { win, out_c } => {
                let col: &[f32] = match ready {
                    Some(c) => c,
                    None => {
                        win.im2col(x, col);
                        col
                    }
                };
                ops::matmul(w, out_c, win.col_rows(), col, win.positions(), b, out);
            }
            LinOp::Pool { win } => {
                let f = w[0];
                win.for_each_window(|o, it| out[o] = f * it.map(|i| x[i]).sum::<f32>());
            }
        }
    }
    /// `gx = W^T g` (the transpose of the layer with weights `w`; the gradient code path).
    pub fn backward(&self, w: &[f32], g: &[f32], col: &mut [f32], gx: &mut [f32]) {
        match *self {
            LinOp::Dense { n_in, .. } => ops::dense_backward(w, n_in, g, gx),
            LinOp::Conv { win, out_c } => {
                ops::matmul_t(w, out_c, win.col_rows(), g, win.positions(), col);
                win.col2im(col, gx);
            }
            LinOp::Pool { win } => {
                let f = w[0];
                gx[..win.in_c * win.in_h * win.in_w].fill(0.0);
                win.for_each_window(|o, it| {
                    let v = f * g[o];
                    it.for_each(|i| gx[i] += v);
                });
            }
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A validated network: input stage, layers, the shape between every two layers, and metadata.
#[derive(Debug, Clone)]
pub struct Model {
    id: u64,
    input: InputStage,
    layers: Vec<Layer>,
    /// `shapes[i]` is the input shape of layer `i`; `shapes[n]` the output (logits).
    shapes: Vec<Shape>,
    ops: Vec<Option<LinOp>>,
    meta: ModelMeta,
}

impl Model {
    /// Builds and validates a model. Errors name the first layer that does not fit.
    pub fn new(input: InputStage, layers: Vec<Layer>, meta: ModelMeta) -> Result<Model> {
        input.validate()?;
        if layers.is_empty() {
            return Err(invalid_model("the model has no layers"));
        }
        let params: usize = layers.iter().map(Layer::parameters).sum();
        if params > MAX_PARAMETERS {
            return Err(invalid_model(format!("{params} parameters is more than the limit of {MAX_PARAMETERS}")));
        }
        let side = input.side();
        let mut shapes = vec![Shape::new(1, side, side)];
        let mut ops = Vec::with_capacity(layers.len());
        for (i, layer) in layers.iter().enumerate() {
            let s = *shapes.last().unwrap();
            let out = layer.output_shape(s).map_err(|e| invalid_model(format!("layer {i} ({}): {e}", layer.kind())))?;
            if out.len() > MAX_ACTIVATION || out.is_empty() {
                return Err(invalid_model(format!("layer {i} ({}) produces {} values (limit {MAX_ACTIVATION})", layer.kind(), out.len())));
            }
            let finite = match layer {
                Layer::Dense(d) => d.weight.iter().chain(d.bias.iter()).all(|v| v.is_finite()),
                Layer::Conv2d(c) => c.weight.iter().chain(c.bias.iter()).all(|v| v.is_finite()),
                Layer::SumPool2d(_, f) => f.is_finite() && *f != 0.0,
                _ => true,
            };
            if !finite {
                return Err(invalid_model(format!("layer {i} ({}) has NaN or infinite parameters", layer.kind())));
            }
            ops.push(LinOp::new(layer, s));
            shapes.push(out);
        }
        let classes = shapes.last().unwrap().len();
        if meta.classes.len() != classes {
            return Err(invalid_model(format!("the model declares {} class names but outputs {classes} values", meta.classes.len())));
        }
        if classes < 2 {
            return Err(invalid_model("the model must output at least two classes"));
        }
        Ok(Model { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), input, layers, shapes, ops, meta })
    }

    /// Changes weights in place (training). Shapes must stay as they are; the model gets a new id so
    /// that caches keyed on it are rebuilt.
    pub fn update_layers(&mut self, f: impl FnOnce(&mut [Layer])) {
        f(&mut self.layers);
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
    /// `shapes()[i]` is the input shape of layer `i`; the last one is the output.
    pub fn shapes(&self) -> &[Shape] {
        &self.shapes
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
    pub(crate) fn op(&self, i: usize) -> Option<&LinOp> {
        self.ops[i].as_ref()
    }
    /// True for layers whose input can only be non-negative (after ReLU, or a non-negative input stage),
    /// decided from the architecture alone. Rules use it to skip the negative-input terms.
    pub fn input_non_negative(&self) -> Vec<bool> {
        let (lo, _) = self.input.bounds();
        let mut nonneg = lo >= 0.0 && (self.input.pad == 0 || self.input.pad_value >= 0.0);
        let mut out = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            out.push(nonneg);
            nonneg = match l {
                Layer::Relu => true,
                Layer::MaxPool2d(_) | Layer::AvgPool2d(_) | Layer::Flatten => nonneg,
                Layer::SumPool2d(_, f) => nonneg && *f > 0.0,
                _ => false,
            };
        }
        out
    }
    /// The flat weight and bias of a dense or convolution layer.
    pub(crate) fn weights(&self, i: usize) -> Option<(&[f32], &[f32])> {
        match &self.layers[i] {
            Layer::Dense(d) => Some((d.weight.as_slice()?, d.bias.as_slice()?)),
            Layer::Conv2d(c) => Some((c.weight.as_slice()?, c.bias.as_slice()?)),
            _ => None,
        }
    }
    /// The single factor of a sum or average pooling layer.
    pub(crate) fn pool_factor(&self, i: usize) -> Option<f32> {
        match &self.layers[i] {
            Layer::AvgPool2d(p) => Some(1.0 / (p.kernel[0] * p.kernel[1]) as f32),
            Layer::SumPool2d(_, f) => Some(*f),
            _ => None,
        }
    }

    /// Runs layer `i` forward. `col` is the layer's im2col buffer (filled for convolutions).
    pub(crate) fn forward_layer(&self, i: usize, x: &[f32], col: &mut [f32], out: &mut [f32]) {
        match &self.layers[i] {
            Layer::Dense(_) | Layer::Conv2d(_) => {
                let (w, b) = self.weights(i).expect("contiguous weights");
                self.ops[i].unwrap().forward(w, Some(b), x, None, col, out);
            }
            Layer::AvgPool2d(_) | Layer::SumPool2d(..) => {
                let f = [self.pool_factor(i).unwrap()];
                self.ops[i].unwrap().forward(&f, None, x, None, col, out);
            }
            Layer::Relu => out.iter_mut().zip(x).for_each(|(o, &v)| *o = ops::pmax(v, 0.0)),
            Layer::Tanh => out.iter_mut().zip(x).for_each(|(o, &v)| *o = v.tanh()),
            Layer::Flatten => out.copy_from_slice(x),
            Layer::MaxPool2d(_) => {
                let w = self.pool_window(i);
                if is_2x2(&w) {
                    for (row, o) in out.chunks_exact_mut(w.out_w).enumerate() {
                        let (r0, r1) = x[pool_top(&w, row)..][..2 * w.in_w].split_at(w.in_w);
                        for ((a, b), o) in r0.chunks_exact(2).zip(r1.chunks_exact(2)).zip(o) {
                            *o = ops::pmax(ops::pmax(a[0], a[1]), ops::pmax(b[0], b[1]));
                        }
                    }
                    return;
                }
                for c in 0..w.in_c {
                    for oy in 0..w.out_h {
                        for ox in 0..w.out_w {
                            let start = c * w.in_h * w.in_w + oy * w.sh * w.in_w + ox * w.sw;
                            let mut m = f32::NEG_INFINITY;
                            for ky in 0..w.kh {
                                m = x[start + ky * w.in_w..start + ky * w.in_w + w.kw].iter().fold(m, |a, &v| ops::pmax(a, v));
                            }
                            out[(c * w.out_h + oy) * w.out_w + ox] = m;
                        }
                    }
                }
            }
        }
    }

    fn pool_window(&self, i: usize) -> Window {
        let s = self.shapes[i];
        match &self.layers[i] {
            Layer::MaxPool2d(p) | Layer::AvgPool2d(p) | Layer::SumPool2d(p, _) => Window::new(s.c, s.h, s.w, p.kernel, p.stride, 0).expect("validated"),
            _ => unreachable!("not a pooling layer"),
        }
    }

    /// Max-pooling's routing of `g` (one value per pooled output) to the inputs that were the maximum,
    /// split equally among ties. Shared by the gradient and by LRP's winner-take-all rule.
    pub(crate) fn maxpool_route(&self, i: usize, x: &[f32], g: &[f32], gx: &mut [f32]) {
        let w = self.pool_window(i);
        gx.fill(0.0);
        if is_2x2(&w) {
            // the common 2x2 pool, branch-free: share = g / ties, given to each input equal to the max
            for (row, g) in g.chunks_exact(w.out_w).enumerate() {
                let (r0, r1) = x[pool_top(&w, row)..][..2 * w.in_w].split_at(w.in_w);
                let (d0, d1) = gx[pool_top(&w, row)..][..2 * w.in_w].split_at_mut(w.in_w);
                ops::route2x2(r0, r1, g, d0, d1);
            }
            return;
        }
        for c in 0..w.in_c {
            let base = c * w.in_h * w.in_w;
            for oy in 0..w.out_h {
                for ox in 0..w.out_w {
                    let gv = g[(c * w.out_h + oy) * w.out_w + ox];
                    if gv == 0.0 {
                        continue;
                    }
                    let start = base + oy * w.sh * w.in_w + ox * w.sw;
                    let (mut best, mut ties) = (f32::NEG_INFINITY, 0usize);
                    for ky in 0..w.kh {
                        for &v in &x[start + ky * w.in_w..start + ky * w.in_w + w.kw] {
                            if v > best {
                                best = v;
                                ties = 1;
                            } else if v == best {
                                ties += 1;
                            }
                        }
                    }
                    let share = gv / ties as f32;
                    for ky in 0..w.kh {
                        let row = start + ky * w.in_w;
                        for j in row..row + w.kw {
                            if x[j] == best {
                                gx[j] += share;
                            }
                        }
                    }
                }
            }
        }
    }

    /// The vector-Jacobian product of layer `i`: `gx = (d out / d x)^T g`, given its input `x` and output `y`.
    pub(crate) fn backward_layer(&self, i: usize, x: &[f32], y: &[f32], g: &[f32], col: &mut [f32], gx: &mut [f32]) {
        match &self.layers[i] {
            Layer::Dense(_) | Layer::Conv2d(_) => {
                let (w, _) = self.weights(i).expect("contiguous weights");
                self.ops[i].unwrap().backward(w, g, col, gx);
            }
            Layer::AvgPool2d(_) | Layer::SumPool2d(..) => {
                let f = [self.pool_factor(i).unwrap()];
                self.ops[i].unwrap().backward(&f, g, col, gx);
            }
            Layer::Relu => gx.iter_mut().zip(g.iter().zip(y)).for_each(|(o, (&gv, &yv))| *o = if yv > 0.0 { gv } else { 0.0 }),
            Layer::Tanh => gx.iter_mut().zip(g.iter().zip(y)).for_each(|(o, (&gv, &yv))| *o = gv * (1.0 - yv * yv)),
            Layer::Flatten => gx.copy_from_slice(g),
            Layer::MaxPool2d(_) => self.maxpool_route(i, x, g, gx),
        }
    }
}

/// A 2x2 pooling window with stride 2 (the common case, with its own branch-free loops).
fn is_2x2(w: &Window) -> bool {
    (w.kh, w.kw, w.sh, w.sw, w.pad) == (2, 2, 2, 2, 0)
}

/// Where the two input rows under output row `row` (counted over all channels) of a 2x2 pool start.
fn pool_top(w: &Window, row: usize) -> usize {
    (row / w.out_h * w.in_h + 2 * (row % w.out_h)) * w.in_w
}

impl TryFrom<&[u8]> for Model {
    type Error = LrpError;
    fn try_from(bytes: &[u8]) -> Result<Model> {
        file::load(bytes)
    }
}
