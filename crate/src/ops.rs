//! The numeric kernels every layer and every method shares: dot, sum, axpy, im2col / col2im, the two
//! matrix products of a convolution (forward and its transpose) and 2x2 max-pool routing. Plain loops
//! over slices where LLVM vectorises them well (natively with AVX2 where the CPU has it), 4-lane
//! intrinsics where it does not (`v4`: SSE natively, `simd128` in wasm). Every kernel adds in one
//! documented order without fused multiply-add, so every build gives the same bits
//! (`testing::kernel_mismatch`, with the `testing` feature). No allocation anywhere in this module.

use crate::rules::{stabilize, Mask};

/// Dot product with eight independent accumulators, so the reduction vectorises without fast-math.
/// (The lane layout is explicit, so every vector width gives the same bits.)
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    let [acc] = lanes([a], b, n / 8);
    let mut s = reduce8(&acc);
    for (x, y) in a[n / 8 * 8..n].iter().zip(&b[n / 8 * 8..n]) {
        s += x * y;
    }
    s
}

/// Sum with eight independent accumulators (the lane layout of [`dot`]): vectorised, unlike a plain
/// `iter().sum()`, whose chain of dependent additions cannot be reordered without fast-math.
#[inline]
pub fn sum(v: &[f32]) -> f32 {
    let full = v.len() / 8 * 8;
    v[full..].iter().fold(reduce8(&lane_sums(&v[..full])), |s, x| s + x)
}

/// `acc[i] = sum_c v[8c + i]` (`v` a whole number of chunks of eight).
#[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
#[inline(always)]
fn lane_sums(v: &[f32]) -> [f32; 8] {
    let mut acc = [0.0f32; 8];
    for c in v.chunks_exact(8) {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    acc
}

/// [`lane_sums`] with two four-lane vectors (LLVM's own loop shuffled every chunk).
#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn lane_sums(v: &[f32]) -> [f32; 8] {
    let (mut a0, mut a1) = (v4::splat(0.0), v4::splat(0.0));
    let mut o = [0.0f32; 8];
    for c in v.chunks_exact(8) {
        // SAFETY: `c` holds eight floats.
        unsafe {
            a0 = v4::add(a0, v4::load(c.as_ptr()));
            a1 = v4::add(a1, v4::load(c.as_ptr().add(4)));
        }
    }
    // SAFETY: `o` holds eight floats.
    unsafe {
        v4::store(o.as_mut_ptr(), a0);
        v4::store(o.as_mut_ptr().add(4), a1);
    }
    o
}

/// The fixed order in which the eight lanes of [`lanes`] are added up.
#[inline(always)]
fn reduce8(acc: &[f32; 8]) -> f32 {
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// For each of `R` rows: the eight lane sums `acc[i] = sum_c row[8c + i] * x[8c + i]` over the first
/// `chunks` chunks of eight (the rows share the loads of `x`).
#[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
#[inline(always)]
fn lanes<const R: usize>(rows: [&[f32]; R], x: &[f32], chunks: usize) -> [[f32; 8]; R] {
    let mut acc = [[0.0f32; 8]; R];
    for ch in 0..chunks {
        let xs: &[f32; 8] = x[ch * 8..ch * 8 + 8].try_into().expect("chunk");
        for (a, row) in acc.iter_mut().zip(&rows) {
            let ws: &[f32; 8] = row[ch * 8..ch * 8 + 8].try_into().expect("chunk");
            for i in 0..8 {
                a[i] += ws[i] * xs[i];
            }
        }
    }
    acc
}

/// [`lanes`] with explicit four-lane vectors, two per row. (Left to itself, LLVM vectorised the plain
/// loop across the rows instead, with a shuffle per load: 3x slower natively, 4x in wasm.)
#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn lanes<const R: usize>(rows: [&[f32]; R], x: &[f32], chunks: usize) -> [[f32; 8]; R] {
    assert!(chunks * 8 <= x.len() && rows.iter().all(|r| chunks * 8 <= r.len()));
    let mut acc = [[v4::splat(0.0); 2]; R];
    for ch in 0..chunks {
        // SAFETY: ch * 8 + 8 <= chunks * 8 <= the length of `x` and of every row (assert above).
        unsafe {
            let xp = x.as_ptr().add(ch * 8);
            let (x0, x1) = (v4::load(xp), v4::load(xp.add(4)));
            for (a, row) in acc.iter_mut().zip(&rows) {
                let wp = row.as_ptr().add(ch * 8);
                a[0] = v4::add(a[0], v4::mul(v4::load(wp), x0));
                a[1] = v4::add(a[1], v4::mul(v4::load(wp.add(4)), x1));
            }
        }
    }
    acc.map(|a| {
        let mut o = [0.0f32; 8];
        // SAFETY: `o` holds eight floats.
        unsafe {
            v4::store(o.as_mut_ptr(), a[0]);
            v4::store(o.as_mut_ptr().add(4), a[1]);
        }
        o
    })
}

/// Four-lane `f32` vectors for the kernels written with intrinsics: SSE on x86-64 (part of every
/// x86-64 CPU; inside the AVX2 builds of the kernels it is VEX-encoded), `simd128` in wasm. Plain
/// `mul` then `add` (no fused multiply-add), so these kernels give the bits of the plain loops.
#[cfg(target_arch = "x86_64")]
mod v4 {
    use std::arch::x86_64::{__m128, _mm_add_ps, _mm_loadu_ps, _mm_mul_ps, _mm_set1_ps, _mm_storeu_ps};
    // SAFETY (every block below): SSE is part of the x86-64 baseline, every x86-64 CPU has it.

    #[inline(always)]
    pub fn splat(v: f32) -> __m128 {
        unsafe { _mm_set1_ps(v) }
    }
    #[inline(always)]
    pub fn add(a: __m128, b: __m128) -> __m128 {
        unsafe { _mm_add_ps(a, b) }
    }
    #[inline(always)]
    pub fn mul(a: __m128, b: __m128) -> __m128 {
        unsafe { _mm_mul_ps(a, b) }
    }
    /// # Safety
    /// `p` points to four readable floats (any alignment).
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> __m128 {
        _mm_loadu_ps(p)
    }
    /// # Safety
    /// `p` points to four writable floats (any alignment).
    #[inline(always)]
    pub unsafe fn store(p: *mut f32, v: __m128) {
        _mm_storeu_ps(p, v)
    }
}

/// See the x86-64 `v4` above: the same five operations with wasm `simd128`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod v4 {
    pub use core::arch::wasm32::{f32x4_add as add, f32x4_mul as mul};
    use core::arch::wasm32::{f32x4_splat, v128, v128_load, v128_store};

    /// (A plain function, unlike the intrinsic, so that it can be passed to `map`.)
    #[inline(always)]
    pub fn splat(v: f32) -> v128 {
        f32x4_splat(v)
    }

    /// # Safety
    /// `p` points to four readable floats (any alignment).
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> v128 {
        v128_load(p as *const v128)
    }
    /// # Safety
    /// `p` points to four writable floats (any alignment).
    #[inline(always)]
    pub unsafe fn store(p: *mut f32, v: v128) {
        v128_store(p as *mut v128, v)
    }
}

/// `max(a, b)` as one compare and select: `b` if `a < b`, else `a` (wasm's `pmax`). For numbers that
/// are not NaN it equals `f32::max`, which must also handle NaN and costs a sequence of instructions
/// in wasm (it has no such instruction); this one is `maxss` natively and `f32x4.pmax` when vectorised.
#[inline(always)]
pub fn pmax(a: f32, b: f32) -> f32 {
    if a < b {
        b
    } else {
        a
    }
}

