//! The numeric kernels every layer and every method shares: dot, axpy, im2col / col2im and the two
//! matrix products of a convolution (forward and its transpose). Written as plain loops over slices
//! that LLVM vectorises (native SSE/AVX, wasm `simd128`); no allocation anywhere in this module.

/// Dot product with eight independent accumulators, so the reduction vectorises without fast-math.
/// (The lane layout is explicit, so every vector width gives the same bits.)
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `y += alpha * x`.
#[inline(always)]
pub fn axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
    debug_assert_eq!(y.len(), x.len());
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Geometry of a 2-d sliding window (convolution or pooling) over a CHW tensor.
/// Zero padding of `pad` pixels on every side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub in_c: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub pad: usize,
    pub out_h: usize,
    pub out_w: usize,
}

impl Window {
    /// Output size of a window; `None` if the kernel does not fit or a size is zero.
    pub fn new(in_c: usize, in_h: usize, in_w: usize, kernel: [usize; 2], stride: [usize; 2], pad: usize) -> Option<Self> {
        let [kh, kw] = kernel;
        let [sh, sw] = stride;
        if kh == 0 || kw == 0 || sh == 0 || sw == 0 || in_c == 0 {
            return None;
        }
        let ph = in_h.checked_add(2 * pad)?;
        let pw = in_w.checked_add(2 * pad)?;
        if ph < kh || pw < kw {
            return None;
        }
        Some(Window { in_c, in_h, in_w, kh, kw, sh, sw, pad, out_h: (ph - kh) / sh + 1, out_w: (pw - kw) / sw + 1 })
    }
    /// Rows of the im2col matrix (`in_c * kh * kw`).
    pub fn col_rows(&self) -> usize {
        self.in_c * self.kh * self.kw
    }
    /// Output positions per channel (`out_h * out_w`).
    pub fn positions(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Calls `f(input_index, position)` for every in-bounds input of every window of channel `c`,
    /// `k` being the kernel offset `ky * kw + kx`. Positions that fall on the zero padding are skipped.
    #[inline]
    fn for_each_tap(&self, c: usize, ky: usize, kx: usize, mut f: impl FnMut(usize, usize)) {
        let base = c * self.in_h * self.in_w;
        for oy in 0..self.out_h {
            let iy = (oy * self.sh + ky) as isize - self.pad as isize;
            if iy < 0 || iy >= self.in_h as isize {
                continue;
            }
            let row = base + iy as usize * self.in_w;
            for ox in 0..self.out_w {
                let ix = (ox * self.sw + kx) as isize - self.pad as isize;
                if ix < 0 || ix >= self.in_w as isize {
                    continue;
                }
                f(row + ix as usize, oy * self.out_w + ox);
            }
        }
    }

    /// `col[(c, ky, kx), p] = x[c, oy*sh + ky - pad, ox*sw + kx - pad]` (0 on padding).
    pub fn im2col(&self, x: &[f32], col: &mut [f32]) {
        let p = self.positions();
        col[..self.col_rows() * p].fill(0.0);
        for c in 0..self.in_c {
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    let r = ((c * self.kh + ky) * self.kw + kx) * p;
                    let dst = &mut col[r..r + p];
                    self.for_each_tap(c, ky, kx, |i, pos| dst[pos] = x[i]);
                }
            }
        }
    }

    /// The transpose of [`Window::im2col`]: `x[i] += col[..]` over every place input `i` was copied to.
    /// `x` is overwritten (set to zero first).
    pub fn col2im(&self, col: &[f32], x: &mut [f32]) {
        let p = self.positions();
        x[..self.in_c * self.in_h * self.in_w].fill(0.0);
        for c in 0..self.in_c {
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    let r = ((c * self.kh + ky) * self.kw + kx) * p;
                    let src = &col[r..r + p];
                    self.for_each_tap(c, ky, kx, |i, pos| x[i] += src[pos]);
                }
            }
        }
    }

    /// Calls `f(output_index, inputs)` for every pooling window (no padding); `inputs` iterates over
    /// the flat indices of the window's inputs and can be cloned to walk them twice.
    pub fn for_each_window(&self, mut f: impl FnMut(usize, WindowInputs)) {
        for c in 0..self.in_c {
            let base = c * self.in_h * self.in_w;
            for oy in 0..self.out_h {
                for ox in 0..self.out_w {
                    let o = (c * self.out_h + oy) * self.out_w + ox;
                    let start = base + oy * self.sh * self.in_w + ox * self.sw;
                    f(o, WindowInputs { start, in_w: self.in_w, kw: self.kw, k: 0, n: self.kh * self.kw });
                }
            }
        }
    }
}

