//! SmoothGrad (Smilkov et al. 2017) over any base method: the mean of the base's attribution at
//! `x + N(0, sigma^2)`, `sigma` a fraction of the input range (pixels span [0, 1]), noise from a seeded
//! PCG generator so results are reproducible. With the gradient as base this is SmoothGrad; with an
//! LRP composite, the relevance averaged over noisy copies (Zennit's `SmoothGrad` with a composite).

use super::{Explainer, Method};
use crate::model::Model;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

impl Explainer {
    /// `self.map` = mean of `base`'s map over `samples` noisy copies of `pixels`; leaves the forward
    /// pass at `pixels`.
    pub(super) fn smooth(&mut self, model: &Model, pixels: &[f32], base: &Method, class: usize, normalize: bool, (samples, sigma, seed): (usize, f32, u64)) {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
        let normal = Normal::new(0.0f32, sigma).expect("sigma validated finite and >= 0");
        let mut lv = self.take_level();
        lv.acc.fill(0.0);
        for _ in 0..samples {
            for (p, &x) in lv.pix.iter_mut().zip(pixels) {
                *p = x + normal.sample(&mut rng);
            }
            self.forward(model, &lv.pix);
            self.attribute(model, &lv.pix, base, class, normalize);
            lv.acc.iter_mut().zip(&self.map).for_each(|(a, m)| *a += m);
        }
        let n = samples as f32;
        self.map.iter_mut().zip(&lv.acc).for_each(|(m, a)| *m = a / n);
        self.levels.push(lv);
        self.forward(model, pixels);
    }
}
