//! A linear map in the sense of LRP (dense, convolution, sum/average pooling) with its geometry, so
//! that every rule can run `forward` and `backward` with *modified* weights `w` (a flat buffer of the
//! layer's weight shape; a pooling layer has a single weight, the factor applied to the window sum).

use crate::ops::{self, Window};

#[derive(Clone, Copy, Debug)]
pub enum LinOp {
    Dense {
        n_in: usize,
    },
    /// Convolution with `groups` groups: group `g` maps input channels `g*in_c/groups..` to output
    /// channels `g*out_c/groups..` (depthwise: `groups == in_c`).
    Conv {
        win: Window,
        out_c: usize,
        groups: usize,
    },
    Pool {
        win: Window,
    },
}

impl LinOp {
    /// Rows x columns of the im2col buffer this op needs (0 if none).
    pub fn col_len(&self) -> usize {
        match self {
            LinOp::Conv { win, .. } => win.col_rows() * win.positions(),
            _ => 0,
        }
    }
    /// True for a convolution whose output map is narrower than [`ops::NARROW`] positions (and has four or
    /// more channels per group): its forward pass reads the weights transposed ([`LinOp::transposed`]).
    pub fn is_narrow(&self) -> bool {
        matches!(self, LinOp::Conv { win, out_c, groups } if win.positions() < ops::NARROW && out_c / groups >= 4)
    }

    /// The weights `w` of a narrow convolution transposed group by group (each group's `og x k` block
    /// as `k x og`), for [`LinOp::forward`]; `None` for any other op.
    pub fn transposed(&self, w: &[f32]) -> Option<Vec<f32>> {
        let LinOp::Conv { win, out_c, groups } = *self else { return None };
        if !self.is_narrow() {
            return None;
        }
        let (og, k) = (out_c / groups, win.col_rows() / groups);
        Some((0..groups).flat_map(|g| ops::transpose(&w[g * og * k..(g + 1) * og * k], og, k)).collect())
    }

    /// `out = forward(w, b, x)`. For a convolution, `ready` may hold `im2col(x)` computed before;
    /// otherwise `im2col(x)` is written to `col`. A narrow convolution reads `wt`, the weights as
    /// [`LinOp::transposed`] makes them (the same results as from `w`).
    #[allow(clippy::too_many_arguments)]
    pub fn forward(&self, w: &[f32], wt: Option<&[f32]>, b: Option<&[f32]>, x: &[f32], ready: Option<&[f32]>, col: &mut [f32], out: &mut [f32]) {
        match *self {
            LinOp::Dense { n_in, .. } => ops::dense_forward(w, n_in, x, b, out),
            LinOp::Conv { win, out_c, groups } => {
                let col: &[f32] = match ready {
                    Some(c) => c,
                    None => {
                        win.im2col(x, col);
                        col
                    }
                };
                let p = win.positions();
                // the im2col rows of group g are contiguous, as are its weights and outputs
                let (og, k) = (out_c / groups, win.col_rows() / groups);
                let wt = wt.filter(|_| self.is_narrow());
                for g in 0..groups {
                    let bg = b.map(|b| &b[g * og..(g + 1) * og]);
                    let (cg, og_out) = (&col[g * k * p..(g + 1) * k * p], &mut out[g * og * p..(g + 1) * og * p]);
                    match wt {
                        Some(wt) => ops::matmul_narrow(&wt[g * og * k..(g + 1) * og * k], og, k, cg, p, bg, og_out),
                        None => ops::matmul(&w[g * og * k..(g + 1) * og * k], og, k, cg, p, bg, og_out),
                    }
                }
            }
            LinOp::Pool { win } if win.is_2x2() => {
                // the common 2x2 window: the sum in the iterator's order (`sum` starts from -0.0, which adds nothing)
                let f = w[0];
                for (row, o) in out.chunks_exact_mut(win.out_w).enumerate() {
                    let (r0, r1) = x[win.pool_top(row)..][..2 * win.in_w].split_at(win.in_w);
                    for ((a, b), o) in r0.chunks_exact(2).zip(r1.chunks_exact(2)).zip(o) {
                        *o = f * (a[0] + a[1] + b[0] + b[1]);
                    }
                }
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
            LinOp::Conv { win, out_c, groups } => {
                let p = win.positions();
                if groups == 1 {
                    ops::matmul_t(w, out_c, win.col_rows(), g, p, col);
                } else {
                    let (og, k) = (out_c / groups, win.col_rows() / groups);
                    for gi in 0..groups {
                        ops::matmul_t(&w[gi * og * k..(gi + 1) * og * k], og, k, &g[gi * og * p..(gi + 1) * og * p], p, &mut col[gi * k * p..(gi + 1) * k * p]);
                    }
                }
                win.col2im(col, gx);
            }
            LinOp::Pool { win } if win.is_2x2() && win.in_h % 2 == 0 && win.in_w % 2 == 0 => {
                // windows that tile the map: every input gets exactly one share, `0 + v` as below
                let f = w[0];
                for (row, g) in g.chunks_exact(win.out_w).enumerate() {
                    let (d0, d1) = gx[win.pool_top(row)..][..2 * win.in_w].split_at_mut(win.in_w);
                    for ((d0, d1), &gv) in d0.chunks_exact_mut(2).zip(d1.chunks_exact_mut(2)).zip(g) {
                        let v = 0.0 + f * gv;
                        d0.fill(v);
                        d1.fill(v);
                    }
                }
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
