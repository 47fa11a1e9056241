//! The photo model and photo input: the committed EfficientNet-Lite0 (float16 storage) answers the
//! committed sample photos as the conversion script's independent numpy forward pass did, photos are
//! decoded and cropped as documented, and bad image files are refused with a clear error (a
//! decompression bomb from its header, before decoding).
#![cfg(not(target_arch = "wasm32"))]

use lrp::photo::{center_crop, crop_planes, decode, CROP_FRACTION};
use lrp::{Explainer, Model};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn photo_model() -> Model {
    let bytes = std::fs::read(root().join("models/efficientnet-lite0.safetensors")).unwrap();
    Model::try_from(bytes.as_slice()).unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(root().join("tests/fixtures/images").join(name)).unwrap()
}

#[test]
fn the_photo_model_answers_the_sample_photos_as_its_card_says() {
    let model = photo_model();
    let s = model.input_stage().input_shape();
    assert_eq!((s.c, s.h, s.w, model.classes()), (3, 224, 224, 1000));
    assert_eq!(model.parameters(), 4_631_000);
    assert_eq!(model.meta().classes[281], "tabby, tabby cat");
    // the card's top-5 per photo comes from models/efficientnet_lite0.py's numpy forward pass
    let card = &model.meta().provenance["photos"];
    let photos = card.as_array().unwrap();
    assert_eq!(photos.len(), 5);
    let mut ex = Explainer::new(&model);
    for p in photos {
        let name = p["photo"].as_str().unwrap();
        let img = decode(&std::fs::read(root().join("www/data/photos").join(name)).unwrap()).unwrap();
        let x = crop_planes(&img, center_crop(img.width, img.height, CROP_FRACTION), 224).unwrap();
        let z = &ex.predict(&model, &x).unwrap().logits;
        let top = (0..z.len()).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap();
        let want = p["top5"][0][0].as_str().unwrap();
        assert_eq!(model.meta().classes[top], want, "{name}");
        let want_p = p["top5"][0][1].as_f64().unwrap();
        let prob = 1.0 / z.iter().map(|v| ((v - z[top]) as f64).exp()).sum::<f64>();
        assert!((prob - want_p).abs() < 0.05, "{name}: p {prob} against the card's {want_p}");
    }
}

#[test]
fn the_photo_model_stores_large_weights_as_float16() {
    let bytes = std::fs::read(root().join("models/efficientnet-lite0.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (mut f16, mut f32) = (0usize, 0usize);
    for (name, t) in st.tensors() {
        match t.dtype() {
            safetensors::Dtype::F16 => f16 += t.shape().iter().product::<usize>(),
            safetensors::Dtype::F32 => f32 += t.shape().iter().product::<usize>(),
            d => panic!("{name}: {d:?}"),
        }
    }
    assert!(f16 > 4_000_000 && f32 < 300_000, "f16 {f16}, f32 {f32}");
    assert!(bytes.len() < 10_500_000, "{} bytes", bytes.len());
}

#[test]
fn a_decompression_bomb_is_refused_from_its_header() {
    let e = decode(&fixture("bomb-20000x20000.png")).err().unwrap().to_string();
    assert!(e.contains("20000x20000") && e.contains("limit"), "{e}");
}

#[test]
fn broken_and_empty_images_give_clear_errors() {
    for (name, says) in [("zero-0x0.png", "dimensions"), ("truncated.jpg", "truncated"), ("garbage.jpg", "Jpeg")] {
        let e = decode(&fixture(name)).err().unwrap_or_else(|| panic!("{name} decoded")).to_string();
        assert!(e.contains(says), "{name}: {e}");
    }
    assert!(decode(b"not an image at all").is_err());
    assert!(decode(&[]).is_err());
}

fn mean_rgb(rgba: &[u8]) -> [f64; 3] {
    let n = (rgba.len() / 4) as f64;
    let mut m = [0.0; 3];
    for p in rgba.chunks_exact(4) {
        for c in 0..3 {
            m[c] += p[c] as f64 / n;
        }
    }
    m
}

#[test]
fn cmyk_sixteen_bit_and_animated_images_decode_to_rgb() {
    let cat = decode(&std::fs::read(root().join("www/data/photos/cat.jpg")).unwrap()).unwrap();
    let reference = mean_rgb(&cat.rgba);
    let cmyk = decode(&fixture("cmyk.jpg")).unwrap();
    assert_eq!((cmyk.width, cmyk.height), (150, 100));
    let m = mean_rgb(&cmyk.rgba);
    // CMYK made by PIL from the same photo: the same colours, not their inverse
    assert!((0..3).all(|c| (m[c] - reference[c]).abs() < 25.0), "{m:?} vs {reference:?}");
    let grey = decode(&fixture("grey16.png")).unwrap();
    let g = mean_rgb(&grey.rgba);
    assert!(g[0] == g[1] && g[1] == g[2] && g[0] > 60.0, "{g:?}");
    // the GIF's first frame is the cat, its second is black
    let gif = decode(&fixture("animated.gif")).unwrap();
    assert!(mean_rgb(&gif.rgba)[0] > 60.0);
}

#[test]
fn the_crop_is_the_centred_square_resized() {
    // a 400x200 image: left half red, right half blue; the centred 175x175 square straddles both
    let (w, h) = (400u32, 200u32);
    let mut rgba = Vec::new();
    for _y in 0..h {
        for x in 0..w {
            rgba.extend_from_slice(if x < 200 { &[255, 0, 0, 255] } else { &[0, 0, 255, 255] });
        }
    }
    let img = lrp::photo::Decoded { rgba, width: w, height: h };
    let crop = center_crop(w, h, CROP_FRACTION);
    assert_eq!(crop, [112.5, 12.5, 175.0]);
    let x = crop_planes(&img, crop, 16).unwrap();
    let (r, b) = (&x[..256], &x[512..]);
    // left column red, right column blue, the split in the middle
    assert!(r[16 * 8] > 0.99 && b[16 * 8] < 0.01 && r[16 * 8 + 15] < 0.01 && b[16 * 8 + 15] > 0.99);
}
