//! Nodes with several inputs: `add` (element-wise sum: residual connections) and `concat` (along
//! channels). The gradient of `add` passes `g` to every summand and `concat` slices it. For LRP, `add`
//! splits relevance in proportion to each summand's contribution, `R_j = x_j / stabilize(sum_i x_i) R`
//! (the z-rule with the sign-aligned stabilizer, as Zennit's `Sum` layer with its `Norm` rule), and
//! `concat` slices relevance like its gradient.

use super::Shape;
use crate::rules::{stabilize, STABILIZER};

pub fn add_shape(inputs: &[Shape]) -> Result<Shape, String> {
    let first = inputs[0];
    if inputs.len() < 2 {
        return Err("add needs at least two inputs".into());
    }
    if let Some(s) = inputs.iter().find(|s| **s != first) {
        return Err(format!("add: summands of shape {}x{}x{} and {}x{}x{} differ", first.c, first.h, first.w, s.c, s.h, s.w));
    }
    Ok(first)
}

pub fn concat_shape(inputs: &[Shape]) -> Result<Shape, String> {
    let first = inputs[0];
    if let Some(s) = inputs.iter().find(|s| (s.h, s.w) != (first.h, first.w)) {
        return Err(format!("concat: maps of {}x{} and {}x{} cannot be stacked along channels", first.h, first.w, s.h, s.w));
    }
    let c = inputs.iter().try_fold(0usize, |c, s| c.checked_add(s.c)).ok_or("concat: too many channels")?;
    Ok(Shape::new(c, first.h, first.w))
}

/// `out = x_0 + x_1 + ...`, summed in input order.
pub fn add_forward<'a>(mut xs: impl Iterator<Item = &'a [f32]>, out: &mut [f32]) {
    out.copy_from_slice(xs.next().expect("add has inputs"));
    for x in xs {
        out.iter_mut().zip(x).for_each(|(o, v)| *o += v);
    }
}

/// `R_j = x_j * R / stabilize(y)` for summand `x_j` of `y = sum_i x_i`.
pub fn add_relevance(xj: &[f32], y: &[f32], r: &[f32], rj: &mut [f32]) {
    for (((o, &x), &yk), &rk) in rj.iter_mut().zip(xj).zip(y).zip(r) {
        *o = x * (rk / stabilize(yk, STABILIZER));
    }
}

/// Writes the inputs one after another (CHW: concatenating channels is concatenating the buffers).
pub fn concat_forward<'a>(xs: impl Iterator<Item = &'a [f32]>, out: &mut [f32]) {
    let mut at = 0;
    for x in xs {
        out[at..at + x.len()].copy_from_slice(x);
        at += x.len();
    }
}

/// The slice of `g` that belongs to the input starting at `offset` with `len` values.
pub fn concat_backward(g: &[f32], offset: usize, gx: &mut [f32]) {
    let n = gx.len();
    gx.copy_from_slice(&g[offset..offset + n]);
}
