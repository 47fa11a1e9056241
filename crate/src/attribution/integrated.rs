//! Integrated Gradients (Sundararajan et al. 2017): `(x - x') * mean_{k=1..m} grad f(x' + k/m (x - x'))`,
//! right Riemann sum as Zennit, baseline x' = the blank canvas (pixel value 0) through the input stage.
//! The input stage is affine, so the path is walked in pixel space.

use super::Explainer;
use crate::model::Model;

impl Explainer {
    pub(super) fn integrated_gradients(&mut self, model: &Model, pixels: &[f32], steps: usize) {
        self.acc.fill(0.0);
        for k in 1..=steps {
            let t = k as f32 / steps as f32;
            for (p, &x) in self.pix.iter_mut().zip(pixels) {
                *p = t * x;
            }
            let pix = std::mem::take(&mut self.pix);
            self.forward(model, &pix);
            self.pix = pix;
            self.backward(model);
            self.acc.iter_mut().zip(&self.rel[0]).for_each(|(a, g)| *a += g);
        }
        let stage = model.input_stage();
        stage.apply(pixels, &mut self.xin);
        self.pix.fill(0.0);
        stage.apply(&self.pix, &mut self.xref);
        let m = steps as f32;
        for (((out, &a), &x), &b) in self.map.iter_mut().zip(&self.acc).zip(&self.xin).zip(&self.xref) {
            *out = (x - b) * a / m;
        }
        self.forward(model, pixels);
    }
}