/// `min(a, b)` as one compare and select: `b` if `b < a`, else `a` (wasm's `pmin`; see [`pmax`]).
#[inline(always)]
pub fn pmin(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

/// One row of 2x2 max-pool windows (stride 2): `g[k]` is routed to the inputs among `r0[2k..2k+2]`
/// (top) and `r1[2k..2k+2]` (bottom) that equal the window's maximum, split equally among ties, into
/// `d0` and `d1` (the other inputs get 0). Branch-free: `share = g / ties`, each input `hit * share`.
#[inline]
pub fn route2x2(r0: &[f32], r1: &[f32], g: &[f32], d0: &mut [f32], d1: &mut [f32]) {
    let n = g.len();
    assert!(2 * n <= r0.len().min(r1.len()).min(d0.len()).min(d1.len()));
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let done = route2x2_simd(r0, r1, g, d0, d1);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let done = 0;
    let windows = r0[2 * done..2 * n].chunks_exact(2).zip(r1[2 * done..2 * n].chunks_exact(2));
    let outputs = d0[2 * done..2 * n].chunks_exact_mut(2).zip(d1[2 * done..2 * n].chunks_exact_mut(2));
    for (((a, b), (da, db)), &gv) in windows.zip(outputs).zip(&g[done..]) {
        let m = pmax(pmax(a[0], a[1]), pmax(b[0], b[1]));
        let hit = [a[0] == m, a[1] == m, b[0] == m, b[1] == m].map(|h| h as u32 as f32);
        let share = gv / ((hit[0] + hit[1]) + (hit[2] + hit[3]));
        (da[0], da[1], db[0], db[1]) = (hit[0] * share, hit[1] * share, hit[2] * share, hit[3] * share);
    }
}

/// [`route2x2`] four windows at a time with `simd128` (LLVM leaves the plain loop scalar in wasm, 3x
/// slower): the same operations in the same order, so the same bits. Returns the windows done.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn route2x2_simd(r0: &[f32], r1: &[f32], g: &[f32], d0: &mut [f32], d1: &mut [f32]) -> usize {
    use core::arch::wasm32::{f32x4_add, f32x4_div, f32x4_eq, f32x4_mul, f32x4_pmax, f32x4_splat, i32x4_shuffle, v128, v128_and, v128_load, v128_store};
    let full = g.len() / 4 * 4;
    let ones = f32x4_splat(1.0);
    for k in (0..full).step_by(4) {
        // SAFETY: the caller checked 2 * g.len() <= the length of r0, r1, d0 and d1, and 2k + 8 <= 2 * full.
        let (u0, u1, v0, v1, gv) = unsafe {
            let ld = |p: *const f32| v128_load(p as *const v128);
            (ld(r0.as_ptr().add(2 * k)), ld(r0.as_ptr().add(2 * k + 4)), ld(r1.as_ptr().add(2 * k)), ld(r1.as_ptr().add(2 * k + 4)), ld(g.as_ptr().add(k)))
        };
        // the four inputs of four windows: even and odd columns of the two rows
        let (a0, a1) = (i32x4_shuffle::<0, 2, 4, 6>(u0, u1), i32x4_shuffle::<1, 3, 5, 7>(u0, u1));
        let (b0, b1) = (i32x4_shuffle::<0, 2, 4, 6>(v0, v1), i32x4_shuffle::<1, 3, 5, 7>(v0, v1));
        let m = f32x4_pmax(f32x4_pmax(a0, a1), f32x4_pmax(b0, b1));
        let hit = [a0, a1, b0, b1].map(|v| v128_and(f32x4_eq(v, m), ones));
        let share = f32x4_div(gv, f32x4_add(f32x4_add(hit[0], hit[1]), f32x4_add(hit[2], hit[3])));
        let o = hit.map(|h| f32x4_mul(h, share));
        // SAFETY: as above.
        unsafe {
            let st = |p: *mut f32, v: v128| v128_store(p as *mut v128, v);
            st(d0.as_mut_ptr().add(2 * k), i32x4_shuffle::<0, 4, 1, 5>(o[0], o[1]));
            st(d0.as_mut_ptr().add(2 * k + 4), i32x4_shuffle::<2, 6, 3, 7>(o[0], o[1]));
            st(d1.as_mut_ptr().add(2 * k), i32x4_shuffle::<0, 4, 1, 5>(o[2], o[3]));
            st(d1.as_mut_ptr().add(2 * k + 4), i32x4_shuffle::<2, 6, 3, 7>(o[2], o[3]));
        }
    }
    full
}

/// `y += alpha * x`.
#[inline(always)]
pub fn axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
    debug_assert_eq!(y.len(), x.len());
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// `dst[q] = src[q * step]` for every `q`, with stride 2 (the common strided convolution) as a
/// constant, which LLVM vectorises.
#[inline(always)]
fn gather(dst: &mut [f32], src: &[f32], step: usize) {
    if step == 1 {
        dst.copy_from_slice(&src[..dst.len()]);
    } else if step == 2 {
        let src = &src[..(2 * dst.len()).saturating_sub(1)];
        for (q, d) in dst.iter_mut().enumerate() {
            *d = src[2 * q];
        }
    } else {
        for (q, d) in dst.iter_mut().enumerate() {
            *d = src[q * step];
        }
    }
}

/// `dst[q * step] += src[q]` for every `q` (the transpose of [`gather`]).
#[inline(always)]
fn scatter_add(dst: &mut [f32], src: &[f32], step: usize) {
    if step == 1 {
        // in fours (one vector each; LLVM's own loop of eights left up to seven of a short run scalar)
        let dst = &mut dst[..src.len()];
        let mut d4 = dst.chunks_exact_mut(4);
        let mut s4 = src.chunks_exact(4);
        for (d, s) in (&mut d4).zip(&mut s4) {
            for i in 0..4 {
                d[i] += s[i];
            }
        }
        for (d, s) in d4.into_remainder().iter_mut().zip(s4.remainder()) {
            *d += s;
        }
    } else if step == 2 {
        // in pairs, adding -0.0 to the skipped one (`v + -0.0` is `v` for every `v`, -0.0 included), so
        // that LLVM vectorises the loop
        let last = src.len().saturating_sub(1);
        for (d, s) in dst[..2 * last].chunks_exact_mut(2).zip(&src[..last]) {
            d[0] += s;
            d[1] += -0.0;
        }
        if let Some(s) = src.last() {
            dst[2 * last] += s;
        }
    } else {
        for (q, s) in src.iter().enumerate() {
            dst[q * step] += s;
        }
    }
}

/// Along one axis: the outputs `o < n_out` whose input `o * stride + off - pad` lies in `0..n_in`.
#[inline]
fn inside(pad: usize, off: usize, stride: usize, n_in: usize, n_out: usize) -> (usize, usize) {
    let lo = (pad.saturating_sub(off)).div_ceil(stride);
    let hi = if n_in + pad > off { ((n_in + pad - off - 1) / stride + 1).min(n_out) } else { 0 };
    (lo.min(hi), hi)
}

/// Geometry of a 2-d sliding window (convolution or pooling) over a CHW tensor: kernel, stride,
/// dilation, and zero padding per side (`pad = [top, left, bottom, right]`; TensorFlow's "SAME" pads
/// asymmetrically at stride 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub in_c: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    /// `[top, left, bottom, right]`
    pub pad: [usize; 4],
    pub dh: usize,
    pub dw: usize,
    pub out_h: usize,
    pub out_w: usize,
}

/// Largest padding, stride, dilation or kernel side a window accepts (bounds every size before use).
pub const MAX_WINDOW: usize = 1 << 12;

impl Window {
    /// A window with the same zero padding `pad` on every side and no dilation; `None` if the kernel
    /// does not fit or a size is zero.
    pub fn new(in_c: usize, in_h: usize, in_w: usize, kernel: [usize; 2], stride: [usize; 2], pad: usize) -> Option<Self> {
        Window::with(in_c, in_h, in_w, kernel, stride, [pad; 4], [1, 1])
    }

    /// The general window: padding per side `[top, left, bottom, right]` and dilation `[dh, dw]`.
    pub fn with(in_c: usize, in_h: usize, in_w: usize, kernel: [usize; 2], stride: [usize; 2], pad: [usize; 4], dilation: [usize; 2]) -> Option<Self> {
        let [kh, kw] = kernel;
        let [sh, sw] = stride;
        let [dh, dw] = dilation;
        if [kh, kw, sh, sw, dh, dw].iter().any(|&v| v == 0 || v > MAX_WINDOW) || pad.iter().any(|&p| p > MAX_WINDOW) || in_c == 0 {
            return None;
        }
        let ph = in_h.checked_add(pad[0] + pad[2])?;
        let pw = in_w.checked_add(pad[1] + pad[3])?;
        let (eh, ew) = (dh * (kh - 1) + 1, dw * (kw - 1) + 1);
        if ph < eh || pw < ew {
            return None;
        }
        Some(Window { in_c, in_h, in_w, kh, kw, sh, sw, pad, dh, dw, out_h: (ph - eh) / sh + 1, out_w: (pw - ew) / sw + 1 })
    }
    /// Rows of the im2col matrix (`in_c * kh * kw`).
    pub fn col_rows(&self) -> usize {
        self.in_c * self.kh * self.kw
    }
    /// Output positions per channel (`out_h * out_w`).
    pub fn positions(&self) -> usize {
        self.out_h * self.out_w
    }
    /// A 2x2 window with stride 2, no padding, no dilation (the common pooling, with its own loops).
    pub fn is_2x2(&self) -> bool {
        (self.kh, self.kw, self.sh, self.sw, self.pad, self.dh, self.dw) == (2, 2, 2, 2, [0; 4], 1, 1)
    }
    /// Where the two input rows under output row `row` (counted over all channels) of a 2x2 pool start.
    pub fn pool_top(&self, row: usize) -> usize {
        (row / self.out_h * self.in_h + 2 * (row % self.out_h)) * self.in_w
    }
    /// True if some padding is added.
    pub fn padded(&self) -> bool {
        self.pad.iter().any(|&p| p > 0)
    }

