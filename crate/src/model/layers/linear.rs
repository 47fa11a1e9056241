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

/// How a convolution computes. All paths give the bits of the first, the general one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConvPath {
    /// A matrix product on im2col of the input.
    Im2col,
    /// im2col is the input ([`Window::im2col_is_input`]: 1x1 at stride 1, or a kernel the size of the
    /// input): the same product on the input itself.
    OnInput,
    /// Depthwise: straight from the padded image ([`ops::depthwise`]).
    Depthwise,
}

impl LinOp {
    fn conv_path(win: &Window, out_c: usize, groups: usize) -> ConvPath {
        if win.im2col_is_input() {
            ConvPath::OnInput
        } else if groups == win.in_c && out_c == groups && groups > 1 {
            ConvPath::Depthwise
        } else {
            ConvPath::Im2col
        }
    }
    /// Floats of the zero-padded input (0 without padding).
    fn padded_len(win: &Window) -> usize {
        let (ph, pw) = win.padded_dims();
        if win.padded() {
            win.in_c * ph * pw
        } else {
            0
        }
    }
    /// The length of the buffer `col` that `forward` prepares its input in and `backward` works in (0
    /// if none): im2col; for a depthwise convolution the padded input (or its gradient) and the
    /// scratch of [`ops::depthwise`] ([`ops::Window::depthwise_scratch`]). A model's ops are bounded when it is validated
    /// ([`LinOp::checked_col_len`]).
    pub fn col_len(&self) -> usize {
        self.checked_col_len().expect("a validated op's buffer length fits in usize")
    }
    /// [`LinOp::col_len`], or `None` if it overflows `usize` (model validation bounds it before any
    /// buffer exists: a small file may declare a huge padding).
    pub fn checked_col_len(&self) -> Option<usize> {
        let LinOp::Conv { win, out_c, groups } = *self else { return Some(0) };
        match Self::conv_path(&win, out_c, groups) {
            ConvPath::Im2col => win.col_rows().checked_mul(win.positions()),
            ConvPath::OnInput => Some(0),
            ConvPath::Depthwise => {
                let (ph, pw) = win.padded_dims();
                let padded = if win.padded() { win.in_c.checked_mul(ph)?.checked_mul(pw)? } else { 0 };
                padded.checked_add(win.depthwise_scratch()?)
            }
        }
    }
    /// Floats at the start of `col` that hold the prepared input after `forward` (im2col, or the
    /// padded input of a depthwise convolution), each a copy of an input value or a padding zero, so
    /// that an element-wise map with `f(0) = 0` commutes with preparing; 0 where `forward` reads `x`.
    pub fn prepared_len(&self) -> usize {
        match *self {
            LinOp::Conv { win, out_c, groups } => match Self::conv_path(&win, out_c, groups) {
                ConvPath::Im2col => win.col_rows() * win.positions(),
                ConvPath::Depthwise => Self::padded_len(&win),
                ConvPath::OnInput => 0,
            },
            _ => 0,
        }
    }
    /// How a convolution computes (tests check that every path is covered).
    #[doc(hidden)]
    pub fn conv_path_name(&self) -> Option<&'static str> {
        let LinOp::Conv { win, out_c, groups } = *self else { return None };
        Some(match Self::conv_path(&win, out_c, groups) {
            ConvPath::Im2col => "im2col",
            ConvPath::OnInput => "on input",
            ConvPath::Depthwise => "depthwise",
        })
    }
    /// True if `forward` leaves im2col of its input in `col` (training reads it).
    pub fn keeps_im2col(&self) -> bool {
        matches!(*self, LinOp::Conv { win, out_c, groups } if Self::conv_path(&win, out_c, groups) == ConvPath::Im2col)
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

    /// `out = forward(w, b, x)`. `col` holds [`LinOp::col_len`] floats. For a convolution, `ready` may
    /// hold what an earlier forward pass on `x` wrote to `col`; otherwise it is written to `col` now. A
    /// narrow convolution reads `wt`, the weights as [`LinOp::transposed`] makes them (the same results
    /// as from `w`).
    #[allow(clippy::too_many_arguments)]
    pub fn forward(&self, w: &[f32], wt: Option<&[f32]>, b: Option<&[f32]>, x: &[f32], ready: Option<&[f32]>, col: &mut [f32], out: &mut [f32]) {
        match *self {
            LinOp::Dense { n_in, .. } => ops::dense_forward(w, n_in, x, b, out),
            LinOp::Conv { win, out_c, groups } => self.conv_forward(win, out_c, groups, w, wt, b, x, ready, col, out),
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
            LinOp::Conv { win, out_c, groups } => Self::conv_backward(win, out_c, groups, w, g, col, gx),
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

impl LinOp {
    #[allow(clippy::too_many_arguments)]
    fn conv_forward(
        &self,
        win: Window,
        out_c: usize,
        groups: usize,
        w: &[f32],
        wt: Option<&[f32]>,
        b: Option<&[f32]>,
        x: &[f32],
        ready: Option<&[f32]>,
        col: &mut [f32],
        out: &mut [f32],
    ) {
        let path = Self::conv_path(&win, out_c, groups);
        let (p, xlen) = (win.positions(), Self::padded_len(&win));
        // the input as this path reads it (im2col, the padded input, or `x` itself), and what is left of `col`
        let (prepared, rest): (&[f32], &mut [f32]) = match (path, ready) {
            (ConvPath::OnInput, _) => (x, col),
            (ConvPath::Depthwise, _) if !win.padded() => (x, col),
            (ConvPath::Im2col, Some(r)) => (r, col),
            (ConvPath::Depthwise, Some(r)) => (&r[..xlen], &mut col[xlen..]),
            (ConvPath::Im2col, None) => {
                win.im2col(x, col);
                (col, &mut [])
            }
            (ConvPath::Depthwise, None) => {
                let (xp, rest) = col.split_at_mut(xlen);
                win.pad_into(x, xp);
                (xp, rest)
            }
        };
        let (og, k) = (out_c / groups, win.col_rows() / groups);
        match path {
            ConvPath::Depthwise => ops::depthwise(win, w, b, prepared, rest, out),
            ConvPath::Im2col | ConvPath::OnInput => {
                // the im2col rows of group g are contiguous, as are its weights and outputs
                let wt = wt.filter(|_| self.is_narrow());
                for g in 0..groups {
                    let bg = b.map(|b| &b[g * og..(g + 1) * og]);
                    let (cg, og_out) = (&prepared[g * k * p..(g + 1) * k * p], &mut out[g * og * p..(g + 1) * og * p]);
                    match wt {
                        Some(wt) => ops::matmul_narrow(&wt[g * og * k..(g + 1) * og * k], og, k, cg, p, bg, og_out),
                        None => ops::matmul(&w[g * og * k..(g + 1) * og * k], og, k, cg, p, bg, og_out),
                    }
                }
            }
        }
    }

    fn conv_backward(win: Window, out_c: usize, groups: usize, w: &[f32], g: &[f32], col: &mut [f32], gx: &mut [f32]) {
        let (p, xlen) = (win.positions(), Self::padded_len(&win));
        let (og, k) = (out_c / groups, win.col_rows() / groups);
        let path = Self::conv_path(&win, out_c, groups);
        match path {
            ConvPath::Depthwise if win.padded() => {
                let (gxp, tmp) = col.split_at_mut(xlen);
                ops::depthwise_t(win, w, g, tmp, gxp);
                win.crop_from(gxp, gx);
            }
            ConvPath::Depthwise => ops::depthwise_t(win, w, g, col, gx),
            ConvPath::Im2col | ConvPath::OnInput => {
                // where im2col is the input, the product goes to `gx` directly
                let dst: &mut [f32] = if path == ConvPath::OnInput { gx } else { col };
                for gi in 0..groups {
                    ops::matmul_t(&w[gi * og * k..(gi + 1) * og * k], og, k, &g[gi * og * p..(gi + 1) * og * p], p, &mut dst[gi * k * p..(gi + 1) * k * p]);
                }
                if path == ConvPath::Im2col {
                    win.col2im(col, gx);
                }
            }
        }
    }
}
