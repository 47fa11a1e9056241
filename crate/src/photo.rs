//! Photos for an ImageNet-style model: the evaluation crop, RGBA to the model's `[3, H, W]` planes,
//! and (feature `images`: the CLI and its fuzz target) JPEG/PNG/GIF/WebP/BMP decoding with the
//! `image` crate, whose size is checked from the header before anything is decoded.
//!
//! The evaluation crop is the centred square of side `fraction` (224/256) of the shorter side, resized
//! to the model's side. The page makes the same crop with a canvas (the visitor can move and zoom it)
//! and hands the engine the resized RGBA; the CLI decodes the file and resizes with `image`'s bilinear
//! filter (antialiased when shrinking).

use crate::error::{LrpError, Result};

/// The standard ImageNet evaluation crop: 224 of 256.
pub const CROP_FRACTION: f32 = 224.0 / 256.0;
/// Largest image side decoded (pixels).
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// Largest image decoded, in pixels (a 48-megapixel photo fits; its RGBA takes 192 MB).
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;

fn bad(msg: impl Into<String>) -> LrpError {
    LrpError::InvalidInput(msg.into())
}

/// Refuses an image size before decoding: zero, a side over [`MAX_IMAGE_SIDE`] or more than
/// [`MAX_IMAGE_PIXELS`] pixels (a small compressed file may declare a huge image).
pub fn check_size(width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(bad(format!("the image is {width}x{height}: it has no pixels")));
    }
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || width as u64 * height as u64 > MAX_IMAGE_PIXELS {
        return Err(bad(format!(
            "the image declares {width}x{height} pixels ({:.0} megapixels): the limit is {} megapixels and {MAX_IMAGE_SIDE} per side",
            width as f64 * height as f64 / 1e6,
            MAX_IMAGE_PIXELS / 1_000_000
        )));
    }
    Ok(())
}

/// The centred square crop `[x, y, side]` of `fraction` of the shorter side.
pub fn center_crop(width: u32, height: u32, fraction: f32) -> [f32; 3] {
    let s = width.min(height) as f32 * fraction;
    [(width as f32 - s) / 2.0, (height as f32 - s) / 2.0, s]
}

/// RGBA bytes of `width x height` to the `[3, height, width]` planes of values in [0, 1] that a
/// three-channel model's input stage reads (alpha ignored).
pub fn rgba_planes(rgba: &[u8], width: usize, height: usize) -> Result<Vec<f32>> {
    let n = width
        .checked_mul(height)
        .filter(|&n| n > 0 && rgba.len() == n * 4)
        .ok_or_else(|| bad(format!("{width}x{height} RGBA needs {} bytes, got {}", width.saturating_mul(height).saturating_mul(4), rgba.len())))?;
    let mut out = vec![0.0f32; 3 * n];
    for (i, p) in rgba.chunks_exact(4).enumerate() {
        for c in 0..3 {
            out[c * n + i] = p[c] as f32 / 255.0;
        }
    }
    Ok(out)
}

/// A decoded image, RGBA 8 bits per channel.
#[cfg(feature = "images")]
pub struct Decoded {
    pub rgba: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Decodes a JPEG, PNG, GIF (its first frame), WebP or BMP. The size is read from the header and
/// checked ([`check_size`]) before decoding, and the decoder's allocations are capped as well;
/// 16-bit, grey, palette and CMYK images come out as 8-bit RGBA.
#[cfg(feature = "images")]
pub fn decode(bytes: &[u8]) -> Result<Decoded> {
    use image::{ImageDecoder, ImageReader, Limits};
    use std::io::Cursor;
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| bad(format!("image: {e}")))?;
    let format = reader.format().ok_or_else(|| bad("not an image this tool reads (JPEG, PNG, GIF, WebP or BMP)"))?;
    let mut decoder = reader.into_decoder().map_err(|e| bad(format!("{format:?} image: {e}")))?;
    let (w, h) = decoder.dimensions();
    check_size(w, h)?;
    if format == image::ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(bad("the JPEG file is truncated (it has no end-of-image marker after its image data)"));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_PIXELS * 8 + (64 << 20));
    decoder.set_limits(limits).map_err(|e| bad(format!("{format:?} image: {e}")))?;
    let img = image::DynamicImage::from_decoder(decoder).map_err(|e| bad(format!("{format:?} image: {e}")))?;
    let rgba = img.into_rgba8();
    let (width, height) = rgba.dimensions();
    Ok(Decoded { rgba: rgba.into_raw(), width, height })
}

/// True if a JPEG's last scan is followed by its end-of-image marker. The decoder fills a truncated
/// file's missing rows with grey without an error; in the entropy-coded data every 0xFF byte is
/// followed by 0x00, so `FF D9` after the last start-of-scan (`FF DA`) is the real end.
#[cfg(feature = "images")]
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    last_scan.is_some_and(|s| bytes[s..].windows(2).any(|w| w == [0xFF, 0xD9]))
}

/// The crop `[x, y, side]` of `image`, resized to `side x side` with a bilinear filter (antialiased
/// when shrinking), as `[3, side, side]` planes in [0, 1].
#[cfg(feature = "images")]
pub fn crop_planes(image: &Decoded, crop: [f32; 3], side: u32) -> Result<Vec<f32>> {
    use image::{imageops, RgbaImage};
    let [x, y, s] = crop;
    let (x0, y0) = (x.round().max(0.0) as u32, y.round().max(0.0) as u32);
    let s = (s.round() as u32).min(image.width - x0.min(image.width)).min(image.height - y0.min(image.height));
    if s == 0 || side == 0 {
        return Err(bad("the crop is empty"));
    }
    // the crop's rows copied out (not the whole image)
    let (w, row) = (image.width as usize, s as usize * 4);
    let mut square = Vec::with_capacity(row * s as usize);
    for y in y0 as usize..(y0 + s) as usize {
        let start = (y * w + x0 as usize) * 4;
        square.extend_from_slice(image.rgba.get(start..start + row).ok_or_else(|| bad("image buffer"))?);
    }
    let view = RgbaImage::from_raw(s, s, square).ok_or_else(|| bad("image buffer"))?;
    let small = imageops::resize(&view, side, side, imageops::FilterType::Triangle);
    rgba_planes(small.as_raw(), side as usize, side as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_refused_before_decoding() {
        assert!(check_size(0, 10).is_err());
        assert!(check_size(20_000, 20_000).unwrap_err().to_string().contains("400 megapixels"));
        assert!(check_size(MAX_IMAGE_SIDE + 1, 1).is_err());
        assert!(check_size(8000, 6000).is_ok());
    }

    #[test]
    fn crop_is_centred_on_the_shorter_side() {
        assert_eq!(center_crop(400, 300, 0.5), [125.0, 75.0, 150.0]);
        assert_eq!(center_crop(256, 512, CROP_FRACTION), [16.0, 144.0, 224.0]);
    }

    #[test]
    fn planes_are_channel_major() {
        let rgba = [255, 0, 0, 9, 0, 51, 0, 9];
        assert_eq!(rgba_planes(&rgba, 2, 1).unwrap(), vec![1.0, 0.0, 0.0, 0.2, 0.0, 0.0]);
        assert!(rgba_planes(&rgba, 3, 1).is_err());
    }
}
