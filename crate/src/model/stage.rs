//! The model's fixed input stage: a `C x H x W` input of pixels in [0, 1]; channel `c` maps pixel `x`
//! to `x * scale[c] + shift[c]` (mean/std normalisation is `scale = 1/std`, `shift = -mean/std`), then
//! `pad` pixels of `pad_value` are added on every side. Attributions are taken after this stage.

use super::{Shape, SIDE};
use crate::error::{invalid_model, Result};

/// Largest input side and channel count a model may declare.
pub const MAX_SIDE: usize = 4096;
pub const MAX_CHANNELS: usize = 64;

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct InputStage {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// One value per channel.
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
    pub pad: usize,
    pub pad_value: f32,
}

/// `(pixel - mean) / std` as per-channel `(scale, shift)`: `scale = 1/std`, `shift = -mean/std`.
pub fn mean_std_affine(mean: &[f32], std: &[f32]) -> (Vec<f32>, Vec<f32>) {
    (std.iter().map(|s| 1.0 / s).collect(), mean.iter().zip(std).map(|(m, s)| -m / s).collect())
}

impl Default for InputStage {
    fn default() -> Self {
        InputStage::mnist(1.0, 0.0, 0, 0.0)
    }
}

impl InputStage {
    /// The 1x28x28 stage of the drawing pad, with one scale and shift.
    pub fn mnist(scale: f32, shift: f32, pad: usize, pad_value: f32) -> InputStage {
        InputStage { channels: 1, height: SIDE, width: SIDE, scale: vec![scale], shift: vec![shift], pad, pad_value }
    }
    /// A `c x h x w` stage with per-channel mean and standard deviation (torchvision's `Normalize`).
    pub fn normalize(c: usize, h: usize, w: usize, mean: &[f32], std: &[f32]) -> InputStage {
        let (scale, shift) = mean_std_affine(mean, std);
        InputStage { channels: c, height: h, width: w, scale, shift, pad: 0, pad_value: 0.0 }
    }
    /// The input shape (before padding).
    pub fn input_shape(&self) -> Shape {
        Shape::new(self.channels, self.height, self.width)
    }
    /// Values of one input (before padding).
    pub fn input_len(&self) -> usize {
        self.input_shape().len()
    }
    /// The shape after padding: what the first layer sees.
    pub fn padded_shape(&self) -> Shape {
        Shape::new(self.channels, self.height + 2 * self.pad, self.width + 2 * self.pad)
    }
    /// The value a pixel `p` in [0, 1] of channel `c` takes after normalization.
    pub fn map(&self, c: usize, p: f32) -> f32 {
        p * self.scale[c] + self.shift[c]
    }
    /// Lowest and highest value of a normalized pixel of channel `c` (the box of z^B).
    pub fn bounds(&self, c: usize) -> (f32, f32) {
        let (a, b) = (self.map(c, 0.0), self.map(c, 1.0));
        (a.min(b), a.max(b))
    }
    /// True if every value the stage can produce is >= 0.
    pub fn non_negative(&self) -> bool {
        (0..self.channels).all(|c| self.bounds(c).0 >= 0.0) && (self.pad == 0 || self.pad_value >= 0.0)
    }
    /// Writes the normalized, padded input for `pixels` (CHW) into `out`.
    pub fn apply(&self, pixels: &[f32], out: &mut [f32]) {
        let ps = self.padded_shape();
        let (h, w, p) = (self.height, self.width, self.pad);
        if p > 0 {
            out[..ps.len()].fill(self.pad_value);
        }
        for c in 0..self.channels {
            let (s, t) = (self.scale[c], self.shift[c]);
            for y in 0..h {
                let dst = &mut out[(c * ps.h + y + p) * ps.w + p..][..w];
                for (d, &v) in dst.iter_mut().zip(&pixels[(c * h + y) * w..][..w]) {
                    *d = v * s + t;
                }
            }
        }
    }
    /// Copies the unpadded centre of a padded map into `out`; returns the sum of what lay on the padding.
    pub fn crop(&self, padded: &[f32], out: &mut [f32]) -> f32 {
        let ps = self.padded_shape();
        let (h, w, p) = (self.height, self.width, self.pad);
        let total: f32 = padded[..ps.len()].iter().sum();
        for c in 0..self.channels {
            for y in 0..h {
                out[(c * h + y) * w..][..w].copy_from_slice(&padded[(c * ps.h + y + p) * ps.w + p..][..w]);
            }
        }
        total - out[..self.input_len()].iter().sum::<f32>()
    }
    pub(crate) fn validate(&self) -> Result<()> {
        if self.channels == 0 || self.channels > MAX_CHANNELS || self.height == 0 || self.width == 0 || self.height > MAX_SIDE || self.width > MAX_SIDE {
            return Err(invalid_model(format!(
                "input stage: a {}x{}x{} input (channels 1..={MAX_CHANNELS}, sides 1..={MAX_SIDE})",
                self.channels, self.height, self.width
            )));
        }
        if self.scale.len() != self.channels || self.shift.len() != self.channels {
            return Err(invalid_model(format!("input stage: {} scale and {} shift values for {} channels", self.scale.len(), self.shift.len(), self.channels)));
        }
        if !(self.scale.iter().chain(&self.shift).all(|v| v.is_finite()) && self.pad_value.is_finite()) || self.scale.contains(&0.0) {
            return Err(invalid_model("input stage: scale, shift and pad value must be finite, scale non-zero"));
        }
        if self.pad > 64 {
            return Err(invalid_model(format!("input stage: padding {} is more than 64 pixels", self.pad)));
        }
        Ok(())
    }
}