    /// True if im2col is the input itself: a 1x1 kernel at stride 1, or a kernel the size of the
    /// input with one output (a dense layer written as a convolution), without padding.
    pub fn im2col_is_input(&self) -> bool {
        let whole = (self.out_h, self.out_w, self.kh, self.kw, self.dh, self.dw) == (1, 1, self.in_h, self.in_w, 1, 1);
        !self.padded() && ((self.kh, self.kw, self.sh, self.sw) == (1, 1, 1, 1) || whole)
    }
    /// Rows and columns of one channel of the zero-padded input.
    pub fn padded_dims(&self) -> (usize, usize) {
        (self.in_h + self.pad[0] + self.pad[2], self.in_w + self.pad[1] + self.pad[3])
    }
    /// Rows and columns of each of the `sh * sw` phase planes of [`depthwise`]: the padded rows `y`
    /// with one `y % sh` and columns `x` with one `x % sw` (at stride 1 the padded plane itself).
    pub fn phase_dims(&self) -> (usize, usize) {
        let (ph, pw) = self.padded_dims();
        (ph.div_ceil(self.sh), pw.div_ceil(self.sw))
    }
    /// Floats of scratch that [`depthwise`] and [`depthwise_t`] need for the channels one thread
    /// computes (`None` if it overflows): the phase planes (at a stride above 1) and a channel's
    /// output gradient on the phase grid with the margins the taps reach into (which is at least
    /// the forward's wide row).
    pub fn depthwise_scratch(&self) -> Option<usize> {
        let (qh, qw) = self.phase_dims();
        let planes = if (self.sh, self.sw) == (1, 1) { 0 } else { (self.sh * self.sw).checked_mul(qh)?.checked_mul(qw)? };
        let grid = qh.checked_add((self.kh - 1) * self.dh / self.sh + 1)?.checked_mul(qw)?;
        planes.checked_add(grid)
    }
    /// One padded channel `x` as its phase planes (`sh * sw` planes of [`Window::phase_dims`], in
    /// order of `(y % sh, x % sw)`; zeros past the edge): every tap of a strided window then reads
    /// consecutive floats.
    fn split_phases(&self, x: &[f32], planes: &mut [f32]) {
        let ((ph, pw), (qh, qw)) = (self.padded_dims(), self.phase_dims());
        if self.sw == 2 {
            // only the rows past the edge of each plane (the odd plane's last column: below)
            for fy in 0..self.sh {
                let rows = (ph + self.sh - 1 - fy) / self.sh;
                for f in 0..2 {
                    let at = (fy * 2 + f) * qh * qw;
                    planes[at + rows * qw..at + qh * qw].fill(0.0);
                }
            }
        } else {
            planes.fill(0.0);
        }
        for (y, row) in x[..ph * pw].chunks_exact(pw).enumerate() {
            if self.sw == 2 {
                // both column phases in one pass over the row
                let at = ((y % self.sh) * 2 * qh + y / self.sh) * qw;
                let (even, odd) = planes[at..].split_at_mut(qh * qw);
                let (even, odd) = (&mut even[..qw], &mut odd[..qw]);
                for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(row.chunks_exact(2)) {
                    (*e, *o) = (pair[0], pair[1]);
                }
                if pw % 2 == 1 {
                    (even[qw - 1], odd[qw - 1]) = (row[pw - 1], 0.0);
                }
                continue;
            }
            for f in 0..self.sw {
                let at = (((y % self.sh) * self.sw + f) * qh + y / self.sh) * qw;
                for (d, &v) in planes[at..at + qw].iter_mut().zip(row[f..].iter().step_by(self.sw)) {
                    *d = v;
                }
            }
        }
    }
    /// The inverse of [`Window::split_phases`]: the padded channel `x` from its phase planes.
    fn merge_phases(&self, planes: &[f32], x: &mut [f32]) {
        let ((ph, pw), (qh, qw)) = (self.padded_dims(), self.phase_dims());
        for (y, row) in x[..ph * pw].chunks_exact_mut(pw).enumerate() {
            if self.sw == 2 {
                let at = ((y % self.sh) * 2 * qh + y / self.sh) * qw;
                let (even, odd) = (&planes[at..at + qw], &planes[at + qh * qw..at + qh * qw + qw]);
                for ((&e, &o), pair) in even.iter().zip(odd).zip(row.chunks_exact_mut(2)) {
                    (pair[0], pair[1]) = (e, o);
                }
                if pw % 2 == 1 {
                    row[pw - 1] = even[qw - 1];
                }
                continue;
            }
            for f in 0..self.sw {
                let at = (((y % self.sh) * self.sw + f) * qh + y / self.sh) * qw;
                for (d, &v) in row[f..].iter_mut().step_by(self.sw).zip(&planes[at..at + qw]) {
                    *d = v;
                }
            }
        }
    }
    /// `xp` = `x` with the zero padding around every channel ([`Window::padded_dims`]).
    pub fn pad_into(&self, x: &[f32], xp: &mut [f32]) {
        let (ph, pw) = self.padded_dims();
        let (top, left, w) = (self.pad[0], self.pad[1], self.in_w);
        // each channel: the rows above, then every row as its left margin, the input row and its
        // right margin, then the rows below (every float written once)
        let xp = &mut xp[..self.in_c * ph * pw];
        for (plane, src) in xp.chunks_exact_mut(ph * pw).zip(x[..self.in_c * self.in_h * w].chunks_exact(self.in_h * w)) {
            let (above, rest) = plane.split_at_mut(top * pw);
            above.fill(0.0);
            let (inside, below) = rest.split_at_mut(self.in_h * pw);
            for (row, s) in inside.chunks_exact_mut(pw).zip(src.chunks_exact(w)) {
                row[..left].fill(0.0);
                row[left..left + w].copy_from_slice(s);
                row[left + w..].fill(0.0);
            }
            below.fill(0.0);
        }
    }
    /// `x` = the inside of the padded `xp` (the transpose of [`Window::pad_into`] drops the padding).
    pub fn crop_from(&self, xp: &[f32], x: &mut [f32]) {
        let (ph, pw) = self.padded_dims();
        for (c, dst) in x[..self.in_c * self.in_h * self.in_w].chunks_exact_mut(self.in_w).enumerate() {
            let (ch, y) = (c / self.in_h, c % self.in_h);
            let src = (ch * ph + y + self.pad[0]) * pw + self.pad[1];
            dst.copy_from_slice(&xp[src..src + self.in_w]);
        }
    }

    /// The output columns `ox` whose input column `ox*sw + kx*dw - left` lies inside the image.
    #[inline]
    fn valid_cols(&self, kx: usize) -> (usize, usize) {
        inside(self.pad[1], kx * self.dw, self.sw, self.in_w, self.out_w)
    }

    /// The output rows `oy` whose input row `oy*sh + ky*dh - top` lies inside the image.
    #[inline]
    fn valid_rows(&self, ky: usize) -> (usize, usize) {
        inside(self.pad[0], ky * self.dh, self.sh, self.in_h, self.out_h)
    }

    /// Calls `f(at, from, n)` for every run of im2col that comes from the image, in the order of
    /// im2col's rows `(c, ky, kx)` and then of the output rows: `col[at..at + n]` are the inputs
    /// `x[from + q * sw]` (the rest of im2col is padding). The bounds of each row are worked out once
    /// per call (two divisions per row cost more than copying a short row).
    #[inline(always)]
    fn for_each_run(&self, mut f: impl FnMut(usize, usize, usize)) {
        let p = self.positions();
        // the bounds for the first 16 kernel rows and columns (any others are worked out when needed)
        type Bounds = [(usize, usize); 16];
        let cols: Bounds = std::array::from_fn(|kx| if kx < self.kw { self.valid_cols(kx) } else { (0, 0) });
        let rows: Bounds = std::array::from_fn(|ky| if ky < self.kh { self.valid_rows(ky) } else { (0, 0) });
        let plane = self.in_h * self.in_w;
        for c in 0..self.in_c {
            for ky in 0..self.kh {
                let (oy0, oy1) = rows.get(ky).copied().unwrap_or_else(|| self.valid_rows(ky));
                for kx in 0..self.kw {
                    let (lo, hi) = cols.get(kx).copied().unwrap_or_else(|| self.valid_cols(kx));
                    if lo >= hi || oy0 >= oy1 {
                        continue;
                    }
                    let r = ((c * self.kh + ky) * self.kw + kx) * p;
                    // the input under output (oy0, lo); each next output row is sh input rows on
                    let first = c * plane + (oy0 * self.sh + ky * self.dh - self.pad[0]) * self.in_w + lo * self.sw + kx * self.dw - self.pad[1];
                    for k in 0..oy1 - oy0 {
                        f(r + (oy0 + k) * self.out_w + lo, first + k * self.sh * self.in_w, hi - lo);
                    }
                }
            }
        }
    }

    /// `col[(c, ky, kx), p] = x[c, oy*sh + ky*dh - top, ox*sw + kx*dw - left]` (0 on padding).
    pub fn im2col(&self, x: &[f32], col: &mut [f32]) {
        if self.padded() {
            // without padding, the runs write every element
            col[..self.col_rows() * self.positions()].fill(0.0);
        }
        self.for_each_run(|at, from, n| gather(&mut col[at..at + n], &x[from..], self.sw));
    }

    /// The transpose of [`Window::im2col`]: `x[i] += col[..]` over every place input `i` was copied to.
    /// `x` is overwritten (set to zero first).
    pub fn col2im(&self, col: &[f32], x: &mut [f32]) {
        x[..self.in_c * self.in_h * self.in_w].fill(0.0);
        self.for_each_run(|at, from, n| scatter_add(&mut x[from..], &col[at..at + n], self.sw));
    }

