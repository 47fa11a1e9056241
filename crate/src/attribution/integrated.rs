//! Integrated Gradients (Sundararajan et al. 2017) over any base method:
//! `(x - x') * mean_{k=1..m} base(x' + k/m (x - x'))`, right Riemann sum as Zennit, baseline x' = the
//! blank canvas (pixel value 0) through the input stage. With the gradient as base this is Integrated
//! Gradients; with an LRP composite, Zennit's `IntegratedGradients` with that composite. The input
//! stage is affine, so the path is walked in pixel space.

use super::{Explainer, Method};
use crate::model::Model;

impl Explainer {
    /// `self.map` = the path average of `base`'s map times `x - x'`; leaves the forward pass at `pixels`.
    pub(super) fn integrated(&mut self, model: &Model, pixels: &[f32], base: &Method, class: usize, normalize: bool, steps: usize) {
        let mut lv = self.take_level();
        lv.acc.fill(0.0);
        for k in 1..=steps {
            let t = k as f32 / steps as f32;
            for (p, &x) in lv.pix.iter_mut().zip(pixels) {
                *p = t * x;
            }
            self.forward(model, &lv.pix);
            self.attribute(model, &lv.pix, base, class, normalize);
            lv.acc.iter_mut().zip(&self.map).for_each(|(a, m)| *a += m);
        }
        let stage = model.input_stage();
        stage.apply(pixels, &mut self.xin);
        lv.pix.fill(0.0);
        stage.apply(&lv.pix, &mut self.xref);
        let m = steps as f32;
        for (((out, &a), &x), &b) in self.map.iter_mut().zip(&lv.acc).zip(&self.xin).zip(&self.xref) {
            *out = (x - b) * a / m;
        }
        self.levels.push(lv);
        self.forward(model, pixels);
    }
}
