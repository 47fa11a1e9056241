//! Sanity checks for saliency maps (Adebayo et al. 2018): the cascading randomisation of the model's
//! weights from the output layer down. Step 0 is the trained model; step `k` re-initialises the top `k`
//! layers with weights (dense, convolution, LSTM) the way training starts (He-uniform weights for dense
//! and convolution layers, PyTorch's uniform ±1/sqrt(H) for an LSTM; zero biases); the last step has every
//! layer re-initialised: the data-independent baseline. At each step every method explains the class the
//! trained model predicts, and its map is compared with the method's map on the trained model by the
//! three measures of the paper: the Spearman rank correlation of the maps, of their absolute values, and
//! SSIM of the absolute maps scaled to [0, 1]. A method whose maps stay similar while the weights become
//! random does not explain the model. (On digits, the methods that multiply by the input give every blank
//! pixel exactly 0 at every step, so the absolute measures stay high for them: the signed rank
//! correlation is the one that shows the change.)

use crate::attribution::{Explainer, Method, Query};
use crate::error::{LrpError, Result};
use crate::model::{Layer, Model};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

/// One step of the cascade: which layers are random, and per method its map and its similarity to the
/// trained model's map.
#[derive(Clone, Debug, Serialize)]
pub struct SanityStep {
    /// The re-initialised layers, top first (empty for the trained model).
    pub randomized: Vec<String>,
    #[serde(skip)]
    pub maps: Vec<Vec<f32>>,
    /// Spearman rank correlation of the map with the trained model's map, per method.
    pub spearman: Vec<f32>,
    /// The same of the absolute values.
    pub spearman_abs: Vec<f32>,
    /// SSIM of the absolute maps, each scaled by its maximum, per method.
    pub ssim: Vec<f32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SanityReport {
    pub methods: Vec<String>,
    /// The class explained at every step (the trained model's prediction unless one is asked for).
    pub target: usize,
    pub steps: Vec<SanityStep>,
}

/// The nodes with weights, from the output down, with a name for each ("dense 4").
pub fn weighted_layers(model: &Model) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = model
        .layers()
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l, Layer::Dense(_) | Layer::Conv2d(_) | Layer::Lstm(_)))
        .map(|(k, l)| (k, format!("{} {k}", l.kind())))
        .collect();
    out.reverse();
    out
}

fn uniform(r: &mut Pcg64Mcg, values: &mut [f32], bound: f32) {
    values.iter_mut().for_each(|v| *v = r.gen_range(-bound..bound));
}