    /// Calls `f(output_index, inputs)` for every pooling window (no dilation); `inputs` iterates over
    /// the flat indices of the window's inputs inside the image (padding is skipped) and can be cloned
    /// to walk them twice.
    pub fn for_each_window(&self, mut f: impl FnMut(usize, WindowInputs)) {
        let [top, left, ..] = self.pad;
        for c in 0..self.in_c {
            let base = c * self.in_h * self.in_w;
            for oy in 0..self.out_h {
                let y0 = oy * self.sh;
                let (ky0, ky1) = (top.saturating_sub(y0), self.kh.min((self.in_h + top).saturating_sub(y0)));
                for ox in 0..self.out_w {
                    let o = (c * self.out_h + oy) * self.out_w + ox;
                    let x0 = ox * self.sw;
                    let (kx0, kx1) = (left.saturating_sub(x0), self.kw.min((self.in_w + left).saturating_sub(x0)));
                    let (rows, cols) = (ky1.saturating_sub(ky0), kx1.saturating_sub(kx0));
                    let start = base + (y0 + ky0).saturating_sub(top) * self.in_w + (x0 + kx0).saturating_sub(left);
                    f(o, WindowInputs { start, in_w: self.in_w, kw: cols, col: 0, left: rows * cols });
                }
            }
        }
    }
}

/// The flat input indices of one pooling window, row by row.
#[derive(Clone, Debug)]
pub struct WindowInputs {
    /// The first input of the current row.
    start: usize,
    in_w: usize,
    kw: usize,
    col: usize,
    /// Inputs not given yet.
    left: usize,
}

impl Iterator for WindowInputs {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.left == 0 {
            return None;
        }
        let i = self.start + self.col;
        self.left -= 1;
        self.col += 1;
        if self.col == self.kw {
            self.col = 0;
            self.start += self.in_w;
        }
        Some(i)
    }
}

/// Rows and columns of the register tile of the two matrix products: 4 x 16 floats natively (8 AVX
/// registers, written as plain loops that LLVM vectorises), 4 x 8 in wasm (8 `v128` accumulators,
/// written with `simd128` intrinsics: LLVM's own vectorisation of the plain loops ran 1.8x slower in
/// Chromium, and wider tiles spill V8's 16 vector registers).
const TR: usize = 4;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
const TC: usize = 16;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
const TC: usize = 8;

/// The right-hand matrix of the products: `b[t, j]` is `data[t * stride + j - first]` (the map
/// itself: rows `p` apart from column 0; or a packed panel of one column tile: rows `TC` apart from
/// the tile's first column).
#[derive(Clone, Copy)]
struct Rows<'a> {
    data: &'a [f32],
    stride: usize,
    first: usize,
}

impl<'a> Rows<'a> {
    fn of(data: &'a [f32], stride: usize) -> Self {
        Rows { data, stride, first: 0 }
    }
}

/// `out[r, j..j+W] = init[r] + sum_t a(r, t) * b[t, j..j+W]` for the `nr` rows from `r0` (`nr` <= 4),
/// where `a(r, t) = a[r * ars + t * ats]` and `b` is read through [`Rows`]: a register-tiled kernel
/// shared by the convolution and its transpose, written as plain loops that LLVM vectorises. Every output is `init` plus the products in
/// order of `t`, as the plain loop adds them, whatever the tile.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile<const W: usize>(a: &[f32], ars: usize, ats: usize, r0: usize, nr: usize, b: Rows, t_len: usize, p: usize, j: usize, init: [f32; TR], out: &mut [f32]) {
    // every index the loops touch, checked once (checks inside them cost as much as the products)
    assert!(
        t_len == 0
            || nr == 0
            || (j >= b.first && (t_len - 1) * b.stride + j - b.first + W <= b.data.len() && (r0 + nr - 1) * ars + (t_len - 1) * ats < a.len())
    );
    // SAFETY (both): t < t_len and r < nr, so the indices lie inside `b` and `a` by the assert above.
    let bt = |t: usize| -> &[f32; W] { unsafe { &*b.data.as_ptr().add(t * b.stride + j - b.first).cast::<[f32; W]>() } };
    let av = |r: usize, t: usize| -> f32 { unsafe { *a.get_unchecked((r0 + r) * ars + t * ats) } };
    if nr == TR {
        // four named accumulators: LLVM keeps them in registers (an array of them it spills)
        let (mut c0, mut c1, mut c2, mut c3) = ([init[0]; W], [init[1]; W], [init[2]; W], [init[3]; W]);
        for t in 0..t_len {
            let bt = bt(t);
            let (a0, a1, a2, a3) = (av(0, t), av(1, t), av(2, t), av(3, t));
            for q in 0..W {
                c0[q] += a0 * bt[q];
                c1[q] += a1 * bt[q];
                c2[q] += a2 * bt[q];
                c3[q] += a3 * bt[q];
            }
        }
        for (r, c) in [c0, c1, c2, c3].iter().enumerate() {
            out[(r0 + r) * p + j..(r0 + r) * p + j + W].copy_from_slice(c);
        }
        return;
    }
    // the one to three ragged rows at the bottom: three at once, or two at a time (sharing the loads
    // of `b`), then one
    if nr == 3 {
        let (mut c0, mut c1, mut c2) = ([init[0]; W], [init[1]; W], [init[2]; W]);
        for t in 0..t_len {
            let bt = bt(t);
            let (a0, a1, a2) = (av(0, t), av(1, t), av(2, t));
            for q in 0..W {
                c0[q] += a0 * bt[q];
                c1[q] += a1 * bt[q];
                c2[q] += a2 * bt[q];
            }
        }
        for (r, c) in [c0, c1, c2].iter().enumerate() {
            out[(r0 + r) * p + j..(r0 + r) * p + j + W].copy_from_slice(c);
        }
        return;
    }
    let mut r = 0;
    while r + 2 <= nr {
        let (mut c0, mut c1) = ([init[r]; W], [init[r + 1]; W]);
        for t in 0..t_len {
            let bt = bt(t);
            let (a0, a1) = (av(r, t), av(r + 1, t));
            for q in 0..W {
                c0[q] += a0 * bt[q];
                c1[q] += a1 * bt[q];
            }
        }
        out[(r0 + r) * p + j..(r0 + r) * p + j + W].copy_from_slice(&c0);
        out[(r0 + r + 1) * p + j..(r0 + r + 1) * p + j + W].copy_from_slice(&c1);
        r += 2;
    }
    if r < nr {
        let mut c = [init[r]; W];
        for t in 0..t_len {
            let (bt, ar) = (bt(t), av(r, t));
            for q in 0..W {
                c[q] += ar * bt[q];
            }
        }
        out[(r0 + r) * p + j..(r0 + r) * p + j + W].copy_from_slice(&c);
    }
}

/// The full-width tile in wasm, with `simd128` intrinsics (LLVM's own vectorisation of the plain loops
/// ran 1.8x slower in Chromium): the same products and sums in the same order (no fused multiply-add),
/// so the results are bit for bit those of the native build.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile_full(a: &[f32], ars: usize, ats: usize, r0: usize, nr: usize, b: Rows, t_len: usize, p: usize, j: usize, init: [f32; TR], out: &mut [f32]) {
    if nr != TR || t_len == 0 {
        return tile::<TC>(a, ars, ats, r0, nr, b, t_len, p, j, init, out);
    }
    // every index the loops below touch, checked once
    assert!(
        j >= b.first
            && (t_len - 1) * b.stride + j - b.first + TC <= b.data.len()
            && (r0 + TR - 1) * ars + (t_len - 1) * ats < a.len()
            && (r0 + TR - 1) * p + j + TC <= out.len()
    );
    let mut c = init.map(|v| [v4::splat(v); 2]);
    for t in 0..t_len {
        // SAFETY: t * b.stride + j - b.first + 8 <= b.data.len() and (r0 + r) * ars + t * ats < a.len() by the assert above.
        let (b0, b1, rows) = unsafe {
            let bt = b.data.as_ptr().add(t * b.stride + j - b.first);
            let ar = a.as_ptr().add(r0 * ars + t * ats);
            (v4::load(bt), v4::load(bt.add(4)), [*ar, *ar.add(ars), *ar.add(2 * ars), *ar.add(3 * ars)])
        };
        for (cr, &av) in c.iter_mut().zip(&rows) {
            let av = v4::splat(av);
            cr[0] = v4::add(cr[0], v4::mul(av, b0));
            cr[1] = v4::add(cr[1], v4::mul(av, b1));
        }
    }
    for (r, cr) in c.iter().enumerate() {
        // SAFETY: (r0 + r) * p + j + 8 <= out.len() by the assert above.
        unsafe {
            let o = out.as_mut_ptr().add((r0 + r) * p + j);
            v4::store(o, cr[0]);
            v4::store(o.add(4), cr[1]);
        }
    }
}

/// The full-width tile natively: four named accumulators of `TC` floats (the one to three ragged rows
/// at the bottom go to [`tile`]).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile_full(a: &[f32], ars: usize, ats: usize, r0: usize, nr: usize, b: Rows, t_len: usize, p: usize, j: usize, init: [f32; TR], out: &mut [f32]) {
    if nr != TR {
        return tile::<TC>(a, ars, ats, r0, nr, b, t_len, p, j, init, out);
    }
    // every index the loop touches, checked once (checks inside it cost as much as the products)
    assert!(t_len == 0 || (j >= b.first && (t_len - 1) * b.stride + j - b.first + TC <= b.data.len() && (r0 + TR - 1) * ars + (t_len - 1) * ats < a.len()));
    let (mut c0, mut c1, mut c2, mut c3) = ([init[0]; TC], [init[1]; TC], [init[2]; TC], [init[3]; TC]);
    for t in 0..t_len {
        // SAFETY: t < t_len and r < TR, so every index lies inside `b` and `a` by the assert above.
        let (bt, a0, a1, a2, a3) = unsafe {
            let ap = a.as_ptr().add(r0 * ars + t * ats);
            (&*b.data.as_ptr().add(t * b.stride + j - b.first).cast::<[f32; TC]>(), *ap, *ap.add(ars), *ap.add(2 * ars), *ap.add(3 * ars))
        };
        for q in 0..TC {
            c0[q] += a0 * bt[q];
            c1[q] += a1 * bt[q];
            c2[q] += a2 * bt[q];
            c3[q] += a3 * bt[q];
        }
    }
    for (r, c) in [c0, c1, c2, c3].iter().enumerate() {
        out[(r0 + r) * p + j..(r0 + r) * p + j + TC].copy_from_slice(c);
    }
}

