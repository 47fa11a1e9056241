//! `lrp bench`: native time per digit for each model and method on MNIST test digits (warm-up
//! discarded), median and 95th percentile, single digits and batches of 100, and heap allocations per
//! digit in the timed loop (counted by the CLI's global allocator); JSON for the other benchmark
//! scripts (the wasm one in Chromium and the Zennit reference) to compare against.

use crate::train::load_mnist;
use lrp::evaluate::pixel_flipping;
use lrp::model::PIXELS;
use lrp::{Explainer, LrpError, Method, Model, Params, Query};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// model files
    #[arg(long, num_args = 1.., default_values = ["models/cnn.safetensors", "models/mlp.safetensors"])]
    models: Vec<PathBuf>,
    /// digits timed per method (after 50 warm-up explanations)
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// directory with the MNIST test set
    #[arg(long, default_value = "www/data")]
    data: PathBuf,
    /// write the results as JSON here as well
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The benchmarked tasks: a method name, "all-ten-classes" or "pixel-flipping".
pub const TASKS: [&str; 7] = ["gradient", "lrp-eps", "epsilon-plus", "epsilon-gamma-box", "integrated-gradients", "all-ten-classes", "pixel-flipping"];

fn quantile(xs: &mut [f64], q: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[((q * xs.len() as f64) as usize).min(xs.len() - 1)]
}

/// One benchmarked task, its method built once (outside the timed loop).
enum Task {
    Explain(Method),
    AllTenClasses(Method),
    PixelFlipping(Method),
}

impl Task {
    fn new(name: &str, model: &Model) -> lrp::Result<Task> {
        let eps_plus = || Method::from_name("epsilon-plus", model, &Params::default());
        Ok(match name {
            "all-ten-classes" => Task::AllTenClasses(eps_plus()?),
            "pixel-flipping" => Task::PixelFlipping(eps_plus()?),
            _ => Task::Explain(Method::from_name(name, model, &Params::default())?),
        })
    }

    fn run(&self, ex: &mut Explainer, model: &Model, x: &[f32]) -> lrp::Result<()> {
        match self {
            Task::Explain(m) => {
                ex.explain(model, x, m, &Query::default())?;
            }
            Task::AllTenClasses(m) => {
                for c in 0..model.classes() {
                    ex.explain(model, x, m, &Query { target: Some(c), ..Default::default() })?;
                }
            }
            Task::PixelFlipping(m) => {
                // the curve of one heatmap: 25 steps of 8 pixels (the page's setting)
                let e = ex.explain(model, x, m, &Query::default())?;
                let (h, t) = (e.heatmap.clone(), e.target);
                pixel_flipping(ex, model, x, &h, t, 8, 25)?;
            }
        }
        Ok(())
    }
}

/// Heap allocations so far on this thread, where the CLI counts them (the `testing` feature).
fn allocations() -> Option<usize> {
    #[cfg(feature = "testing")]
    return Some(lrp::testing::allocations());
    #[cfg(not(feature = "testing"))]
    None
}

pub fn bench(a: BenchArgs) -> lrp::Result<()> {
    let (digits, _, _) = load_mnist(&a.data, "t10k", Some(a.n.max(100)))?;
    let mut rows = Vec::new();
    println!("native, one thread, per digit (MNIST test digits, {} timed after 50 warm-up)", a.n);
    println!("{:<14} {:<22} {:>12} {:>12} {:>16} {:>14}", "model", "task", "median µs", "p95 µs", "batch-100 µs/digit", "allocs/digit");
    for path in &a.models {
        let bytes = std::fs::read(path).map_err(|e| LrpError::Io(format!("{}: {e}", path.display())))?;
        let model = Model::try_from(bytes.as_slice())?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_string();
        let macs = model.multiply_adds();
        let mut ex = Explainer::new(&model);
        for t in TASKS {
            let task = Task::new(t, &model)?;
            let x = |i: usize| &digits[(i % (digits.len() / PIXELS)) * PIXELS..][..PIXELS];
            for i in 0..50 {
                task.run(&mut ex, &model, x(i))?;
            }
            let mut times: Vec<f64> = Vec::with_capacity(a.n);
            let allocs0 = allocations();
            for i in 0..a.n {
                let t0 = Instant::now();
                task.run(&mut ex, &model, x(i))?;
                times.push(t0.elapsed().as_secs_f64() * 1e6);
            }
            let allocs = allocations().zip(allocs0).map(|(b, a0)| (b - a0) as f64 / a.n as f64);
            let (median, p95) = (quantile(&mut times, 0.5), quantile(&mut times, 0.95));
            // batches of 100 (explain_batch for methods)
            let batch = match &task {
                Task::Explain(m) => {
                    let reps = (a.n / 100).max(1);
                    let t0 = Instant::now();
                    for r in 0..reps {
                        let start = (r * 100 * PIXELS) % (digits.len() - 100 * PIXELS + 1);
                        ex.explain_batch(&model, &digits[start..start + 100 * PIXELS], m, &Query::default())?;
                    }
                    Some(t0.elapsed().as_secs_f64() * 1e6 / (reps * 100) as f64)
                }
                _ => None,
            };
            let shown = allocs.map_or("(not counted)".into(), |a| format!("{a:.1}"));
            println!("{name:<14} {t:<22} {median:>12.1} {p95:>12.1} {:>16} {shown:>14}", batch.map_or("".into(), |b| format!("{b:.1}")));
            rows.push(serde_json::json!({
                "model": name, "task": t, "median_us": median, "p95_us": p95, "batch100_us": batch,
                "allocations_per_digit": allocs, "multiply_adds": macs,
            }));
        }
    }
    // time per multiply-add against the first model's, for the explanation tasks
    println!(
        "\nmedian time per million multiply-adds (dense and conv layers), and relative to {}",
        rows.first().map_or("", |r| r["model"].as_str().unwrap_or(""))
    );
    println!("{:<14} {:>10} {:>16} {:>16} {:>16}", "model", "M mult-add", "gradient µs/M", "eps-plus µs/M", "ratio gr / e+");
    let per = |m: &str, t: &str| {
        rows.iter()
            .find(|r| r["model"] == m && r["task"] == t)
            .map(|r| r["median_us"].as_f64().unwrap_or(0.0) / (r["multiply_adds"].as_f64().unwrap_or(1.0) / 1e6))
    };
    let first = rows.first().and_then(|r| r["model"].as_str()).unwrap_or("").to_string();
    let mut seen = Vec::new();
    for r in &rows {
        let m = r["model"].as_str().unwrap_or("");
        if seen.contains(&m) {
            continue;
        }
        seen.push(m);
        let (g, e) = (per(m, "gradient").unwrap_or(0.0), per(m, "epsilon-plus").unwrap_or(0.0));
        let (g0, e0) = (per(&first, "gradient").unwrap_or(1.0), per(&first, "epsilon-plus").unwrap_or(1.0));
        println!("{m:<14} {:>10.2} {g:>16.1} {e:>16.1} {:>8.2} / {:.2}", r["multiply_adds"].as_f64().unwrap_or(0.0) / 1e6, g / g0, e / e0);
    }
    if let Some(p) = a.json {
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(&p, serde_json::to_string_pretty(&rows).expect("JSON")).map_err(|e| LrpError::Io(format!("{}: {e}", p.display())))?;
    }
    Ok(())
}
