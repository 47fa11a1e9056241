//! Gradient, Sensitivity (squared gradient) and Gradient x Input: one backward pass each.

use super::{Explainer, Method};
use crate::model::Model;

impl Explainer {
    /// `self.map` = the method's attribution from the gradient of `start . logits` at the current forward pass.
    pub(super) fn gradient_family(&mut self, model: &Model, method: &Method) {
        self.backward(model);
        let (g, x) = (&self.rel[0], &self.acts[0]);
        for ((m, &gi), &xi) in self.map.iter_mut().zip(g).zip(x) {
            *m = match method {
                Method::Sensitivity => gi * gi,
                Method::GradientXInput => xi * gi,
                _ => gi,
            };
        }
    }
}

impl Explainer {
    /// Gradient x Input of the softmax probability `p_c` instead of the logit (what the conventions say
    /// not to explain): `x * dp_c/dx` with `dp_c/df = p_c (e_c - p)`. When the model is sure (`p_c` near 1)
    /// the softmax saturates and this map fades to nothing, whatever the evidence: the teaching panel's
    /// "why we explain logits". Returns 28x28 values.
    pub fn softmax_gradient_x_input(&mut self, model: &Model, pixels: &[f32], class: usize) -> crate::Result<Vec<f32>> {
        self.predict(model, pixels)?;
        if class >= model.classes() {
            return Err(crate::LrpError::TargetOutOfRange { target: class, classes: model.classes() });
        }
        let p = self.last().probabilities.clone();
        for (k, s) in self.start.iter_mut().enumerate() {
            *s = p[class] * (if k == class { 1.0 } else { 0.0 } - p[k]);
        }
        self.backward(model);
        let mut padded = vec![0.0; self.rel[0].len()];
        padded.iter_mut().zip(self.rel[0].iter().zip(&self.acts[0])).for_each(|(m, (g, x))| *m = g * x);
        let mut out = vec![0.0; crate::model::PIXELS];
        model.input_stage().crop(&padded, &mut out);
        Ok(out)
    }
}
