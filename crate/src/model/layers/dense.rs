//! Fully connected layer `z = W a + b`, `W` of shape `[out, in]` (PyTorch's `Linear`).

use super::{LinOp, Shape};
use crate::ops;
use ndarray::{Array1, Array2};

#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    pub weight: Array2<f32>,
    pub bias: Array1<f32>,
}

impl Dense {
    pub fn output_shape(&self, s: Shape) -> Result<Shape, String> {
        let (o, i) = self.weight.dim();
        if s.len() != i {
            return Err(format!("dense layer expects {i} inputs but receives {} ({}x{}x{})", s.len(), s.c, s.h, s.w));
        }
        if self.bias.len() != o {
            return Err(format!("dense bias has {} values for {o} outputs", self.bias.len()));
        }
        Ok(Shape::new(o, 1, 1))
    }
    pub fn op(&self) -> LinOp {
        LinOp::Dense { n_in: self.weight.dim().1 }
    }
    /// Adds the weight and bias gradients for input `x` and output gradient `g` (training).
    pub fn accumulate_grad(&self, x: &[f32], g: &[f32], dw: &mut [f32], db: &mut [f32]) {
        let n_in = self.weight.dim().1;
        for (o, &gv) in g.iter().enumerate() {
            if gv != 0.0 {
                ops::axpy(&mut dw[o * n_in..(o + 1) * n_in], gv, x);
            }
        }
        db.iter_mut().zip(g).for_each(|(b, v)| *b += v);
    }
}