/// `out[r, j] = init(r) + sum_t a(r, t) * b[t, j]` for all `rows` x `p`, in blocks of columns whose
/// panel of `b` (`t_len` x the block) stays in the cache while every row tile passes over it (a large
/// map's `b` is read from memory once instead of once per four rows). Tile order does not change a bit:
/// every output is `init` plus its products in order of `t`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn product(a: &[f32], ars: usize, ats: usize, rows: usize, b: &[f32], t_len: usize, p: usize, init: impl Fn(usize) -> f32, out: &mut [f32]) {
    let block = column_block(t_len);
    // rows of `b` that are not a whole number of tiles long (a 7x7 or 14x14 map) start anywhere in a
    // cache line, so that every load of `b` by a tile would straddle two lines: [`product_cols`] then
    // copies each column tile once into a packed panel that all the row tiles read. That pays for large
    // products only (the photo model's): a digit model's products are small enough for their
    // operands to stay in the L1 and L2 caches, and packing made them slower
    let pack = !p.is_multiple_of(TC) && rows >= 4 * TR && t_len <= PANEL_T && p >= TC && rows * t_len * p >= PARALLEL_MACS;
    // uninitialised: zeroing 80 KiB would cost a small product more than packing saves it (and push
    // its operands out of the L1 cache); product_cols writes each panel before it reads it
    let mut panel_buf = std::mem::MaybeUninit::<[f32; PANEL_T * TC]>::uninit();
    let mut j0 = 0;
    while j0 < p {
        let j1 = (j0 + block).min(p);
        let panel = pack.then(|| panel_slots(&mut panel_buf));
        product_cols(a, ars, ats, rows, b, t_len, p, j0..j1, panel, &init, out);
        j0 = j1;
    }
}

/// The panel's floats as a slice of `MaybeUninit` (no bytes are read before they are written).
#[inline(always)]
fn panel_slots(panel: &mut std::mem::MaybeUninit<[f32; PANEL_T * TC]>) -> &mut [std::mem::MaybeUninit<f32>] {
    // SAFETY: `[MaybeUninit<f32>; N]` has the layout of `MaybeUninit<[f32; N]>`, and a slice of
    // `MaybeUninit` may hold uninitialised memory.
    unsafe { std::slice::from_raw_parts_mut(panel.as_mut_ptr().cast::<std::mem::MaybeUninit<f32>>(), PANEL_T * TC) }
}

/// The most rows of `b` (`t_len`) that [`product`] packs into a panel on the stack (`TC` floats each:
/// 80 KiB natively, 40 KiB in wasm).
const PANEL_T: usize = 1280;

/// Columns per block of [`product`]: a panel of `b` of about 64 KiB (the L2 cache holds it with room to
/// spare), at least four full tiles wide.
fn column_block(t_len: usize) -> usize {
    const PANEL_FLOATS: usize = 16 * 1024;
    (PANEL_FLOATS / t_len.max(1) / (4 * TC) * (4 * TC)).max(4 * TC)
}

/// The columns `cols` of [`product`]: tiles of four rows (the last tile one to three) and `TC` columns
/// (read from `panel`, packed column tile by column tile, where [`product`] gives one), the ragged
/// columns in tiles of 8, 4, 2 and 1 (the same order of additions throughout: identical results).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn product_cols(
    a: &[f32],
    ars: usize,
    ats: usize,
    rows: usize,
    b: &[f32],
    t_len: usize,
    p: usize,
    cols: std::ops::Range<usize>,
    panel: Option<&mut [std::mem::MaybeUninit<f32>]>,
    init: &impl Fn(usize) -> f32,
    out: &mut [f32],
) {
    let (j0, j1) = (cols.start, cols.end);
    if panel.is_none() && rows.is_multiple_of(TR) && (j1 - j0).is_multiple_of(TC) {
        // whole tiles only (the common shapes): the tightest loop, every row tile over one column tile
        // of `b` while it is in the L1 cache
        for j in (j0..j1).step_by(TC) {
            for r0 in (0..rows).step_by(TR) {
                let iv = [init(r0), init(r0 + 1), init(r0 + 2), init(r0 + 3)];
                tile_full(a, ars, ats, r0, TR, Rows::of(b, p), t_len, p, j, iv, out);
            }
        }
        return;
    }
    let mut j0 = j0;
    if let Some(panel) = panel {
        while j0 + TC <= j1 {
            for (t, row) in panel[..t_len * TC].chunks_exact_mut(TC).enumerate() {
                for (d, &v) in row.iter_mut().zip(&b[t * p + j0..t * p + j0 + TC]) {
                    d.write(v);
                }
            }
            // SAFETY: the first `t_len * TC` floats of the panel were written just above.
            let packed = unsafe { std::slice::from_raw_parts(panel.as_ptr().cast::<f32>(), t_len * TC) };
            for r0 in (0..rows).step_by(TR) {
                let nr = TR.min(rows - r0);
                let iv: [f32; TR] = std::array::from_fn(|r| if r < nr { init(r0 + r) } else { 0.0 });
                tile_full(a, ars, ats, r0, nr, Rows { data: packed, stride: TC, first: j0 }, t_len, p, j0, iv, out);
            }
            j0 += TC;
        }
    }
    for r0 in (0..rows).step_by(TR) {
        let nr = TR.min(rows - r0);
        let iv: [f32; TR] = std::array::from_fn(|r| if r < nr { init(r0 + r) } else { 0.0 });
        // ragged rows take wider tiles, so that every tile has as many independent sums as a full one
        let mut j = j0;
        match nr {
            1 => {
                while j + 4 * TC <= j1 {
                    tile::<{ 4 * TC }>(a, ars, ats, r0, nr, Rows::of(b, p), t_len, p, j, iv, out);
                    j += 4 * TC;
                }
            }
            2 => {
                while j + 2 * TC <= j1 {
                    tile::<{ 2 * TC }>(a, ars, ats, r0, nr, Rows::of(b, p), t_len, p, j, iv, out);
                    j += 2 * TC;
                }
            }
            _ => {}
        }
        while j + TC <= j1 {
            tile_full(a, ars, ats, r0, nr, Rows::of(b, p), t_len, p, j, iv, out);
            j += TC;
        }
        while j < j1 {
            let w = j1 - j;
            j += match w {
                8.. if TC > 8 => {
                    tile::<8>(a, ars, ats, r0, nr, Rows::of(b, p), t_len, p, j, iv, out);
                    8
                }
                4.. => {
                    tile::<4>(a, ars, ats, r0, nr, Rows::of(b, p), t_len, p, j, iv, out);
                    4
                }
                2.. => {
                    tile::<2>(a, ars, ats, r0, nr, Rows::of(b, p), t_len, p, j, iv, out);
                    2
                }
                _ => {
                    tile::<1>(a, ars, ats, r0, nr, Rows::of(b, p), t_len, p, j, iv, out);
                    1
                }
            };
        }
    }
}

/// Below this many columns (positions of a small output map, as a LeNet's last convolutions have) the
/// products run across rows instead: `product_narrow`; the forward product then reads `w`
/// transposed, made once per weight set ([`transpose`]).
pub const NARROW: usize = 8;

/// `w` (`m x k`, row-major) as `k x m`: the layout [`matmul_narrow`] reads.
pub fn transpose(w: &[f32], m: usize, k: usize) -> Vec<f32> {
    let mut wt = vec![0.0; m * k];
    for (r, row) in w[..m * k].chunks_exact(k.max(1)).enumerate() {
        for (t, &v) in row.iter().enumerate() {
            wt[t * m + r] = v;
        }
    }
    wt
}

/// `out[r, j] = init(r) + sum_t a[t * ats + r] * b[t * p + j]` for a narrow `p` (< [`NARROW`]): the
/// rows' values of `a` are contiguous for each `t`, so the tiles run across `R` rows (`TC`, then 8, 4
/// and 1 for the rest) and up to four columns. Every output is `init` plus the products in order of
/// `t`, as in [`product`]: the same results.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn product_narrow(a: &[f32], ats: usize, rows: usize, b: &[f32], t_len: usize, p: usize, init: impl Fn(usize) -> f32, out: &mut [f32]) {
    let mut r0 = 0;
    while r0 < rows {
        r0 += match rows - r0 {
            n if n >= TC => narrow_rows::<TC>(a, ats, r0, b, t_len, p, &init, out),
            n if n >= 8 => narrow_rows::<8>(a, ats, r0, b, t_len, p, &init, out),
            n if n >= 4 => narrow_rows::<4>(a, ats, r0, b, t_len, p, &init, out),
            _ => narrow_rows::<1>(a, ats, r0, b, t_len, p, &init, out),
        };
    }
}

