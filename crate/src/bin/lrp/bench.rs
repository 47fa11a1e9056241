//! `lrp bench`: native time per digit for each model and method on MNIST test digits (warm-up
//! discarded), median and 95th percentile, single digits and batches of 100, and heap allocations per
//! digit in the timed loop (counted by the CLI's global allocator); JSON for the other benchmark
//! scripts (the wasm one in Chromium and the Zennit reference) to compare against.
//!
//! The models take turns in blocks of [`BLOCK`] digits (and batch by batch), so that a slow spell of a
//! shared machine falls on all of them alike and the ratios between models hold even when the times do
//! not; each block starts with one untimed digit, so that no model is timed with the caches another
//! one left.

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

/// Digits a model is timed on before the next model's turn.
const BLOCK: usize = 20;

/// The benchmarked tasks: a method name, "all-ten-classes" or "pixel-flipping".
/// A model runs the tasks it defines: an LSTM has no convolution presets, and lrp-lstm needs an LSTM
/// (its all-classes and pixel-flipping tasks use lrp-lstm instead of epsilon-plus).
pub const TASKS: [&str; 8] =
    ["gradient", "lrp-eps", "epsilon-plus", "epsilon-gamma-box", "lrp-lstm", "integrated-gradients", "all-ten-classes", "pixel-flipping"];

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
    /// The task for `model`, or None if the model does not define its method.
    fn new(name: &str, model: &Model) -> lrp::Result<Option<Task>> {
        let lrp = if model.has_lstm() { "lrp-lstm" } else { "epsilon-plus" };
        let method = |m: &str| {
            let p = Params {
                rules: lrp::RuleParams { epsilon: if m == "lrp-lstm" { 0.001 } else { Params::default().rules.epsilon }, ..Default::default() },
                ..Default::default()
            };
            Method::from_name(m, model, &p)
        };
        Ok(Some(match name {
            "all-ten-classes" => Task::AllTenClasses(method(lrp)?),
            "pixel-flipping" => Task::PixelFlipping(method(lrp)?),
            _ if !lrp::registry::available(model).contains(&name) => return Ok(None),
            _ => Task::Explain(method(name)?),
        }))
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
    let x = |i: usize| &digits[(i % (digits.len() / PIXELS)) * PIXELS..][..PIXELS];
    let mut models = Vec::new();
    for path in &a.models {
        let bytes = std::fs::read(path).map_err(|e| LrpError::Io(format!("{}: {e}", path.display())))?;
        let model = Model::try_from(bytes.as_slice())?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_string();
        models.push((name, Explainer::new(&model), model));
    }
    println!("native, one thread, per digit (MNIST test digits, {} timed after 50 warm-up; the models take turns)", a.n);
    let mut rows = Vec::new();
    for t in TASKS {
        let tasks = models.iter().map(|(_, _, m)| Task::new(t, m)).collect::<lrp::Result<Vec<_>>>()?;
        for ((_, ex, model), task) in models.iter_mut().zip(&tasks).filter_map(|(m, t)| Some((m, t.as_ref()?))) {
            for i in 0..50 {
                task.run(ex, model, x(i))?;
            }
        }
        let mut times = vec![Vec::with_capacity(a.n); models.len()];
        let mut allocs = vec![Some(0usize); models.len()];
        for block in (0..a.n).step_by(BLOCK) {
            for (k, ((_, ex, model), task)) in models.iter_mut().zip(&tasks).enumerate().filter_map(|(k, (m, t))| Some((k, (m, t.as_ref()?)))) {
                task.run(ex, model, x(block + BLOCK - 1))?;
                for i in block..(block + BLOCK).min(a.n) {
                    let a0 = allocations();
                    let t0 = Instant::now();
                    task.run(ex, model, x(i))?;
                    times[k].push(t0.elapsed().as_secs_f64() * 1e6);
                    allocs[k] = allocs[k].zip(allocations().zip(a0)).map(|(n, (b, a0))| n + (b - a0));
                }
            }
        }
        // batches of 100 (explain_batch for methods)
        let reps = (a.n / 100).max(1);
        let mut batch = vec![0.0f64; models.len()];
        for r in 0..reps {
            let start = (r * 100 * PIXELS) % (digits.len() - 100 * PIXELS + 1);
            for (k, ((_, ex, model), task)) in models.iter_mut().zip(&tasks).enumerate() {
                if let Some(Task::Explain(m)) = task {
                    let t0 = Instant::now();
                    ex.explain_batch(model, &digits[start..start + 100 * PIXELS], m, &Query::default())?;
                    batch[k] += t0.elapsed().as_secs_f64() * 1e6 / (reps * 100) as f64;
                }
            }
        }
        for (k, (name, _, model)) in models.iter().enumerate().filter(|(k, _)| tasks[*k].is_some()) {
            let (median, p95) = (quantile(&mut times[k], 0.5), quantile(&mut times[k], 0.95));
            let batch = matches!(tasks[k], Some(Task::Explain(_))).then_some(batch[k]);
            let allocs = allocs[k].map(|n| n as f64 / a.n as f64);
            rows.push(serde_json::json!({
                "model": name, "task": t, "median_us": median, "p95_us": p95, "batch100_us": batch,
                "allocations_per_digit": allocs, "multiply_adds": model.multiply_adds(),
            }));
        }
    }
    println!("{:<14} {:<22} {:>12} {:>12} {:>16} {:>14}", "model", "task", "median µs", "p95 µs", "batch-100 µs/digit", "allocs/digit");
    for (name, _, _) in &models {
        for r in rows.iter().filter(|r| r["model"] == name.as_str()) {
            let f = |k: &str| r[k].as_f64().map_or(String::new(), |v| format!("{v:.1}"));
            let allocs = r["allocations_per_digit"].as_f64().map_or("(not counted)".into(), |v| format!("{v:.1}"));
            println!("{name:<14} {:<22} {:>12} {:>12} {:>16} {allocs:>14}", r["task"].as_str().unwrap_or(""), f("median_us"), f("p95_us"), f("batch100_us"));
        }
    }
    // time per multiply-add against the first model's, for the explanation tasks
    println!(
        "\nmedian time per million multiply-adds (dense and conv layers), and relative to {}",
        rows.first().map_or("", |r| r["model"].as_str().unwrap_or(""))
    );
    println!("{:<14} {:>10} {:>16} {:>16} {:>16}", "model", "M mult-add", "gradient µs/M", "LRP µs/M", "ratio gr / LRP");
    println!("(LRP: epsilon-plus, or lrp-lstm for an LSTM)");
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
        let (g, e) = (per(m, "gradient").unwrap_or(0.0), per(m, "epsilon-plus").or_else(|| per(m, "lrp-lstm")).unwrap_or(0.0));
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

#[derive(clap::Args)]
pub struct PhotoBenchArgs {
    /// the photo model
    #[arg(long, default_value = "models/efficientnet-lite0.safetensors")]
    model: PathBuf,
    /// sample photos (JPEG), cropped as `lrp predict` does
    #[arg(long, default_value = "www/data/photos")]
    photos: PathBuf,
    /// timed runs per task (after 2 warm-up runs), photos in turn
    #[arg(long, default_value_t = 10)]
    n: usize,
    /// write the results as JSON here as well
    #[arg(long)]
    json: Option<PathBuf>,
    /// thread counts to time each task with (the kernels share large layers among them)
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
}

/// The photo tasks of `lrp bench-photo`: the forward pass alone, then forward + explanation.
pub const PHOTO_TASKS: [&str; 5] = ["forward", "gradient", "epsilon-plus-flat", "epsilon-gamma-box", "integrated-gradients"];

/// `lrp bench-photo`: native time per 224x224 photo with 1 and 2 threads, median and 95th percentile.
pub fn bench_photo(a: PhotoBenchArgs) -> lrp::Result<()> {
    let bytes = std::fs::read(&a.model).map_err(|e| LrpError::Io(format!("{}: {e}", a.model.display())))?;
    let model = Model::try_from(bytes.as_slice())?;
    let s = model.input_stage().input_shape();
    let mut photos = Vec::new();
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(&a.photos).map_err(|e| LrpError::Io(format!("{}: {e}", a.photos.display())))?.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "jpg")) {
        let img = lrp::photo::decode(&std::fs::read(p).map_err(|e| LrpError::Io(e.to_string()))?)?;
        photos.push(lrp::photo::crop_planes(&img, lrp::photo::center_crop(img.width, img.height, lrp::photo::CROP_FRACTION), s.w as u32)?);
    }
    if photos.is_empty() {
        return Err(LrpError::Io(format!("{}: no .jpg photos", a.photos.display())));
    }
    let mut ex = Explainer::new(&model);
    let params = Params { steps: 32, ..Params::default() };
    println!("native, per {}x{} photo ({} photos in turn, {} timed runs after 2 warm-up, per thread count; IG with 32 steps)", s.h, s.w, photos.len(), a.n);
    println!("{:<22} {:>8} {:>10} {:>10} {:>14}", "task", "threads", "median ms", "p95 ms", "ns per mult-add");
    let mut rows = Vec::new();
    for t in PHOTO_TASKS {
        let m = if t == "forward" { None } else { Some(Method::from_name(t, &model, &params)?) };
        for threads in a.threads.iter().copied() {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| LrpError::Io(format!("thread pool: {e}")))?;
            let mut times = Vec::with_capacity(a.n);
            pool.install(|| -> lrp::Result<()> {
                for i in 0..a.n + 2 {
                    let x = &photos[i % photos.len()];
                    let t0 = Instant::now();
                    match &m {
                        None => {
                            ex.predict(&model, x)?;
                        }
                        Some(m) => {
                            ex.explain(&model, x, m, &Query::default())?;
                        }
                    }
                    if i >= 2 {
                        times.push(t0.elapsed().as_secs_f64() * 1e3);
                    }
                }
                Ok(())
            })?;
            let (median, p95) = (quantile(&mut times, 0.5), quantile(&mut times, 0.95));
            println!("{t:<22} {threads:>8} {median:>10.1} {p95:>10.1} {:>14.3}", median * 1e6 / model.multiply_adds() as f64);
            rows.push(serde_json::json!({ "task": t, "threads": threads, "median_ms": median, "p95_ms": p95, "multiply_adds": model.multiply_adds() }));
        }
    }
    if let Some(p) = a.json {
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(&p, serde_json::to_string_pretty(&rows).expect("JSON")).map_err(|e| LrpError::Io(format!("{}: {e}", p.display())))?;
    }
    Ok(())
}
