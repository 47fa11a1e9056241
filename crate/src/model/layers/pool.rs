//! Pooling: max-pooling (winner-take-all; ties split equally), average and sum pooling (linear maps
//! with one factor, zero padding counted as PyTorch's `count_include_pad=True`), and global average
//! pooling (the window is the whole map).

use super::{LinOp, Shape};
use crate::ops::{self, Window};

/// Pooling window, stride and zero padding `[top, left, bottom, right]` (max-pooling skips padding).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 4],
}

impl Pool {
    /// A window without padding.
    pub fn new(kernel: [usize; 2], stride: [usize; 2]) -> Pool {
        Pool { kernel, stride, padding: [0; 4] }
    }
    pub fn window(&self, s: Shape) -> Option<Window> {
        let [t, l, b, r] = self.padding;
        // a window wholly on padding would pool nothing
        if t >= self.kernel[0] || b >= self.kernel[0] || l >= self.kernel[1] || r >= self.kernel[1] {
            return None;
        }
        Window::with(s.c, s.h, s.w, self.kernel, self.stride, self.padding, [1, 1])
    }
    pub fn output_shape(&self, s: Shape) -> Result<Shape, String> {
        let w = self.window(s).ok_or_else(|| {
            format!("pooling window {:?} (stride {:?}, padding {:?}) does not fit a {}x{} input", self.kernel, self.stride, self.padding, s.h, s.w)
        })?;
        Ok(Shape::new(s.c, w.out_h, w.out_w))
    }
    pub fn op(&self, s: Shape) -> Option<LinOp> {
        self.window(s).map(|win| LinOp::Pool { win })
    }
    /// The factor of average pooling: one over the window's size.
    pub fn mean_factor(&self) -> f32 {
        1.0 / (self.kernel[0] * self.kernel[1]) as f32
    }
}

/// Global average pooling: `C x H x W` to `C x 1 x 1`, as a pooling window over the whole map.
pub fn global_window(s: Shape) -> Option<Window> {
    Window::new(s.c, s.h, s.w, [s.h, s.w], [1, 1], 0)
}

pub fn global_factor(s: Shape) -> f32 {
    1.0 / (s.h * s.w) as f32
}

/// Max-pooling forward.
pub fn max_forward(w: &Window, x: &[f32], out: &mut [f32]) {
    if w.is_2x2() {
        for (row, o) in out.chunks_exact_mut(w.out_w).enumerate() {
            let (r0, r1) = x[w.pool_top(row)..][..2 * w.in_w].split_at(w.in_w);
            for ((a, b), o) in r0.chunks_exact(2).zip(r1.chunks_exact(2)).zip(o) {
                *o = ops::pmax(ops::pmax(a[0], a[1]), ops::pmax(b[0], b[1]));
            }
        }
        return;
    }
    w.for_each_window(|o, it| out[o] = it.fold(f32::NEG_INFINITY, |m, i| ops::pmax(m, x[i])));
}

/// Max-pooling's routing of `g` (one value per pooled output) to the inputs that were the maximum,
/// split equally among ties. Shared by the gradient and by LRP's winner-take-all rule.
pub fn max_route(w: &Window, x: &[f32], g: &[f32], gx: &mut [f32]) {
    gx.fill(0.0);
    if w.is_2x2() {
        // the common 2x2 pool, branch-free: share = g / ties, given to each input equal to the max
        for (row, g) in g.chunks_exact(w.out_w).enumerate() {
            let (r0, r1) = x[w.pool_top(row)..][..2 * w.in_w].split_at(w.in_w);
            let (d0, d1) = gx[w.pool_top(row)..][..2 * w.in_w].split_at_mut(w.in_w);
            ops::route2x2(r0, r1, g, d0, d1);
        }
        return;
    }
    w.for_each_window(|o, it| {
        let gv = g[o];
        if gv == 0.0 {
            return;
        }
        let (mut best, mut ties) = (f32::NEG_INFINITY, 0usize);
        for i in it.clone() {
            let v = x[i];
            if v > best {
                best = v;
                ties = 1;
            } else if v == best {
                ties += 1;
            }
        }
        let share = gv / ties as f32;
        for i in it {
            if x[i] == best {
                gx[i] += share;
            }
        }
    });
}