/// Rows `r0..r0 + R` of [`product_narrow`], every column; returns `R`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn narrow_rows<const R: usize>(a: &[f32], ats: usize, r0: usize, b: &[f32], t_len: usize, p: usize, init: &impl Fn(usize) -> f32, out: &mut [f32]) -> usize {
    let iv: [f32; R] = std::array::from_fn(|i| init(r0 + i));
    let mut j = 0;
    while j < p {
        j += match p - j {
            4.. => narrow_tile::<R, 4>(a, ats, r0, b, t_len, p, j, iv, out),
            3 => narrow_tile::<R, 3>(a, ats, r0, b, t_len, p, j, iv, out),
            2 => narrow_tile::<R, 2>(a, ats, r0, b, t_len, p, j, iv, out),
            _ => narrow_tile::<R, 1>(a, ats, r0, b, t_len, p, j, iv, out),
        };
    }
    R
}

/// An `R x C` tile of [`product_narrow`] at rows `r0..`, columns `j..`; returns `C`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn narrow_tile<const R: usize, const C: usize>(
    a: &[f32],
    ats: usize,
    r0: usize,
    b: &[f32],
    t_len: usize,
    p: usize,
    j: usize,
    iv: [f32; R],
    out: &mut [f32],
) -> usize {
    let mut c = [iv; C];
    // every index the loop touches, checked once (checks inside it cost as much as the products)
    assert!(t_len == 0 || ((t_len - 1) * ats + r0 + R <= a.len() && (t_len - 1) * p + j + C <= b.len()));
    for t in 0..t_len {
        // SAFETY: t * ats + r0 + R <= a.len() and t * p + j + C <= b.len() by the assert above.
        let (at, bt) = unsafe { (&*a.as_ptr().add(t * ats + r0).cast::<[f32; R]>(), &*b.as_ptr().add(t * p + j).cast::<[f32; C]>()) };
        for (cq, &bq) in c.iter_mut().zip(bt) {
            for i in 0..R {
                cq[i] += at[i] * bq;
            }
        }
    }
    for (q, cq) in c.iter().enumerate() {
        for (i, &v) in cq.iter().enumerate() {
            out[(r0 + i) * p + j + q] = v;
        }
    }
    C
}

#[inline(always)]
fn matmul_impl(w: &[f32], m: usize, k: usize, col: &[f32], p: usize, bias: Option<&[f32]>, out: &mut [f32]) {
    product(w, k, 1, m, col, k, p, |i| bias.map_or(0.0, |b| b[i]), out);
}

#[inline(always)]
fn matmul_narrow_impl(wt: &[f32], m: usize, k: usize, col: &[f32], p: usize, bias: Option<&[f32]>, out: &mut [f32]) {
    product_narrow(wt, m, m, col, k, p, |i| bias.map_or(0.0, |b| b[i]), out);
}

#[inline(always)]
fn matmul_t_impl(w: &[f32], m: usize, k: usize, rows: std::ops::Range<usize>, g: &[f32], p: usize, gcol: &mut [f32]) {
    // gcol = w^T g: rows of gcol are the columns of w, contiguous for each row of w
    if p < NARROW && k >= 4 && rows.len() == k {
        return product_narrow(w, k, k, g, m, p, |_| 0.0, gcol);
    }
    product(&w[rows.start..], 1, k, rows.len(), g, m, p, |_| 0.0, gcol);
}

#[inline(always)]
fn dense_forward_impl(w: &[f32], n_in: usize, x: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    // four rows at a time share the loads of `x`; each row keeps the lane layout of [`dot`], so the
    // result is the same as row by row
    let rows = out.len();
    let full = rows - rows % 4;
    let chunks = n_in / 8;
    for r0 in (0..full).step_by(4) {
        let w4 = [0, 1, 2, 3].map(|r| &w[(r0 + r) * n_in..(r0 + r + 1) * n_in]);
        let acc = lanes(w4, &x[..n_in], chunks);
        for (r, (a, wr)) in acc.iter().zip(&w4).enumerate() {
            let mut sum = reduce8(a);
            for (wv, xv) in wr[chunks * 8..].iter().zip(&x[chunks * 8..n_in]) {
                sum += wv * xv;
            }
            out[r0 + r] = sum + bias.map_or(0.0, |b| b[r0 + r]);
        }
    }
    for (o, row) in w.chunks_exact(n_in).enumerate().skip(full) {
        out[o] = dot(row, &x[..n_in]) + bias.map_or(0.0, |b| b[o]);
    }
}

#[inline(always)]
fn dense_backward_impl(w: &[f32], n_in: usize, g: &[f32], gx: &mut [f32]) {
    // gx = sum over the rows with g != 0, in row order, of g[o] * w[o]: four rows per pass over gx
    // (the same additions in the same order as one axpy per row)
    let gx = &mut gx[..n_in];
    gx.fill(0.0);
    let mut rows = [0usize; 4];
    let mut k = 0;
    for (o, _) in g.iter().enumerate().filter(|(_, &gv)| gv != 0.0) {
        rows[k] = o;
        k += 1;
        if k == 4 {
            axpy4(gx, rows.map(|o| g[o]), rows.map(|o| &w[o * n_in..(o + 1) * n_in]));
            k = 0;
        }
    }
    for &o in &rows[..k] {
        axpy(gx, g[o], &w[o * n_in..(o + 1) * n_in]);
    }
}

/// `y = (((y + a[0] x[0]) + a[1] x[1]) + a[2] x[2]) + a[3] x[3]`: four [`axpy`]s in one pass over `y`.
#[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
#[inline(always)]
fn axpy4(y: &mut [f32], a: [f32; 4], x: [&[f32]; 4]) {
    for (i, yi) in y.iter_mut().enumerate() {
        *yi = (((*yi + a[0] * x[0][i]) + a[1] * x[1][i]) + a[2] * x[2][i]) + a[3] * x[3][i];
    }
}

/// [`axpy4`] with four-lane vectors (LLVM left the one-row `axpy` poorly vectorised in wasm).
#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn axpy4(y: &mut [f32], a: [f32; 4], x: [&[f32]; 4]) {
    let n = y.len();
    assert!(x.iter().all(|r| r.len() >= n));
    let av = a.map(v4::splat);
    let full = n / 4 * 4;
    for i in (0..full).step_by(4) {
        // SAFETY: i + 4 <= n <= the length of `y` and of every row (assert above).
        unsafe {
            let mut v = v4::load(y.as_ptr().add(i));
            for (r, &ar) in x.iter().zip(&av) {
                v = v4::add(v, v4::mul(ar, v4::load(r.as_ptr().add(i))));
            }
            v4::store(y.as_mut_ptr().add(i), v);
        }
    }
    for i in full..n {
        y[i] = (((y[i] + a[0] * x[0][i]) + a[1] * x[1][i]) + a[2] * x[2][i]) + a[3] * x[3][i];
    }
}

/// AVX2 is used where the CPU has it, unless the environment variable `LRP_PORTABLE` is set (to measure
/// the portable build natively, e.g. against wasm's 128-bit SIMD). Decided once per process.
#[cfg(target_arch = "x86_64")]
fn use_avx2() -> bool {
    static AVX2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVX2.get_or_init(|| std::is_x86_feature_detected!("avx2") && std::env::var_os("LRP_PORTABLE").is_none())
}

/// AVX-512 (the foundation set) is used by the matrix products where the CPU has it and AVX2 is used,
/// unless the environment variable `LRP_NO_AVX512` is set (to test and measure the AVX2 build on such
/// a CPU). Decided once per process.
#[cfg(target_arch = "x86_64")]
fn use_avx512() -> bool {
    static AVX512: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVX512.get_or_init(|| use_avx2() && std::is_x86_feature_detected!("avx512f") && std::env::var_os("LRP_NO_AVX512").is_none())
}

/// Generates a kernel (of the visibility given) that runs an AVX2 build of `$impl` where the CPU has it
/// (detected once by std), or with a second name after `/`, an AVX-512 build where the CPU has that
/// and the call is large (the condition after `if`), and the portable build elsewhere (wasm: `simd128`
/// when compiled with it). Every build computes identical results: the kernels never reassociate sums,
/// and Rust never fuses a multiply and an add. (The products' register tiles of 16 columns become one
/// 16-lane register per row with AVX-512: half the instructions, and on CPUs with two 512-bit units a
/// third more multiply-adds per cycle. Small products are left to AVX2: their ragged tiles of one to
/// three rows then have too few independent sums, and the digit models' odd graph got 5 % slower.)
macro_rules! dispatch {
    ($(#[$doc:meta])* $vis:vis $name:ident, $avx:ident / $avx512:ident if $large:expr, $impl:ident, ($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if $large && use_avx512() {
                // SAFETY: the CPU supports AVX-512F (and AVX2), checked just above.
                return unsafe { $avx512($($arg),*) };
            }
            dispatch!(@call $avx, $impl, ($($arg),*))
        }
        dispatch!(@build $avx, "avx2", $impl, ($($arg: $ty),*));
        dispatch!(@build $avx512, "avx2,avx512f", $impl, ($($arg: $ty),*));
    };
    ($(#[$doc:meta])* $vis:vis $name:ident, $avx:ident, $impl:ident, ($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        $vis fn $name($($arg: $ty),*) {
            dispatch!(@call $avx, $impl, ($($arg),*))
        }
        dispatch!(@build $avx, "avx2", $impl, ($($arg: $ty),*));
    };
    (@call $avx:ident, $impl:ident, ($($arg:ident),*)) => {{
        #[cfg(target_arch = "x86_64")]
        if use_avx2() {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { $avx($($arg),*) };
        }
        $impl($($arg),*)
    }};
    (@build $build:ident, $features:literal, $impl:ident, ($($arg:ident: $ty:ty),*)) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $build($($arg: $ty),*) {
            $impl($($arg),*)
        }
    };
}

