//! A drawing (any size, RGBA or grey, either polarity) to a 28x28 input the way MNIST was made
//! (LeCun et al.): the ink's bounding box is scaled to fit 20x20 keeping its aspect ratio, with
//! area-averaging (anti-aliased), and placed in the 28x28 field so that its centre of mass is at the
//! centre. [`Transform`] maps the 28x28 grid back onto the drawing, so heatmaps can be overlaid on the ink.

use crate::model::{PIXELS, SIDE};

/// Ink above this level counts for the bounding box.
pub const INK_THRESHOLD: f32 = 0.05;
/// The box the digit is scaled into.
pub const BOX: usize = 20;

/// Where the 28x28 grid lies on the source drawing: source `(x, y)` = `(src_x + (u - dst_x) / scale,
/// src_y + (v - dst_y) / scale)` for grid coordinates `(u, v)` (pixel edges, not centres).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Transform {
    pub scale: f32,
    pub src_x: f32,
    pub src_y: f32,
    pub dst_x: f32,
    pub dst_y: f32,
}

impl Transform {
    /// Source coordinates of grid point `(u, v)`.
    pub fn to_source(&self, u: f32, v: f32) -> (f32, f32) {
        (self.src_x + (u - self.dst_x) / self.scale, self.src_y + (v - self.dst_y) / self.scale)
    }
}

/// The result of preprocessing: 28x28 pixels in [0, 1] (ink = 1) and the transform; `None` transform
/// when there was no ink (an empty canvas: nothing to explain).
#[derive(Clone, Debug, PartialEq)]
pub struct Preprocessed {
    pub pixels: Vec<f32>,
    pub transform: Option<Transform>,
}

/// Ink per pixel from RGBA bytes: composited over white, then inverted if the background (the border)
/// is light, so dark-on-light and light-on-dark drawings both give ink = 1.
pub fn ink_from_rgba(rgba: &[u8], width: usize, height: usize) -> Vec<f32> {
    let mut ink = Vec::new();
    ink_from_rgba_into(rgba, width, height, &mut ink);
    ink
}

