//! 2-d convolution with stride, zero padding per side, dilation and groups (depthwise: groups equal to
//! channels). Weight `[out_c, in_c / groups, kh, kw]` as PyTorch's `Conv2d`.

use super::{LinOp, Shape};
use crate::ops::{self, Window};
use ndarray::{Array1, Array4};

#[derive(Clone, Debug, PartialEq)]
pub struct Conv2d {
    pub weight: Array4<f32>,
    pub bias: Array1<f32>,
    pub stride: [usize; 2],
    /// Zero padding `[top, left, bottom, right]`.
    pub padding: [usize; 4],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Conv2d {
    /// A convolution with the same padding on every side, no dilation, one group.
    pub fn new(weight: Array4<f32>, bias: Array1<f32>, stride: [usize; 2], padding: usize) -> Conv2d {
        Conv2d { weight, bias, stride, padding: [padding; 4], dilation: [1, 1], groups: 1 }
    }
    /// The sliding window over an input of shape `s` (all input channels), if the kernel fits.
    pub fn window(&self, s: Shape) -> Option<Window> {
        let (_, _, kh, kw) = self.weight.dim();
        Window::with(s.c, s.h, s.w, [kh, kw], self.stride, self.padding, self.dilation)
    }
    pub fn output_shape(&self, s: Shape) -> Result<Shape, String> {
        let (oc, icg, kh, kw) = self.weight.dim();
        let g = self.groups;
        if g == 0 || oc % g != 0 {
            return Err(format!("conv2d: {g} groups do not divide {oc} output channels"));
        }
        if icg.checked_mul(g) != Some(s.c) {
            return Err(format!("conv2d expects {} input channels ({icg} per group x {g} groups) but receives {}", icg.saturating_mul(g), s.c));
        }
        if self.bias.len() != oc {
            return Err(format!("conv2d bias has {} values for {oc} channels", self.bias.len()));
        }
        let w = self.window(s).ok_or_else(|| {
            format!(
                "conv2d kernel {kh}x{kw} (stride {:?}, padding {:?}, dilation {:?}) does not fit a {}x{} input",
                self.stride, self.padding, self.dilation, s.h, s.w
            )
        })?;
        Ok(Shape::new(oc, w.out_h, w.out_w))
    }
    pub fn op(&self, s: Shape) -> Option<LinOp> {
        let out_c = self.weight.dim().0;
        self.window(s).map(|win| LinOp::Conv { win, out_c, groups: self.groups })
    }
    /// Adds the weight and bias gradients, given the im2col of the input kept from the forward pass
    /// and the output gradient `g` (training).
    pub fn accumulate_grad(&self, col: &[f32], g: &[f32], dw: &mut [f32], db: &mut [f32]) {
        let (oc, icg, kh, kw) = self.weight.dim();
        let pos = g.len() / oc;
        let (og, k) = (oc / self.groups, icg * kh * kw);
        for gi in 0..self.groups {
            let (gg, cg) = (&g[gi * og * pos..(gi + 1) * og * pos], &col[gi * k * pos..(gi + 1) * k * pos]);
            ops::weight_grad(gg, og, cg, k, pos, &mut dw[gi * og * k..(gi + 1) * og * k]);
        }
        for (o, b) in db.iter_mut().enumerate() {
            *b += g[o * pos..(o + 1) * pos].iter().sum::<f32>();
        }
    }
}
