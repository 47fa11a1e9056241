//! Numerical edge cases of real use: an empty canvas, a single dot, a fully black canvas, a canvas
//! painted full of ink, saturated strokes, dead networks. No NaN anywhere; nothing to explain is said.
#![cfg(not(target_arch = "wasm32"))]

use lrp::preprocess::preprocess_rgba;
use lrp::testing::{tiny_cnn, tiny_mlp};
use lrp::{Explainer, Method, Params, Query};

fn canvas(w: usize, h: usize, paint: impl Fn(usize, usize) -> [u8; 4]) -> Vec<u8> {
    (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).flat_map(|(x, y)| paint(x, y)).collect()
}

#[test]
fn edge_case_canvases_give_finite_explanations() {
    let white = [255, 255, 255, 255];
    let black = [0, 0, 0, 255];
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("empty white", canvas(280, 280, |_, _| white), false),
        ("empty transparent", canvas(280, 280, |_, _| [0, 0, 0, 0]), false),
        ("single dot", canvas(280, 280, |x, y| if (x, y) == (140, 90) { black } else { white }), true),
        ("fully black", canvas(280, 280, |_, _| black), false),
        ("ink everywhere but a border", canvas(280, 280, |x, y| if x > 0 && y > 0 && x < 279 && y < 279 { black } else { white }), true),
        ("saturated thick bar", canvas(280, 280, |x, _| if (100..180).contains(&x) { black } else { white }), true),
        ("one-pixel canvas", canvas(1, 1, |_, _| black), false),
        ("a 1x300 line", canvas(1, 300, |_, y| if y % 2 == 0 { black } else { white }), true),
    ];
    let models = [tiny_cnn(1, true), tiny_mlp(2, true), lrp::testing::lstm_model(3, 28, 28, 8, true, 10, true, 0.8)];
    for (name, rgba, ink) in cases {
        let (w, h) = if name == "one-pixel canvas" {
            (1, 1)
        } else if name == "a 1x300 line" {
            (1, 300)
        } else {
            (280, 280)
        };
        let p = preprocess_rgba(&rgba, w, h);
        assert_eq!(p.transform.is_some(), ink, "{name}: ink detected?");
        assert!(p.pixels.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)), "{name}");
        for model in &models {
            let mut ex = Explainer::new(model);
            let names = lrp::registry::available(model);
            assert!(names.len() >= 9, "{names:?}");
            for m in names {
                let method = Method::from_name(m, model, &Params { steps: 4, samples: 4, ..Params::default() }).unwrap();
                let e = ex.explain(model, &p.pixels, &method, &Query::default()).unwrap();
                assert!(e.heatmap.iter().chain(&e.logits).chain(&e.probabilities).all(|v| v.is_finite()), "{name} {m}");
            }
        }
    }
}