/// The flat input indices of one pooling window, row by row.
#[derive(Clone, Debug)]
pub struct WindowInputs {
    start: usize,
    in_w: usize,
    kw: usize,
    k: usize,
    n: usize,
}

impl Iterator for WindowInputs {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.k == self.n {
            return None;
        }
        let (ky, kx) = (self.k / self.kw, self.k % self.kw);
        self.k += 1;
        Some(self.start + ky * self.in_w + kx)
    }
}

/// `out[m, p] = sum_k w[m, k] * col[k, p]` (+ `bias[m]`): a convolution after im2col.
/// Zero weights are skipped, which halves the work for the sign-split weights of z+ and alpha-beta.
#[inline(always)]
fn matmul_impl(w: &[f32], m: usize, k: usize, col: &[f32], p: usize, bias: Option<&[f32]>, out: &mut [f32]) {
    for i in 0..m {
        let o = &mut out[i * p..(i + 1) * p];
        o.fill(bias.map_or(0.0, |b| b[i]));
        let wr = &w[i * k..(i + 1) * k];
        for (kk, &wv) in wr.iter().enumerate() {
            if wv != 0.0 {
                axpy(o, wv, &col[kk * p..(kk + 1) * p]);
            }
        }
    }
}

/// `gcol[k, p] = sum_m w[m, k] * g[m, p]`: the transpose of [`matmul`] (without bias).
#[inline(always)]
fn matmul_t_impl(w: &[f32], m: usize, k: usize, g: &[f32], p: usize, gcol: &mut [f32]) {
    gcol[..k * p].fill(0.0);
    for i in 0..m {
        let gr = &g[i * p..(i + 1) * p];
        if gr.iter().all(|&v| v == 0.0) {
            continue;
        }
        let wr = &w[i * k..(i + 1) * k];
        for (kk, &wv) in wr.iter().enumerate() {
            if wv != 0.0 {
                axpy(&mut gcol[kk * p..(kk + 1) * p], wv, gr);
            }
        }
    }
}

/// `out = w * x + b` for a dense layer, `w` row-major `[out, in]`.
#[inline(always)]
fn dense_forward_impl(w: &[f32], n_in: usize, x: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    for (o, (row, dst)) in w.chunks_exact(n_in).zip(out.iter_mut()).enumerate() {
        *dst = dot(row, x) + bias.map_or(0.0, |b| b[o]);
    }
}

/// `gx = w^T g` for a dense layer (rows with zero upstream gradient are skipped).
#[inline(always)]
fn dense_backward_impl(w: &[f32], n_in: usize, g: &[f32], gx: &mut [f32]) {
    gx[..n_in].fill(0.0);
    for (row, &gv) in w.chunks_exact(n_in).zip(g) {
        if gv != 0.0 {
            axpy(&mut gx[..n_in], gv, row);
        }
    }
}

/// Generates a public kernel that runs an AVX2 build of `$impl` where the CPU has it (detected once
/// by std), and the portable build elsewhere (wasm: `simd128` when compiled with it). Both builds
/// compute identical results: the kernels never reassociate sums.
macro_rules! dispatch {
    ($(#[$doc:meta])* $name:ident, $avx:ident, $impl:ident, ($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    return unsafe { $avx($($arg),*) };
                }
            }
            $impl($($arg),*)
        }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn $avx($($arg: $ty),*) {
            $impl($($arg),*)
        }
    };
}

