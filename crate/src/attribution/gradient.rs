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