/// `model` with its top `count` weighted layers re-initialised (seeded; see the module).
pub fn randomized(model: &Model, count: usize, seed: u64) -> Model {
    let nodes: Vec<usize> = weighted_layers(model).into_iter().take(count).map(|(k, _)| k).collect();
    let mut out = model.clone();
    out.update_layers(|layers| {
        for &k in &nodes {
            let mut r = Pcg64Mcg::seed_from_u64(seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            match &mut layers[k] {
                Layer::Dense(d) => {
                    let fan_in = d.weight.dim().1;
                    uniform(&mut r, d.weight.as_slice_mut().expect("standard layout"), (6.0 / fan_in as f32).sqrt());
                    d.bias.fill(0.0);
                }
                Layer::Conv2d(c) => {
                    let (_, ic, kh, kw) = c.weight.dim();
                    uniform(&mut r, c.weight.as_slice_mut().expect("standard layout"), (6.0 / (ic * kh * kw) as f32).sqrt());
                    c.bias.fill(0.0);
                }
                Layer::Lstm(l) => {
                    let b = 1.0 / (l.hidden as f32).sqrt();
                    uniform(&mut r, &mut l.weights, b);
                    l.biases.fill(0.0);
                }
                _ => {}
            }
        }
    });
    out
}

/// Ranks of `v` (0-based, ties get the mean of their ranks).
fn ranks(v: &[f32]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0;
        order[i..=j].iter().for_each(|&k| out[k] = mean);
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation (Pearson's on the ranks, ties averaged); 0 when either is constant.
pub fn spearman(a: &[f32], b: &[f32]) -> f32 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        (sab / (saa * sbb).sqrt()) as f32
    }
}

/// The window side of [`ssim`] (scikit-image's default).
pub const SSIM_WINDOW: usize = 7;

/// The structural similarity of two `h x w` images with values in [0, 1] (Wang et al. 2004), as
/// scikit-image's `structural_similarity(data_range=1)`: 7x7 uniform windows, sample covariances,
/// K1 = 0.01, K2 = 0.03, the mean over the windows that lie inside the image. Images smaller than a
/// window are compared as one window.
pub fn ssim(a: &[f32], b: &[f32], h: usize, w: usize) -> f32 {
    let (wy, wx) = (SSIM_WINDOW.min(h), SSIM_WINDOW.min(w));
    let np = (wy * wx) as f64;
    let cov_norm = if np > 1.0 { np / (np - 1.0) } else { 1.0 };
    let (c1, c2) = (0.01f64 * 0.01, 0.03f64 * 0.03);
    let mut total = 0.0;
    for y0 in 0..=h - wy {
        for x0 in 0..=w - wx {
            let (mut ma, mut mb, mut aa, mut bb, mut ab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for y in y0..y0 + wy {
                for x in x0..x0 + wx {
                    let (p, q) = (a[y * w + x] as f64, b[y * w + x] as f64);
                    ma += p;
                    mb += q;
                    aa += p * p;
                    bb += q * q;
                    ab += p * q;
                }
            }
            let (ma, mb) = (ma / np, mb / np);
            let va = cov_norm * (aa / np - ma * ma);
            let vb = cov_norm * (bb / np - mb * mb);
            let vab = cov_norm * (ab / np - ma * mb);
            total += ((2.0 * ma * mb + c1) * (2.0 * vab + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
        }
    }
    (total / ((h - wy + 1) * (w - wx + 1)) as f64) as f32
}

/// The map summed over the channels into one `h x w` plane.
fn plane(map: &[f32], plane: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; plane];
    for c in map.chunks_exact(plane) {
        out.iter_mut().zip(c).for_each(|(o, v)| *o += v);
    }
    out
}

/// |plane| scaled by its maximum (all zero stays zero).
fn magnitude(plane: &[f32]) -> Vec<f32> {
    let mut out: Vec<f32> = plane.iter().map(|v| v.abs()).collect();
    let m = out.iter().copied().fold(0.0f32, f32::max);
    if m > 0.0 {
        out.iter_mut().for_each(|v| *v /= m);
    }
    out
}

/// Runs the cascade on one input (see the module) for `methods` (built for `model`).
pub fn cascade(model: &Model, pixels: &[f32], methods: &[(String, Method)], target: Option<usize>, seed: u64) -> Result<SanityReport> {
    if methods.is_empty() {
        return Err(LrpError::InvalidParameter("the sanity check needs at least one method".into()));
    }
    let stage = model.input_stage();
    let (h, w) = (stage.height, stage.width);
    let mut ex = Explainer::new(model);
    let target = match target {
        Some(t) => t,
        None => ex.predict(model, pixels)?.prediction,
    };
    let query = Query { target: Some(target), ..Query::default() };
    let layers = weighted_layers(model);
    let mut steps: Vec<SanityStep> = Vec::with_capacity(layers.len() + 1);
    // per method: the trained model's plane and its magnitude
    let mut reference: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
    for k in 0..=layers.len() {
        let m = if k == 0 { model.clone() } else { randomized(model, k, seed) };
        let randomized = layers[..k].iter().map(|(_, n)| n.clone()).collect();
        let mut step = SanityStep { randomized, maps: Vec::new(), spearman: Vec::new(), spearman_abs: Vec::new(), ssim: Vec::new() };
        for (i, (_, method)) in methods.iter().enumerate() {
            let map = ex.explain(&m, pixels, method, &query)?.heatmap.clone();
            let p = plane(&map, h * w);
            let mag = magnitude(&p);
            if k == 0 {
                reference.push((p.clone(), mag.clone()));
            }
            let (rp, rm) = &reference[i];
            step.spearman.push(spearman(&p, rp));
            step.spearman_abs.push(spearman(&mag, rm));
            step.ssim.push(ssim(&mag, rm, h, w));
            step.maps.push(map);
        }
        steps.push(step);
    }
    Ok(SanityReport { methods: methods.iter().map(|(n, _)| n.clone()).collect(), target, steps })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[3.0, 1.0, 2.0]), [2.0, 0.0, 1.0]);
        assert_eq!(ranks(&[1.0, 5.0, 5.0, 0.0]), [1.0, 2.5, 2.5, 0.0]);
    }
}