dispatch!(
    /// `out[m, p] = sum_k w[m, k] * col[k, p]` (+ `bias[m]`): a convolution after im2col.
    /// Zero weights are skipped, which halves the work for the sign-split weights of z+ and alpha-beta.
    matmul, matmul_avx2, matmul_impl, (w: &[f32], m: usize, k: usize, col: &[f32], p: usize, bias: Option<&[f32]>, out: &mut [f32]));
dispatch!(
    /// `gcol[k, p] = sum_m w[m, k] * g[m, p]`: the transpose of [`matmul`] (without bias).
    matmul_t, matmul_t_avx2, matmul_t_impl, (w: &[f32], m: usize, k: usize, g: &[f32], p: usize, gcol: &mut [f32]));
dispatch!(
    /// `out = w * x + b` for a dense layer, `w` row-major `[out, in]`.
    dense_forward, dense_forward_avx2, dense_forward_impl, (w: &[f32], n_in: usize, x: &[f32], bias: Option<&[f32]>, out: &mut [f32]));
dispatch!(
    /// `gx = w^T g` for a dense layer (rows with zero upstream gradient are skipped).
    dense_backward, dense_backward_avx2, dense_backward_impl, (w: &[f32], n_in: usize, g: &[f32], gx: &mut [f32]));
dispatch!(
    /// `dw[m, k] += sum_p g[m, p] * col[k, p]`: the weight gradient of a convolution (training).
    weight_grad, weight_grad_avx2, weight_grad_impl, (g: &[f32], m: usize, col: &[f32], k: usize, p: usize, dw: &mut [f32]));

#[inline(always)]
fn weight_grad_impl(g: &[f32], m: usize, col: &[f32], k: usize, p: usize, dw: &mut [f32]) {
    for i in 0..m {
        let gr = &g[i * p..(i + 1) * p];
        if gr.iter().all(|&v| v == 0.0) {
            continue;
        }
        for kk in 0..k {
            dw[i * k + kk] += dot(gr, &col[kk * p..(kk + 1) * p]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_and_axpy_match_naive_sums() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..19).map(|i| (i * i) as f32 * 0.1).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-4);
        let mut y = b.clone();
        axpy(&mut y, 2.0, &a);
        for i in 0..19 {
            assert_eq!(y[i], b[i] + 2.0 * a[i]);
        }
    }

    #[test]
    fn window_sizes() {
        let w = Window::new(1, 28, 28, [5, 5], [1, 1], 0).unwrap();
        assert_eq!((w.out_h, w.out_w), (24, 24));
        let w = Window::new(1, 28, 28, [5, 5], [2, 2], 2).unwrap();
        assert_eq!((w.out_h, w.out_w), (14, 14));
        assert!(Window::new(1, 3, 3, [5, 5], [1, 1], 0).is_none());
        assert!(Window::new(1, 3, 3, [1, 1], [0, 1], 0).is_none());
    }

    #[test]
    fn col2im_is_the_transpose_of_im2col() {
        // <im2col(x), c> == <x, col2im(c)> for arbitrary x and c.
        let w = Window::new(2, 5, 4, [3, 2], [2, 1], 1).unwrap();
        let n = 2 * 5 * 4;
        let x: Vec<f32> = (0..n).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        let m = w.col_rows() * w.positions();
        let c: Vec<f32> = (0..m).map(|i| ((i * 5) % 13) as f32 - 6.0).collect();
        let mut col = vec![0.0; m];
        w.im2col(&x, &mut col);
        let mut back = vec![0.0; n];
        w.col2im(&c, &mut back);
        assert_eq!(dot(&col, &c), dot(&x, &back));
    }
}
