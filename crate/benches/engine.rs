//! `cargo bench --bench engine`: forward and explanation time per digit for the shipped MLP and CNN
//! (or LeNet-size random networks when models/ is empty), single thread, plus heap allocations per
//! explanation after warm-up. Figures, not tests: compare them within one run.

use criterion::{black_box, Criterion};
use lrp::testing::{allocations, CountingAllocator};
use lrp::{Explainer, Method, Model, Params, Query};
use std::time::Duration;

#[global_allocator]
static A: CountingAllocator = CountingAllocator;

fn load(name: &str, fallback: fn(u64) -> Model) -> Model {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models").join(format!("{name}.safetensors"));
    match std::fs::read(&path) {
        Ok(b) => Model::try_from(b.as_slice()).expect("shipped model loads"),
        Err(_) => {
            eprintln!("{} not found: benchmarking a random network of the same size", path.display());
            fallback(1)
        }
    }
}

/// MNIST test digits from the repository copy, or pseudo-random drawings.
fn digits(n: usize) -> Vec<Vec<f32>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/data/t10k-images-idx3-ubyte.gz");
    if let Ok(gz) = std::fs::read(&path) {
        let mut raw = Vec::new();
        use std::io::Read;
        if flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut raw).is_ok() && raw.len() >= 16 + n * 784 {
            return (0..n).map(|i| raw[16 + i * 784..16 + (i + 1) * 784].iter().map(|&b| b as f32 / 255.0).collect()).collect();
        }
    }
    (0..n as u64).map(lrp::testing::random_pixels).collect()
}

fn main() {
    let models = [("mlp", load("mlp", lrp::testing::mlp)), ("cnn", load("cnn", lrp::testing::lenet))];
    let xs = digits(64);
    let methods = ["gradient", "lrp-eps", "epsilon-plus", "epsilon-gamma-box", "integrated-gradients"];
    println!("heap allocations per explanation after warm-up:");
    for (name, model) in &models {
        let mut ex = Explainer::new(model);
        for m in methods {
            let method = Method::from_name(m, model, &Params::default()).unwrap();
            ex.explain(model, &xs[0], &method, &Query::default()).unwrap();
            let before = allocations();
            for x in &xs {
                ex.explain(model, x, &method, &Query::default()).unwrap();
            }
            let per = (allocations() - before) as f64 / xs.len() as f64;
            println!("  {name:<4} {m:<22} {per}");
        }
    }
    let mut c = Criterion::default().sample_size(40).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).configure_from_args();
    for (name, model) in &models {
        let mut g = c.benchmark_group(*name);
        let mut ex = Explainer::new(model);
        let mut i = 0usize;
        g.bench_function("forward", |b| {
            b.iter(|| {
                i = (i + 1) % xs.len();
                black_box(ex.predict(model, &xs[i]).unwrap().prediction)
            })
        });
        for m in methods {
            let method = Method::from_name(m, model, &Params::default()).unwrap();
            g.bench_function(format!("forward+{m}"), |b| {
                b.iter(|| {
                    i = (i + 1) % xs.len();
                    black_box(ex.explain(model, &xs[i], &method, &Query::default()).unwrap().heatmap[300])
                })
            });
        }
        let method = Method::from_name("epsilon-plus", model, &Params::default()).unwrap();
        g.bench_function("all-ten-classes epsilon-plus", |b| {
            b.iter(|| {
                i = (i + 1) % xs.len();
                for t in 0..10 {
                    black_box(ex.explain(model, &xs[i], &method, &Query { target: Some(t), ..Default::default() }).unwrap().heatmap[300]);
                }
            })
        });
        g.finish();
    }
    c.final_summary();
}
