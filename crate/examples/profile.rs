//! A loop for profilers (`perf record`, `valgrind --tool=callgrind`): explains MNIST-like inputs with a
//! method (or only predicts: `forward`) many times. `cargo run --release --example profile -- METHOD N [MODEL]` (MODEL: a name in
//! `models/` or a path, default `cnn`).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let method = args.get(1).map_or("epsilon-plus", String::as_str);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let name = args.get(3).map_or("cnn", String::as_str);
    let path = if name.ends_with(".safetensors") { name.to_string() } else { format!("{}/../models/{name}.safetensors", env!("CARGO_MANIFEST_DIR")) };
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let model = lrp::Model::try_from(bytes.as_slice()).unwrap();
    // "forward": the prediction alone
    let m = (method != "forward").then(|| lrp::Method::from_name(method, &model, &lrp::Params::default()).unwrap());
    let mut ex = lrp::Explainer::new(&model);
    // MNIST-like pixels, repeated to fill a larger input (the photo model's 3 x 224 x 224)
    let xs: Vec<Vec<f32>> = (0..16).map(|s| lrp::testing::random_pixels(s).into_iter().cycle().take(model.input_len()).collect()).collect();
    let t = std::time::Instant::now();
    let mut acc = 0.0;
    for i in 0..n {
        acc += match &m {
            Some(m) => ex.explain(&model, &xs[i % 16], m, &lrp::Query::default()).unwrap().heatmap[400],
            None => ex.predict(&model, &xs[i % 16]).unwrap().probabilities[0],
        };
    }
    println!("{method}: {:.1} µs per explanation ({acc})", t.elapsed().as_secs_f64() * 1e6 / n as f64);
}
