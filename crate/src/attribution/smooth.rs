//! SmoothGrad (Smilkov et al. 2017): the mean gradient at `x + N(0, sigma^2)`, `sigma` a fraction of the
//! input range (pixels span [0, 1]), noise from a seeded PCG generator so results are reproducible.

use super::Explainer;
use crate::model::Model;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

impl Explainer {
    pub(super) fn smoothgrad(&mut self, model: &Model, pixels: &[f32], samples: usize, sigma: f32, seed: u64) {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
        let normal = Normal::new(0.0f32, sigma).expect("sigma validated finite and >= 0");
        self.acc.fill(0.0);
        for _ in 0..samples {
            for (p, &x) in self.pix.iter_mut().zip(pixels) {
                *p = x + normal.sample(&mut rng);
            }
            let pix = std::mem::take(&mut self.pix);
            self.forward(model, &pix);
            self.pix = pix;
            self.backward(model);
            self.acc.iter_mut().zip(&self.rel[0]).for_each(|(a, g)| *a += g);
        }
        let n = samples as f32;
        self.map.iter_mut().zip(&self.acc).for_each(|(m, a)| *m = a / n);
        self.forward(model, pixels);
    }
}
