//! Occlusion (Zeiler and Fergus 2014), as Captum's `Occlusion` with a zero baseline: a square patch of
//! `patch x patch` pixels (all channels) slides over the input with `stride`, starting at the top-left
//! corner and only where it fits; each position sets the patch to the blank canvas (pixel value 0,
//! through the input stage, as Integrated Gradients' baseline) and runs the model forward. A pixel's
//! attribution is the mean drop of the logit, `f_c(x) - f_c(x with the patch blanked)`, over the
//! positions whose patch covers it; a pixel no patch covers gets 0. Forward passes only: the method
//! needs no backward pass, so it compares LRP with a model-agnostic view.

use super::Explainer;
use crate::error::{invalid_param, Result};
use crate::model::Model;

/// The patch positions along a side of `n` pixels: `0, stride, 2 stride, ...` while the patch fits.
pub(super) fn positions(n: usize, patch: usize, stride: usize) -> usize {
    if patch == 0 || stride == 0 || patch > n {
        0
    } else {
        (n - patch) / stride + 1
    }
}

/// How many positions along a side cover pixel `i`: those starting at a multiple of `stride` in
/// `(i - patch, i]`.
fn covering(i: usize, count: usize, patch: usize, stride: usize) -> usize {
    let first = (i + 1).saturating_sub(patch).div_ceil(stride);
    let last = (i / stride).min(count.saturating_sub(1));
    if count == 0 || first > last {
        0
    } else {
        last - first + 1
    }
}

/// Checks patch and stride against the model's input: both at least 1, the patch at most the shorter
/// side; returns the number of positions (forward passes).
pub(super) fn validate(model: &Model, patch: usize, stride: usize) -> Result<usize> {
    let stage = model.input_stage();
    let side = stage.height.min(stage.width);
    if patch == 0 || patch > side {
        return Err(invalid_param(format!("occlusion: patch must be 1..={side} pixels (the input's shorter side), got {patch}")));
    }
    if stride == 0 || stride > side {
        return Err(invalid_param(format!("occlusion: stride must be 1..={side} pixels, got {stride}")));
    }
    Ok(positions(stage.height, patch, stride) * positions(stage.width, patch, stride))
}

impl Explainer {
    /// `self.map` = the occlusion map of `class` (zero on the stage's padding); leaves the forward pass
    /// at `pixels`.
    pub(super) fn occlusion(&mut self, model: &Model, pixels: &[f32], class: usize, patch: usize, stride: usize) {
        let stage = model.input_stage();
        let (ch, h, w) = (stage.channels, stage.height, stage.width);
        let (ny, nx) = (positions(h, patch, stride), positions(w, patch, stride));
        let f0 = self.logits()[class];
        let mut lv = self.take_level();
        lv.pix.copy_from_slice(pixels);
        // sums of the drops per pixel of one plane (every channel shares its patch)
        let sums = &mut lv.acc[..h * w];
        sums.fill(0.0);
        for py in 0..ny {
            for px in 0..nx {
                let (y0, x0) = (py * stride, px * stride);
                for c in 0..ch {
                    for y in y0..y0 + patch {
                        lv.pix[(c * h + y) * w + x0..][..patch].fill(0.0);
                    }
                }
                self.forward(model, &lv.pix);
                let drop = f0 - self.logits()[class];
                for y in y0..y0 + patch {
                    sums[y * w + x0..][..patch].iter_mut().for_each(|s| *s += drop);
                    for c in 0..ch {
                        let row = (c * h + y) * w + x0;
                        lv.pix[row..row + patch].copy_from_slice(&pixels[row..row + patch]);
                    }
                }
            }
        }
        let ps = stage.padded_shape();
        self.map.fill(0.0);
        for c in 0..ch {
            for y in 0..h {
                let cy = covering(y, ny, patch, stride);
                for x in 0..w {
                    let n = cy * covering(x, nx, patch, stride);
                    if n > 0 {
                        self.map[(c * ps.h + y + stage.pad) * ps.w + x + stage.pad] = sums[y * w + x] / n as f32;
                    }
                }
            }
        }
        self.levels.push(lv);
        self.forward(model, pixels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_covering_count_the_patches() {
        // 28 pixels, patch 4, stride 2: starts 0, 2, ..., 24
        assert_eq!(positions(28, 4, 2), 13);
        assert_eq!(positions(28, 28, 1), 1);
        assert_eq!(positions(28, 29, 1), 0);
        assert_eq!(positions(5, 2, 3), 2); // starts 0, 3
        for (n, patch, stride) in [(28, 4, 2), (28, 3, 5), (7, 7, 1), (10, 1, 1), (9, 4, 4), (28, 5, 3)] {
            let count = positions(n, patch, stride);
            for i in 0..n {
                let brute = (0..count).filter(|k| k * stride <= i && i < k * stride + patch).count();
                assert_eq!(covering(i, count, patch, stride), brute, "n {n} patch {patch} stride {stride} pixel {i}");
            }
        }
    }
}