dispatch!(
    /// One thread's [`matmul`].
    matmul_serial, matmul_avx2 / matmul_avx512 if m * k * p >= PARALLEL_MACS, matmul_impl, (w: &[f32], m: usize, k: usize, col: &[f32], p: usize, bias: Option<&[f32]>, out: &mut [f32]));
dispatch!(
    /// [`matmul`] for a narrow map (`p` < [`NARROW`]) from `wt`, the weights transposed (`k x m`): the
    /// same results, in tiles across output channels.
    pub matmul_narrow, matmul_narrow_avx2, matmul_narrow_impl, (wt: &[f32], m: usize, k: usize, col: &[f32], p: usize, bias: Option<&[f32]>, out: &mut [f32]));
dispatch!(
    /// The rows `rows` of [`matmul_t`] into `gcol` (those rows only): one thread's part.
    matmul_t_rows, matmul_t_avx2 / matmul_t_avx512 if m * rows.len() * p >= PARALLEL_MACS, matmul_t_impl, (w: &[f32], m: usize, k: usize, rows: std::ops::Range<usize>, g: &[f32], p: usize, gcol: &mut [f32]));
dispatch!(
    /// `out = w * x + b` for a dense layer, `w` row-major `[out, in]`.
    pub dense_forward, dense_forward_avx2, dense_forward_impl, (w: &[f32], n_in: usize, x: &[f32], bias: Option<&[f32]>, out: &mut [f32]));
dispatch!(
    /// `gx = w^T g` for a dense layer (rows with zero upstream gradient are skipped).
    pub dense_backward, dense_backward_avx2, dense_backward_impl, (w: &[f32], n_in: usize, g: &[f32], gx: &mut [f32]));
dispatch!(
    /// `dw[m, k] += sum_p g[m, p] * col[k, p]`: the weight gradient of a convolution (training).
    pub weight_grad, weight_grad_avx2, weight_grad_impl, (g: &[f32], m: usize, col: &[f32], k: usize, p: usize, dw: &mut [f32]));

dispatch!(
    /// One thread's [`depthwise`].
    depthwise_serial, depthwise_avx2, depthwise_impl, (win: Window, w: &[f32], bias: Option<&[f32]>, xp: &[f32], tmp: &mut [f32], out: &mut [f32]));
dispatch!(
    /// One thread's [`depthwise_t`].
    depthwise_t_serial, depthwise_t_avx2, depthwise_t_impl, (win: Window, w: &[f32], g: &[f32], tmp: &mut [f32], gp: &mut [f32]));

/// Below this many multiply-adds a product or depthwise convolution runs on one thread (a digit model's
/// layers: handing them out would cost more than it saves); above it, its output rows are shared out
/// among the threads of the current rayon pool (feature `threads`).
pub const PARALLEL_MACS: usize = 1 << 20;

/// Runs `f(r0, rows, part)` over the `rows` x `row_len` matrix `out` in parts of whole rows (a multiple
/// of `align` rows each), one part per thread of the current pool when the work is at least
/// [`PARALLEL_MACS`], else as one part. Each output is computed as on one thread: the same bits.
fn by_rows(out: &mut [f32], rows: usize, row_len: usize, macs: usize, align: usize, f: impl Fn(usize, usize, &mut [f32]) + Sync + Send) {
    let out = &mut out[..rows * row_len];
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        let parts = if macs < PARALLEL_MACS || row_len == 0 { 1 } else { threads().min(rows / align) };
        if parts > 1 {
            let per = rows.div_ceil(parts).div_ceil(align) * align;
            out.par_chunks_mut(per * row_len).enumerate().for_each(|(i, part)| f(i * per, part.len() / row_len, part));
            return;
        }
    }
    let _ = (macs, align);
    f(0, rows, out)
}

/// The threads the kernels share their work among: the current rayon pool's (feature `threads`), else 1.
pub fn threads() -> usize {
    #[cfg(feature = "threads")]
    return rayon::current_num_threads();
    #[cfg(not(feature = "threads"))]
    1
}

/// Runs `f` on a thread of the current rayon pool (feature `threads`; else here): called from outside
/// the pool, each of the kernels' parallel sections would be handed in from outside, the caller
/// waiting while one pool thread is woken to take it and another to share it, and woken again at the
/// end; from a pool thread, a section wakes only the thread that shares it. One hand-over for a whole
/// explanation instead of one per large layer (one of the two reasons two threads had been no faster
/// than one in the page: README, "The photo model").
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(feature = "threads")]
    if threads() > 1 {
        return rayon::scope(|_| f());
    }
    f()
}

/// `out[m, p] = sum_k w[m, k] * col[k, p]` (+ `bias[m]`): a convolution after im2col.
pub fn matmul(w: &[f32], m: usize, k: usize, col: &[f32], p: usize, bias: Option<&[f32]>, out: &mut [f32]) {
    by_rows(out, m, p, m * k * p, TR, |r0, n, part| matmul_serial(&w[r0 * k..(r0 + n) * k], n, k, col, p, bias.map(|b| &b[r0..r0 + n]), part));
}

/// `gcol[k, p] = sum_m w[m, k] * g[m, p]`: the transpose of [`matmul`] (without bias).
pub fn matmul_t(w: &[f32], m: usize, k: usize, g: &[f32], p: usize, gcol: &mut [f32]) {
    // a narrow map runs across rows as a whole (and is small)
    let macs = if p < NARROW { 0 } else { m * k * p };
    by_rows(gcol, k, p, macs, TR, |r0, n, part| matmul_t_rows(w, m, k, r0..r0 + n, g, p, part));
}

/// Runs `f` on the caller's scratch buffer (held in `tmp`) for the first part of a [`by_rows`] split
/// that asks, and on a fresh one of `len` floats for each further part (another thread's).
fn with_scratch(tmp: &std::sync::Mutex<Option<&mut [f32]>>, len: usize, f: impl FnOnce(&mut [f32])) {
    match tmp.lock().ok().and_then(|mut t| t.take()) {
        Some(t) => f(t),
        None => f(&mut vec![0.0; len]),
    }
}

/// A depthwise convolution (one input and one output channel per group, weights `[c, kh, kw]`) on
/// the zero-padded input `xp` ([`Window::pad_into`]; `x` itself without padding), straight from
/// the image: `out[c, o] = b[c] + sum over (ky, kx) in order of w[c, ky, kx] * xp[..]`, the sums of
/// im2col and [`matmul`] in their order, padding products included (the same bits). A channel's
/// outputs are computed as one long "wide" row in `tmp` ([`Window::depthwise_scratch`] floats), running
/// on through the padding between output rows, then picked out; at a stride above 1 from the
/// channel's phase planes ([`Window::split_phases`]), so that every tap reads consecutive floats.
/// Channels are shared out among the threads as [`matmul`]'s rows are (each further thread with a
/// `tmp` of its own).
pub fn depthwise(win: Window, w: &[f32], bias: Option<&[f32]>, xp: &[f32], tmp: &mut [f32], out: &mut [f32]) {
    let (kk, plane) = (win.kh * win.kw, win.padded_dims().0 * win.padded_dims().1);
    let scratch = win.depthwise_scratch().expect("a validated window's scratch fits in usize");
    let tmp = std::sync::Mutex::new(Some(tmp));
    by_rows(out, win.in_c, win.positions(), win.in_c * kk * win.positions(), 1, |c0, n, part| {
        let sub = Window { in_c: n, ..win };
        let (w, b, x) = (&w[c0 * kk..(c0 + n) * kk], bias.map(|b| &b[c0..c0 + n]), &xp[c0 * plane..(c0 + n) * plane]);
        with_scratch(&tmp, scratch, |t| depthwise_serial(sub, w, b, x, t, part));
    });
}

/// The transpose of [`depthwise`] into the padded gradient `gp` (overwritten): every input adds
/// `w * g` of the outputs over it for each `(ky, kx)` in order, as [`matmul_t`] then
/// [`Window::col2im`] add them. It is computed as a correlation with the kernel turned round, in
/// wide rows over the output gradient laid out with zero margins in `tmp`; at a stride above 1 each
/// phase plane of `gp` takes its own taps. Channels are shared out as in [`depthwise`].
pub fn depthwise_t(win: Window, w: &[f32], g: &[f32], tmp: &mut [f32], gp: &mut [f32]) {
    let (kk, p) = (win.kh * win.kw, win.positions());
    let plane = win.padded_dims().0 * win.padded_dims().1;
    let scratch = win.depthwise_scratch().expect("a validated window's scratch fits in usize");
    let tmp = std::sync::Mutex::new(Some(tmp));
    by_rows(gp, win.in_c, plane, win.in_c * kk * p, 1, |c0, n, part| {
        let sub = Window { in_c: n, ..win };
        let (w, g) = (&w[c0 * kk..(c0 + n) * kk], &g[c0 * p..(c0 + n) * p]);
        with_scratch(&tmp, scratch, |t| depthwise_t_serial(sub, w, g, t, part));
    });
}

