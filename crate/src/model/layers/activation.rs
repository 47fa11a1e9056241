//! Element-wise activations: ReLU, tanh and clamp (ReLU6 is `clamp(0, 6)`). LRP passes relevance
//! through them unchanged; their gradient is the derivative at the forward pass, read off the output.

use crate::ops;

pub fn relu_forward(x: &[f32], out: &mut [f32]) {
    out.iter_mut().zip(x).for_each(|(o, &v)| *o = ops::pmax(v, 0.0));
}
pub fn relu_backward(y: &[f32], g: &[f32], gx: &mut [f32]) {
    pass_where(y, g, gx, |yv| yv > 0.0);
}

/// `gx = g` where `keep(y)`, else `+0.0`, as a bit mask (the branch-free form LLVM vectorises; a
/// branch per value was 16 % of a photo's gradient).
#[inline(always)]
fn pass_where(y: &[f32], g: &[f32], gx: &mut [f32], keep: impl Fn(f32) -> bool) {
    let n = gx.len();
    for ((o, &gv), &yv) in gx.iter_mut().zip(&g[..n]).zip(&y[..n]) {
        *o = f32::from_bits(gv.to_bits() & if keep(yv) { u32::MAX } else { 0 });
    }
}

pub fn tanh_forward(x: &[f32], out: &mut [f32]) {
    out.iter_mut().zip(x).for_each(|(o, &v)| *o = v.tanh());
}
pub fn tanh_backward(y: &[f32], g: &[f32], gx: &mut [f32]) {
    gx.iter_mut().zip(g.iter().zip(y)).for_each(|(o, (&gv, &yv))| *o = gv * (1.0 - yv * yv));
}

/// `min(max(x, lo), hi)`.
pub fn clamp_forward(lo: f32, hi: f32, x: &[f32], out: &mut [f32]) {
    out.iter_mut().zip(x).for_each(|(o, &v)| *o = ops::pmin(ops::pmax(v, lo), hi));
}
/// The gradient passes where the input lay strictly inside `(lo, hi)` (PyTorch's `hardtanh_backward`).
pub fn clamp_backward(lo: f32, hi: f32, y: &[f32], g: &[f32], gx: &mut [f32]) {
    pass_where(y, g, gx, |yv| yv > lo && yv < hi);
}

pub fn validate_clamp(lo: f32, hi: f32) -> Result<(), String> {
    if lo.is_nan() || hi.is_nan() || lo >= hi {
        return Err(format!("clamp needs min < max, got min {lo}, max {hi}"));
    }
    Ok(())
}
