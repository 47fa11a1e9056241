//! The sanity check (Adebayo et al. 2018): Spearman and SSIM against hand-computed values and their
//! defining properties, the cascade's randomisation (top layers first, seeded, the rest untouched), and
//! the check itself on the shipped CNN: LRP's and the gradient's maps lose their similarity as the
//! weights become random, while a map that ignores the model (the input itself) would not.
#![cfg(not(target_arch = "wasm32"))]

use lrp::model::{Layer, Model};
use lrp::sanity::{cascade, randomized, spearman, ssim, weighted_layers};
use lrp::testing::tiny_cnn;
use lrp::{Explainer, Method, Params};

#[test]
fn spearman_is_the_rank_correlation_with_ties_averaged() {
    assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]) - 1.0).abs() < 1e-6);
    assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-6);
    // a monotone transform does not change it
    let a = [0.3, -1.0, 2.5, 0.0, 7.0];
    let b: Vec<f32> = a.iter().map(|v: &f32| v.exp()).collect();
    assert!((spearman(&a, &b) - 1.0).abs() < 1e-6);
    // by hand: ranks of [1, 2, 2, 3] are [0, 1.5, 1.5, 3], of [1, 3, 2, 4] [0, 2, 1, 3];
    // centred [-1.5, 0, 0, 1.5] and [-1.5, 0.5, -0.5, 1.5]: 4.5 / sqrt(4.5 * 5) = 0.9487
    assert!((spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]) - 4.5 / (4.5f32 * 5.0).sqrt()).abs() < 1e-6);
    assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), 0.0, "a constant map has no ranks");
}

#[test]
fn ssim_is_one_for_equal_images_and_falls_with_noise() {
    let (h, w) = (12, 10);
    let img: Vec<f32> = (0..h * w).map(|i| ((i * 7) % 11) as f32 / 10.0).collect();
    assert!((ssim(&img, &img, h, w) - 1.0).abs() < 1e-6);
    let inv: Vec<f32> = img.iter().map(|v| 1.0 - v).collect();
    assert!(ssim(&img, &inv, h, w) < 0.0, "an inverted image correlates negatively");
    let noisy: Vec<f32> = img.iter().enumerate().map(|(i, v)| (v + if i % 3 == 0 { 0.3 } else { -0.2 }).clamp(0.0, 1.0)).collect();
    let s = ssim(&img, &noisy, h, w);
    assert!(s < 0.95 && s > 0.0, "noise lowers SSIM: {s}");
    assert!((ssim(&img, &noisy, h, w) - ssim(&noisy, &img, h, w)).abs() < 1e-6, "symmetric");
    // one 7x7 window by hand: constant images a and b give (2ab + c1) / (a^2 + b^2 + c1)
    let (a, b) = (vec![0.6f32; 49], vec![0.2f32; 49]);
    let c1 = 1e-4f32;
    assert!((ssim(&a, &b, 7, 7) - (2.0 * 0.6 * 0.2 + c1) / (0.36 + 0.04 + c1)).abs() < 1e-5);
}

#[test]
fn the_cascade_randomises_the_top_layers_first_and_is_seeded() {
    let model = tiny_cnn(1, true);
    let layers = weighted_layers(&model);
    assert_eq!(layers.len(), 4, "two convolutions and two dense layers");
    assert!(layers[0].1.starts_with("dense") && layers[3].1.starts_with("conv"), "top first: {layers:?}");
    let weights = |m: &Model, k: usize| match &m.layers()[k] {
        Layer::Dense(d) => d.weight.iter().copied().collect::<Vec<f32>>(),
        Layer::Conv2d(c) => c.weight.iter().copied().collect(),
        _ => unreachable!(),
    };
    let two = randomized(&model, 2, 5);
    for (i, (k, _)) in layers.iter().enumerate() {
        assert_eq!(weights(&two, *k) == weights(&model, *k), i >= 2, "layer {k}: only the top two change");
    }
    assert_eq!(weights(&randomized(&model, 2, 5), layers[0].0), weights(&two, layers[0].0), "seeded");
    assert_ne!(weights(&randomized(&model, 2, 6), layers[0].0), weights(&two, layers[0].0));
    // He-uniform bounds: |w| < sqrt(6 / fan_in)
    let (k, _) = layers[0];
    let Layer::Dense(d) = &two.layers()[k] else { panic!() };
    let bound = (6.0 / d.weight.dim().1 as f32).sqrt();
    assert!(d.weight.iter().all(|w| w.abs() < bound) && d.bias.iter().all(|&b| b == 0.0));
}

#[test]
fn lrp_and_the_gradient_fail_to_resemble_themselves_on_a_randomised_cnn() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/cnn.safetensors")).unwrap();
    let model = Model::try_from(bytes.as_slice()).unwrap();
    // a drawn 1 (a vertical bar), which the model reads with confidence
    let mut x = vec![0.0f32; 784];
    for y in 4..24 {
        for c in 13..16 {
            x[y * 28 + c] = 1.0;
        }
    }
    let names = ["epsilon-plus", "lrp-0", "gradient", "integrated-gradients"];
    let methods: Vec<(String, Method)> =
        names.iter().map(|n| (n.to_string(), Method::from_name(n, &model, &Params { steps: 16, ..Params::default() }).unwrap())).collect();
    let report = cascade(&model, &x, &methods, None, 3).unwrap();
    assert_eq!(report.target, Explainer::new(&model).predict(&model, &x).unwrap().prediction);
    assert_eq!(report.steps.len(), 5, "the trained model and four randomised layers");
    assert!(report.steps[0].spearman.iter().chain(&report.steps[0].ssim).all(|&v| (v - 1.0).abs() < 1e-5), "step 0 is the reference");
    assert_eq!(report.steps[4].randomized.len(), 4);
    let last = &report.steps[4];
    for (i, name) in names.iter().enumerate() {
        // the maps change at the first randomised layer already, and with every layer random they no
        // longer rank the pixels as the trained model's maps did
        assert_ne!(report.steps[1].maps[i], report.steps[0].maps[i], "{name}");
        for st in &report.steps[1..] {
            assert!(st.spearman[i] < 0.5, "{name}, {} random: Spearman {}", st.randomized.len(), st.spearman[i]);
        }
    }
    // the gradient loses its shape by every measure; the methods that multiply by the input keep the
    // digit's blank pixels at exactly 0, so the measures of |R| stay high for them (the paper's
    // Gradient x Input on MNIST): the signed correlation above is the one that reveals them
    assert!(last.spearman_abs[2] < 0.8 && last.ssim[2] < 0.5, "gradient: |R| Spearman {} SSIM {}", last.spearman_abs[2], last.ssim[2]);
    for i in [0, 1, 3] {
        assert!(last.spearman_abs[i] > 0.9, "{}: |R| Spearman {}", names[i], last.spearman_abs[i]);
    }
    // the check is bounded and refuses nothing to compare
    assert!(cascade(&model, &x, &[], None, 0).is_err());
}
