//! Relevance to colours: a diverging map symmetric around zero (red positive, blue negative, white at
//! zero, as Zennit's `bwr`), and a colour-blind-safe alternative (ColorBrewer PuOr: orange positive,
//! purple negative). Values are scaled by `max |R|` (or a shared scale for several heatmaps).

/// Which colour map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColorMap {
    /// blue - white - red
    BlueWhiteRed,
    /// purple - white - orange (ColorBrewer PuOr, safe for the common colour-vision deficiencies)
    PurpleOrange,
}

impl ColorMap {
    pub fn from_name(name: &str) -> Option<ColorMap> {
        match name {
            "bwr" | "blue-white-red" => Some(ColorMap::BlueWhiteRed),
            "puor" | "purple-orange" | "colorblind" => Some(ColorMap::PurpleOrange),
            _ => None,
        }
    }
    /// Colour of `t` in [-1, 1].
    pub fn rgb(&self, t: f32) -> [u8; 3] {
        let t = if t.is_finite() { t.clamp(-1.0, 1.0) } else { 0.0 };
        let (neg, pos): ([f32; 3], [f32; 3]) = match self {
            ColorMap::BlueWhiteRed => ([0.0, 0.0, 255.0], [255.0, 0.0, 0.0]),
            ColorMap::PurpleOrange => ([84.0, 39.0, 136.0], [179.0, 88.0, 6.0]),
        };
        let end = if t < 0.0 { neg } else { pos };
        let a = t.abs();
        let mix = |i: usize| (255.0 * (1.0 - a) + end[i] * a).round() as u8;
        [mix(0), mix(1), mix(2)]
    }
}

/// The largest absolute value (the symmetric scale), 0 for an empty or all-zero map.
pub fn max_abs(values: &[f32]) -> f32 {
    values.iter().filter(|v| v.is_finite()).fold(0.0f32, |m, v| m.max(v.abs()))
}

/// RGBA pixels for `values` scaled by `scale` (values beyond it saturate). With `alpha_by_magnitude`,
/// alpha is `sqrt(|value| / scale)` (for overlays: weak relevance stays visible); otherwise opaque.
pub fn colorize(values: &[f32], scale: f32, map: ColorMap, alpha_by_magnitude: bool, out: &mut Vec<u8>) {
    out.clear();
    let inv = if scale > 0.0 && scale.is_finite() { 1.0 / scale } else { 0.0 };
    for &v in values {
        let t = (v * inv).clamp(-1.0, 1.0);
        let [r, g, b] = map.rgb(t);
        let a = if alpha_by_magnitude { (t.abs().sqrt() * 255.0).round() as u8 } else { 255 };
        out.extend_from_slice(&[r, g, b, a]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_white_and_the_ends_are_the_map_colours() {
        for m in [ColorMap::BlueWhiteRed, ColorMap::PurpleOrange] {
            assert_eq!(m.rgb(0.0), [255, 255, 255]);
            assert_ne!(m.rgb(1.0), m.rgb(-1.0));
        }
        assert_eq!(ColorMap::BlueWhiteRed.rgb(1.0), [255, 0, 0]);
        assert_eq!(ColorMap::BlueWhiteRed.rgb(-1.0), [0, 0, 255]);
        assert_eq!(ColorMap::BlueWhiteRed.rgb(f32::NAN), [255, 255, 255]);
    }

    #[test]
    fn colorize_is_symmetric_and_saturates() {
        let mut out = Vec::new();
        colorize(&[2.0, -2.0, 0.0, 10.0, 0.5], 2.0, ColorMap::BlueWhiteRed, true, &mut out);
        assert_eq!(out[19], 128, "alpha of a quarter of the scale is sqrt(1/4)");
        assert_eq!(&out[0..4], &[255, 0, 0, 255]);
        assert_eq!(&out[4..8], &[0, 0, 255, 255]);
        assert_eq!(&out[8..12], &[255, 255, 255, 0]);
        assert_eq!(&out[12..16], &[255, 0, 0, 255]);
        colorize(&[1.0], 0.0, ColorMap::BlueWhiteRed, false, &mut out);
        assert_eq!(out, vec![255, 255, 255, 255]);
    }
}
