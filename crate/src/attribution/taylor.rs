//! Simple Taylor decomposition (Bach et al. 2015; Montavon et al. 2017 sec. 3):
//! `R_i = (x_i - x~_i) df_c/dx_i(x~)` at a root point `x~` with `f_c(x~) ~ 0`, found by a line search
//! from `x` along the gradient: `x(t) = x - t f_c(x) grad / |grad|^2` (t = 1 is the linear guess),
//! bracketed by doubling and refined by bisection. The root is not clipped to the pixel box: that it
//! leaves the data domain is exactly why simple Taylor is noisy (and motivated deep Taylor).

use super::Explainer;
use crate::model::Model;

const BISECTIONS: usize = 40;
const DOUBLINGS: usize = 30;

impl Explainer {
    /// f_c at pixels `p` (a forward pass).
    fn value_at(&mut self, model: &Model, p: &[f32], class: usize) -> f32 {
        self.forward(model, p);
        self.logits()[class]
    }

    /// Fills `self.map` and `self.root`; returns f_c at the root.
    pub(super) fn simple_taylor(&mut self, model: &Model, pixels: &[f32], class: usize) -> f32 {
        let stage = model.input_stage();
        let f0 = self.logits()[class];
        self.backward(model);
        // gradient with respect to the pixels: interior of the input gradient times the scale
        let mut dir = std::mem::take(&mut self.pix);
        stage.crop(&self.rel[0], &mut dir);
        let plane = stage.height * stage.width;
        let norm2: f32 = dir.chunks(plane).zip(&stage.scale).map(|(d, s)| d.iter().map(|g| g * g).sum::<f32>() * s * s).sum();
        let mut root = std::mem::take(&mut self.root);
        root.copy_from_slice(pixels);
        let mut f_root = f0;
        if f0 != 0.0 && norm2 > 0.0 && norm2.is_finite() {
            for (d, s) in dir.chunks_mut(plane).zip(&stage.scale) {
                d.iter_mut().for_each(|g| *g *= -f0 * s / norm2);
            }
            let point = |t: f32, out: &mut [f32]| out.iter_mut().zip(pixels.iter().zip(&dir)).for_each(|(o, (&x, &d))| *o = x + t * d);
            // bracket: f(lo) has the sign of f0, f(hi) has not (or is ~0)
            let (mut lo, mut hi) = (0.0f32, 1.0f32);
            let mut f_hi;
            let mut found = false;
            for _ in 0..DOUBLINGS {
                point(hi, &mut root);
                f_hi = self.value_at(model, &root, class);
                if f_hi.signum() != f0.signum() || f_hi == 0.0 {
                    found = true;
                    break;
                }
                lo = hi;
                hi *= 2.0;
            }
            if found {
                for _ in 0..BISECTIONS {
                    let mid = 0.5 * (lo + hi);
                    point(mid, &mut root);
                    let fm = self.value_at(model, &root, class);
                    if fm.signum() == f0.signum() && fm != 0.0 {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                point(hi, &mut root);
            }
            f_root = self.value_at(model, &root, class);
        }
        // R = (x - x~) * grad f(x~), in the model's input space
        self.forward(model, &root);
        self.backward(model);
        stage.apply(pixels, &mut self.xin);
        stage.apply(&root, &mut self.xref);
        for (((m, &x), &r), &g) in self.map.iter_mut().zip(&self.xin).zip(&self.xref).zip(&self.rel[0]) {
            *m = (x - r) * g;
        }
        self.root = root;
        self.pix = dir;
        self.forward(model, pixels);
        f_root
    }
}