/// [`ink_from_rgba`] into a reused buffer.
pub fn ink_from_rgba_into(rgba: &[u8], width: usize, height: usize, ink: &mut Vec<f32>) {
    ink.clear();
    ink.extend(rgba.chunks_exact(4).take(width * height).map(|p| {
        let a = p[3] as f32 / 255.0;
        let lum = (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0;
        a * lum + (1.0 - a)
    }));
    grey_to_ink(ink, width, height);
}

/// Ink from grey values in [0, 1], polarity detected from the border.
pub fn ink_from_grey(grey: &[f32], width: usize, height: usize) -> Vec<f32> {
    let mut ink = grey.to_vec();
    grey_to_ink(&mut ink, width, height);
    ink
}

fn grey_to_ink(v: &mut [f32], width: usize, height: usize) {
    let mut border = 0.0f32;
    let mut n = 0usize;
    for y in 0..height {
        for x in 0..width {
            if x == 0 || y == 0 || x + 1 == width || y + 1 == height {
                border += v[y * width + x];
                n += 1;
            }
        }
    }
    let light_background = n > 0 && border / n as f32 > 0.5;
    v.iter_mut().for_each(|g| *g = if light_background { 1.0 - *g } else { *g }.clamp(0.0, 1.0));
}

/// Area-averaging weights of a 1-d resampling: output cell `i` covers source `[start + i*step, start + (i+1)*step)`.
fn resample_1d(src_len: usize, start: f32, step: f32, out_len: usize, mut f: impl FnMut(usize, usize, f32)) {
    for i in 0..out_len {
        let (a, b) = (start + i as f32 * step, start + (i + 1) as f32 * step);
        let (lo, hi) = (a.floor().max(0.0) as usize, (b.ceil() as usize).min(src_len));
        for s in lo..hi {
            let overlap = (b.min(s as f32 + 1.0) - a.max(s as f32)).max(0.0);
            if overlap > 0.0 {
                f(i, s, overlap / step);
            }
        }
    }
}

/// MNIST-style preprocessing of ink values (`width * height`, ink = 1).
pub fn preprocess_ink(ink: &[f32], width: usize, height: usize) -> Preprocessed {
    let mut pixels = vec![0.0f32; PIXELS];
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..height {
        for x in 0..width {
            if ink[y * width + x] > INK_THRESHOLD {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
    }
    if x0 == usize::MAX {
        return Preprocessed { pixels, transform: None };
    }
    let (bw, bh) = (x1 - x0, y1 - y0);
    let scale = BOX as f32 / bw.max(bh) as f32;
    let (sw, sh) = (((bw as f32 * scale).round() as usize).clamp(1, BOX), ((bh as f32 * scale).round() as usize).clamp(1, BOX));
    let (step_x, step_y) = (bw as f32 / sw as f32, bh as f32 / sh as f32);
    // separable area averaging: rows first, then columns
    let mut rows = vec![0.0f32; bh * sw];
    for y in 0..bh {
        let src = &ink[(y0 + y) * width..(y0 + y + 1) * width];
        resample_1d(width, x0 as f32, step_x, sw, |i, s, w| rows[y * sw + i] += w * src[s]);
    }
    let mut small = vec![0.0f32; sh * sw];
    resample_1d(bh, 0.0, step_y, sh, |j, s, w| {
        for i in 0..sw {
            small[j * sw + i] += w * rows[s * sw + i];
        }
    });
    let peak = small.iter().copied().fold(0.0f32, f32::max);
    if peak > 0.0 {
        small.iter_mut().for_each(|v| *v = (*v / peak).min(1.0));
    }
    // centre of mass (pixel centres at +0.5) to the centre of the field
    let (mut m, mut mx, mut my) = (0.0f32, 0.0f32, 0.0f32);
    for j in 0..sh {
        for i in 0..sw {
            let v = small[j * sw + i];
            m += v;
            mx += v * (i as f32 + 0.5);
            my += v * (j as f32 + 0.5);
        }
    }
    let (cx, cy) = if m > 0.0 { (mx / m, my / m) } else { (sw as f32 / 2.0, sh as f32 / 2.0) };
    let half = SIDE as f32 / 2.0;
    let (ox, oy) = ((half - cx).round() as isize, (half - cy).round() as isize);
    for j in 0..sh {
        for i in 0..sw {
            let (u, v) = (i as isize + ox, j as isize + oy);
            if (0..SIDE as isize).contains(&u) && (0..SIDE as isize).contains(&v) {
                pixels[v as usize * SIDE + u as usize] = small[j * sw + i];
            }
        }
    }
    let transform = Transform { scale: sw as f32 / bw as f32, src_x: x0 as f32, src_y: y0 as f32, dst_x: ox as f32, dst_y: oy as f32 };
    Preprocessed { pixels, transform: Some(transform) }
}

/// [`preprocess_ink`] of an RGBA drawing.
pub fn preprocess_rgba(rgba: &[u8], width: usize, height: usize) -> Preprocessed {
    preprocess_ink(&ink_from_rgba(rgba, width, height), width, height)
}

/// [`preprocess_rgba`] with a reused buffer for the ink (the page calls it on every pointer move).
pub fn preprocess_rgba_with(rgba: &[u8], width: usize, height: usize, ink: &mut Vec<f32>) -> Preprocessed {
    ink_from_rgba_into(rgba, width, height, ink);
    preprocess_ink(ink, width, height)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 100x60 canvas with a filled rectangle of ink from (30, 10) to (50, 50).
    fn bar() -> Vec<f32> {
        let (w, h) = (100, 60);
        let mut ink = vec![0.0; w * h];
        for y in 10..50 {
            for x in 30..50 {
                ink[y * w + x] = 1.0;
            }
        }
        ink
    }

    #[test]
    fn the_ink_box_fits_20_pixels_and_is_centred_by_mass() {
        let p = preprocess_ink(&bar(), 100, 60);
        // 20x40 box -> 10x20 in the field, centre of mass (5, 10) moved to (14, 14): columns 9..19, rows 4..24
        let on: Vec<usize> = (0..784).filter(|&i| p.pixels[i] > 0.0).collect();
        assert_eq!(on.len(), 200);
        assert_eq!(on.iter().map(|i| i % 28).min(), Some(9));
        assert_eq!(on.iter().map(|i| i % 28).max(), Some(18));
        assert_eq!(on.iter().map(|i| i / 28).min(), Some(4));
        assert_eq!(on.iter().map(|i| i / 28).max(), Some(23));
        assert!(on.iter().all(|&i| (p.pixels[i] - 1.0).abs() < 1e-6));
        let t = p.transform.unwrap();
        assert_eq!(t.scale, 0.5);
        // grid corner (9, 4) maps back to the ink's corner (30, 10)
        assert_eq!(t.to_source(9.0, 4.0), (30.0, 10.0));
        assert_eq!(t.to_source(19.0, 24.0), (50.0, 50.0));
    }

    #[test]
    fn area_averaging_antialiases_and_conserves_ink_mass() {
        // a single thin line, 1 px wide and 60 px long, scaled by 1/3: grey values, not on/off
        let (w, h) = (80, 80);
        let mut ink = vec![0.0; w * h];
        for y in 10..70 {
            ink[y * w + 40] = 1.0;
        }
        let p = preprocess_ink(&ink, w, h);
        assert!(p.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
        let total: f32 = p.pixels.iter().sum();
        assert!(total > 19.0 && total < 21.0, "a 1x60 line becomes a 1x20 column: {total}");
    }

    #[test]
    fn an_empty_canvas_has_no_transform() {
        let p = preprocess_ink(&[0.0; 400], 20, 20);
        assert!(p.transform.is_none());
        assert!(p.pixels.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn polarity_is_detected_from_the_border() {
        // dark ink on white and white ink on black give the same ink
        let mut light = vec![255u8; 10 * 10 * 4];
        let mut dark = vec![0u8; 10 * 10 * 4];
        for px in dark.chunks_exact_mut(4) {
            px[3] = 255;
        }
        for i in [44usize, 45, 54, 55] {
            light[i * 4..i * 4 + 3].copy_from_slice(&[0, 0, 0]);
            dark[i * 4..i * 4 + 3].copy_from_slice(&[255, 255, 255]);
        }
        let a = ink_from_rgba(&light, 10, 10);
        let b = ink_from_rgba(&dark, 10, 10);
        assert_eq!(a, b);
        assert_eq!(a[44], 1.0);
        assert_eq!(a[0], 0.0);
        // a transparent canvas with black strokes (the page's pad) reads as dark ink on white
        let mut clear = vec![0u8; 10 * 10 * 4];
        clear[44 * 4 + 3] = 255;
        assert_eq!(ink_from_rgba(&clear, 10, 10)[44], 1.0);
    }
}
