//! Pixel flipping (Samek et al. 2017): order the pixels by relevance, most relevant first, replace them
//! `per_step` at a time by the blank-canvas value (pixel 0), and record the target logit after each step.
//! The area over the perturbation curve, `AOPC = 1/(L+1) sum_{k=0..L} (f(x^(0)) - f(x^(k)))`, measures
//! how well a heatmap finds what the model uses; a random order is the baseline every method should beat.

use crate::attribution::Explainer;
use crate::error::{invalid_param, Result};
use crate::model::Model;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// One perturbation curve.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FlipCurve {
    /// `f_c` before any flip, then after each of the `steps` steps.
    pub values: Vec<f32>,
    pub aopc: f32,
}

#[allow(clippy::too_many_arguments)]
fn curve(
    ex: &mut Explainer,
    model: &Model,
    pixels: &[f32],
    order: &[usize],
    class: usize,
    per_step: usize,
    steps: usize,
    buf: &mut Vec<f32>,
) -> Result<FlipCurve> {
    buf.clear();
    buf.extend_from_slice(pixels);
    let mut values = Vec::with_capacity(steps + 1);
    values.push(ex.predict(model, buf)?.logits[class]);
    for s in 0..steps {
        for &i in order.iter().skip(s * per_step).take(per_step) {
            buf[i] = 0.0;
        }
        values.push(ex.predict(model, buf)?.logits[class]);
    }
    let f0 = values[0];
    let aopc = values.iter().map(|v| f0 - v).sum::<f32>() / values.len() as f32;
    Ok(FlipCurve { values, aopc })
}

fn check(pixels: &[f32], class: usize, model: &Model, per_step: usize, steps: usize) -> Result<()> {
    let n = model.input_len();
    crate::attribution::validate_pixels(pixels, n)?;
    if pixels.len() != n {
        return Err(invalid_param(format!("pixel flipping takes one input of {n} values, got {}", pixels.len())));
    }
    if class >= model.classes() {
        return Err(crate::LrpError::TargetOutOfRange { target: class, classes: model.classes() });
    }
    if per_step == 0 || steps == 0 || per_step.saturating_mul(steps) > n {
        return Err(invalid_param(format!("pixel flipping: {steps} steps of {per_step} pixels must be at least one pixel and at most {n}")));
    }
    Ok(())
}

/// The curve for flipping pixels in the order of `relevance` (one value per input value, most relevant
/// first; ties keep pixel order, so the result is deterministic).
pub fn pixel_flipping(ex: &mut Explainer, model: &Model, pixels: &[f32], relevance: &[f32], class: usize, per_step: usize, steps: usize) -> Result<FlipCurve> {
    check(pixels, class, model, per_step, steps)?;
    let n = model.input_len();
    if relevance.len() != n || relevance.iter().any(|r| !r.is_finite()) {
        return Err(invalid_param(format!("pixel flipping needs {n} finite relevance values")));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| relevance[b].total_cmp(&relevance[a]));
    curve(ex, model, pixels, &order, class, per_step, steps, &mut Vec::with_capacity(n))
}

/// The baseline: the mean curve of `repeats` random orders from a seeded generator.
#[allow(clippy::too_many_arguments)]
pub fn random_flipping(
    ex: &mut Explainer,
    model: &Model,
    pixels: &[f32],
    class: usize,
    per_step: usize,
    steps: usize,
    repeats: usize,
    seed: u64,
) -> Result<FlipCurve> {
    check(pixels, class, model, per_step, steps)?;
    let repeats = repeats.clamp(1, 64);
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..model.input_len()).collect();
    let mut buf = Vec::with_capacity(model.input_len());
    let mut mean = FlipCurve { values: vec![0.0; steps + 1], aopc: 0.0 };
    for _ in 0..repeats {
        order.shuffle(&mut rng);
        let c = curve(ex, model, pixels, &order, class, per_step, steps, &mut buf)?;
        mean.values.iter_mut().zip(&c.values).for_each(|(m, v)| *m += v / repeats as f32);
        mean.aopc += c.aopc / repeats as f32;
    }
    Ok(mean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{random_pixels, tiny_cnn};
    use crate::{Method, Params, Query};

    #[test]
    fn the_curve_starts_at_the_logit_and_ends_at_the_blank_canvas() {
        let model = tiny_cnn(1, true);
        let mut ex = Explainer::new(&model);
        let x = random_pixels(2);
        let rel: Vec<f32> = (0..784).map(|i| i as f32).collect();
        let c = pixel_flipping(&mut ex, &model, &x, &rel, 3, 49, 16).unwrap();
        assert_eq!(c.values.len(), 17);
        assert_eq!(c.values[0], ex.predict(&model, &x).unwrap().logits[3]);
        assert_eq!(c.values[16], ex.predict(&model, &[0.0; 784]).unwrap().logits[3]);
        let f0 = c.values[0];
        let aopc = c.values.iter().map(|v| f0 - v).sum::<f32>() / 17.0;
        assert!((c.aopc - aopc).abs() < 1e-6);
    }

    #[test]
    fn lrp_beats_a_random_order_and_a_reversed_heatmap_loses() {
        let model = tiny_cnn(3, true);
        let mut ex = Explainer::new(&model);
        let x = random_pixels(4);
        let m = Method::from_name("lrp-0", &model, &Params::default()).unwrap();
        let e = ex.explain(&model, &x, &m, &Query::default()).unwrap().clone();
        let good = pixel_flipping(&mut ex, &model, &x, &e.heatmap, e.target, 8, 20).unwrap();
        let rand = random_flipping(&mut ex, &model, &x, e.target, 8, 20, 8, 1).unwrap();
        let neg: Vec<f32> = e.heatmap.iter().map(|v| -v).collect();
        let bad = pixel_flipping(&mut ex, &model, &x, &neg, e.target, 8, 20).unwrap();
        assert!(good.aopc > rand.aopc, "LRP {} vs random {}", good.aopc, rand.aopc);
        assert!(bad.aopc < rand.aopc, "reversed {} vs random {}", bad.aopc, rand.aopc);
    }

    #[test]
    fn invalid_settings_are_errors() {
        let model = tiny_cnn(1, true);
        let mut ex = Explainer::new(&model);
        let x = random_pixels(1);
        let rel = vec![0.0; 784];
        assert!(pixel_flipping(&mut ex, &model, &x, &rel, 3, 0, 10).is_err());
        assert!(pixel_flipping(&mut ex, &model, &x, &rel, 3, 100, 10).is_err());
        assert!(pixel_flipping(&mut ex, &model, &x, &rel, 30, 1, 10).is_err());
        assert!(pixel_flipping(&mut ex, &model, &x, &rel[..10], 3, 1, 10).is_err());
        assert!(random_flipping(&mut ex, &model, &x[..5], 3, 1, 10, 2, 0).is_err());
    }
}