dispatch!(
    /// LRP's shares: `s[k] = coef * r[k] / stabilize(z[k], eps)` where `mask` holds for `z_orig[k]`,
    /// else 0 (one loop per mask, each vectorised; AVX2 divides eight at once).
    pub(crate) shares, shares_avx2, shares_impl, (s: &mut [f32], r: &[f32], z: &[f32], z_orig: &[f32], coef: f32, eps: f32, mask: Mask));

#[inline(always)]
fn shares_impl(s: &mut [f32], r: &[f32], z: &[f32], z_orig: &[f32], coef: f32, eps: f32, mask: Mask) {
    #[inline(always)]
    fn each(s: &mut [f32], r: &[f32], z: &[f32], z_orig: &[f32], coef: f32, eps: f32, on: impl Fn(f32) -> bool) {
        for (((sk, &rk), &zk), &zo) in s.iter_mut().zip(r).zip(z).zip(z_orig) {
            *sk = if on(zo) { coef * rk / stabilize(zk, eps) } else { 0.0 };
        }
    }
    match mask {
        Mask::All => each(s, r, z, z_orig, coef, eps, |_| true),
        Mask::Positive => each(s, r, z, z_orig, coef, eps, |zo| zo > 0.0),
        Mask::Negative => each(s, r, z, z_orig, coef, eps, |zo| zo < 0.0),
    }
}

/// Outputs per register block of the depthwise kernels: 64 floats natively (eight AVX registers),
/// 32 in wasm (eight `v128`): enough independent sums to hide the latency of the additions.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
const DW_BLOCK: usize = 64;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
const DW_BLOCK: usize = 32;

/// Taps per pass of [`taps_rows`] (a 5 x 5 kernel's 25 in one pass).
const TAPS: usize = 32;

/// `out[i] = init + sum over the taps (offset, w) in order of w * x[offset + i]`, `TAPS` taps a pass:
/// the first pass starts from `init`, each further one from the sums so far (the same additions in
/// the same order).
#[inline(always)]
fn taps_rows(taps: impl Iterator<Item = (usize, f32)>, init: f32, x: &[f32], out: &mut [f32]) {
    let (mut offs, mut ws, mut n, mut first) = ([0usize; TAPS], [0f32; TAPS], 0, true);
    for (o, w) in taps {
        (offs[n], ws[n], n) = (o, w, n + 1);
        if n == TAPS {
            taps_pass(&offs, &ws, first.then_some(init), x, out);
            (n, first) = (0, false);
        }
    }
    if n > 0 || first {
        taps_pass(&offs[..n], &ws[..n], first.then_some(init), x, out);
    }
}

/// One pass of [`taps_rows`] (from `init`, or from `out` if `None`): blocks of [`DW_BLOCK`] outputs
/// whose sums stay in registers over all the taps (one store per output, not one per tap), then 8,
/// then 1.
#[inline(always)]
fn taps_pass(offs: &[usize], ws: &[f32], init: Option<f32>, x: &[f32], out: &mut [f32]) {
    let n = out.len();
    // every index the blocks read, checked once
    assert!(offs.len() == ws.len() && offs.iter().all(|&o| o <= x.len() && x.len() - o >= n));
    let mut i = 0;
    while i + DW_BLOCK <= n {
        taps_block::<DW_BLOCK>(offs, ws, init, x, i, out);
        i += DW_BLOCK;
    }
    while i + 8 <= n {
        taps_block::<8>(offs, ws, init, x, i, out);
        i += 8;
    }
    while i < n {
        taps_block::<1>(offs, ws, init, x, i, out);
        i += 1;
    }
}

#[inline(always)]
fn taps_block<const W: usize>(offs: &[usize], ws: &[f32], init: Option<f32>, x: &[f32], i: usize, out: &mut [f32]) {
    let out = &mut out[i..i + W];
    let mut acc = [0.0f32; W];
    match init {
        Some(v) => acc.fill(v),
        None => acc.copy_from_slice(out),
    }
    for (&o, &w) in offs.iter().zip(ws) {
        // SAFETY: o + i + W <= o + out.len() <= x.len(), asserted by taps_pass.
        let xs = unsafe { &*x.as_ptr().add(o + i).cast::<[f32; W]>() };
        for q in 0..W {
            acc[q] += w * xs[q];
        }
    }
    out.copy_from_slice(&acc);
}

#[inline(always)]
fn depthwise_impl(win: Window, w: &[f32], bias: Option<&[f32]>, xp: &[f32], tmp: &mut [f32], out: &mut [f32]) {
    let ((ph, pw), (qh, qw)) = (win.padded_dims(), win.phase_dims());
    let (kk, ow, p) = (win.kh * win.kw, win.out_w, win.positions());
    let strided = (win.sh, win.sw) != (1, 1);
    let (planes, wide) = tmp.split_at_mut(if strided { win.sh * win.sw * qh * qw } else { 0 });
    let wide = &mut wide[..(win.out_h - 1) * qw + ow];
    // tap (ky, kx) reads its phase plane from the row and column under the output's first tap
    let offset = |ky: usize, kx: usize| {
        let (y, x) = (ky * win.dh, kx * win.dw);
        ((y % win.sh * win.sw + x % win.sw) * qh + y / win.sh) * qw + x / win.sw
    };
    for c in 0..win.in_c {
        let x = &xp[c * ph * pw..(c + 1) * ph * pw];
        let src: &[f32] = if strided {
            win.split_phases(x, planes);
            planes
        } else {
            x
        };
        let wc = &w[c * kk..(c + 1) * kk];
        let taps = (0..kk).map(|t| (offset(t / win.kw, t % win.kw), wc[t]));
        taps_rows(taps, bias.map_or(0.0, |b| b[c]), src, wide);
        for (oy, o) in out[c * p..(c + 1) * p].chunks_exact_mut(ow).enumerate() {
            o.copy_from_slice(&wide[oy * qw..oy * qw + ow]);
        }
    }
}

#[inline(always)]
fn depthwise_t_impl(win: Window, w: &[f32], g: &[f32], tmp: &mut [f32], gp: &mut [f32]) {
    let ((ph, pw), (qh, qw)) = (win.padded_dims(), win.phase_dims());
    let (kk, ow, p) = (win.kh * win.kw, win.out_w, win.positions());
    let strided = (win.sh, win.sw) != (1, 1);
    // the margins: the most rows and columns of the phase grid a tap reaches past the output
    let (top, left) = ((win.kh - 1) * win.dh / win.sh, (win.kw - 1) * win.dw / win.sw);
    let (planes, grid) = tmp.split_at_mut(if strided { win.sh * win.sw * qh * qw } else { 0 });
    let grid = &mut grid[..(qh + top + 1) * qw];
    for c in 0..win.in_c {
        // the output gradient on the phase grid, `top` rows and `left` columns in, zeros around
        grid.fill(0.0);
        for (oy, gr) in g[c * p..(c + 1) * p].chunks_exact(ow).enumerate() {
            let at = (oy + top) * qw + left;
            grid[at..at + ow].copy_from_slice(gr);
        }
        let wc = &w[c * kk..(c + 1) * kk];
        let d = &mut gp[c * ph * pw..(c + 1) * ph * pw];
        // phase plane (fy, fx) takes the taps whose row and column fall on it, the kernel turned round
        let phase = |fy: usize, fx: usize, dst: &mut [f32]| {
            let taps = (0..kk).filter(|t| (t / win.kw * win.dh) % win.sh == fy && (t % win.kw * win.dw) % win.sw == fx).map(|t| {
                let (y, x) = (t / win.kw * win.dh / win.sh, t % win.kw * win.dw / win.sw);
                ((top - y) * qw + left - x, wc[t])
            });
            taps_rows(taps, 0.0, grid, dst);
        };
        if !strided {
            phase(0, 0, d);
            continue;
        }
        for (f, dst) in planes.chunks_exact_mut(qh * qw).enumerate() {
            phase(f / win.sw, f % win.sw, dst);
        }
        win.merge_phases(planes, d);
    }
}

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
    fn im2col_overwrites_a_used_buffer_with_the_definition() {
        // kernels 3 x kw; with padding 1 at stride 1 a 3x3 kernel keeps the width ("same")
        for (stride, pad, kw) in [(1, 0, 2), (2, 0, 2), (1, 1, 2), (2, 2, 2), (1, 1, 3)] {
            let w = Window::new(2, 7, 6, [3, kw], [stride, stride], pad).unwrap();
            let x: Vec<f32> = (0..2 * 7 * 6).map(|i| i as f32 + 1.0).collect();
            let mut col = vec![f32::NAN; w.col_rows() * w.positions()];
            w.im2col(&x, &mut col);
            for (r, row) in col.chunks_exact(w.positions()).enumerate() {
                let (c, ky, kx) = (r / (3 * kw), r / kw % 3, r % kw);
                for (q, &v) in row.iter().enumerate() {
                    let iy = (q / w.out_w * stride + ky) as isize - pad as isize;
                    let ix = (q % w.out_w * stride + kx) as isize - pad as isize;
                    let inside = (0..7).contains(&iy) && (0..6).contains(&ix);
                    let want = if inside { x[(c * 7 + iy as usize) * 6 + ix as usize] } else { 0.0 };
                    assert_eq!(v, want, "stride {stride} pad {pad} row {r} position {q}");
                }
            }
        }
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
