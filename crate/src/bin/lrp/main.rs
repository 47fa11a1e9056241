//! `lrp`: the engine on the command line. Output is JSON on stdout unless `--out` is given; errors are
//! one line on stderr and exit code 1.

use clap::{Parser, Subcommand};
use lrp::heatmap::{colorize, max_abs, ColorMap};
use lrp::model::{import_toolbox, InputStage, ToolboxOptions, PIXELS, SIDE};
use lrp::preprocess::{ink_from_rgba, preprocess_rgba};
use lrp::{Explainer, LrpError, Method, Model, Params, Query, RuleParams};
use ndarray::{ArrayD, IxDyn};
use std::path::{Path, PathBuf};

mod bench;
mod serve;
mod train;

/// Counts heap allocations (for `lrp bench`'s allocations per digit; built with the `testing` feature
/// only); forwards to the system allocator.
#[cfg(feature = "testing")]
#[global_allocator]
static ALLOCATOR: lrp::testing::CountingAllocator = lrp::testing::CountingAllocator;

#[derive(Parser)]
#[command(name = "lrp", version, about = "Layer-wise Relevance Propagation and gradient attributions for MNIST models")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone)]
struct Io {
    /// Model file (.safetensors)
    #[arg(long)]
    model: PathBuf,
    /// Input: .npy float32/float64 [28, 28] or [N, 28, 28] with pixels in [0, 1], or a PNG drawing
    #[arg(long)]
    input: PathBuf,
}

#[derive(Subcommand)]
enum Cmd {
    /// The methods: name, family, parameters, description (--json: with defaults, ranges, references)
    Methods {
        #[arg(long)]
        json: bool,
    },
    /// Classify inputs: logits, probabilities and prediction per input
    Predict {
        #[command(flatten)]
        io: Io,
    },
    /// Explain the prediction with a method or a rule list
    Explain {
        #[command(flatten)]
        io: Io,
        /// Method: one of `lrp methods` (the engine's method table, which also checks the name)
        #[arg(long, default_value = "epsilon-plus")]
        method: String,
        /// LRP with one rule per dense/conv layer (or per linear layer including sum/avg pooling), e.g.
        /// 'zb,gamma,gamma,eps,eps,0'. Rules: 0, eps, eps=X, gamma, gamma=X, alphaA-betaB, ab, zplus, zb, w2, flat
        #[arg(long)]
        rules: Option<String>,
        #[arg(long, default_value_t = Params::default().rules.epsilon, allow_negative_numbers = true)]
        epsilon: f32,
        #[arg(long, default_value_t = Params::default().rules.gamma, allow_negative_numbers = true)]
        gamma: f32,
        #[arg(long, default_value_t = Params::default().rules.alpha, allow_negative_numbers = true)]
        alpha: f32,
        #[arg(long, default_value_t = Params::default().rules.beta, allow_negative_numbers = true)]
        beta: f32,
        /// Integrated Gradients steps
        #[arg(long, default_value_t = Params::default().steps)]
        steps: usize,
        /// SmoothGrad samples
        #[arg(long, default_value_t = Params::default().samples)]
        samples: usize,
        /// SmoothGrad noise, fraction of the input range
        #[arg(long, default_value_t = Params::default().sigma, allow_negative_numbers = true)]
        sigma: f32,
        /// SmoothGrad seed
        #[arg(long, default_value_t = Params::default().seed)]
        seed: u64,
        /// Class to explain (default: the predicted one)
        #[arg(long)]
        target: Option<usize>,
        /// Contrast class: explain "why target and not this one"
        #[arg(long)]
        contrast: Option<usize>,
        /// Start LRP with relevance 1 instead of the logit
        #[arg(long)]
        normalize: bool,
        /// Write the heatmap as float32 .npy ([28, 28] or [N, 28, 28]) or as a PNG image
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write every layer's relevance next to --out as OUT.layerI.npy (CHW per input)
        #[arg(long)]
        layers: bool,
        /// Colour map of PNG output: bwr or puor (colour-blind safe)
        #[arg(long, default_value = "bwr")]
        colormap: String,
    },
    /// Convert an LRP Toolbox text model to a .safetensors model
    ImportToolbox {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Input stage: pixel x in [0, 1] becomes x * scale + shift ...
        #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
        scale: f32,
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        shift: f32,
        /// ... then `pad` pixels of `pad-value` on every side
        #[arg(long, default_value_t = 0)]
        pad: usize,
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        pad_value: f32,
        #[arg(long)]
        name: Option<String>,
    },
    /// Architecture, parameter count and provenance of a model
    Info {
        #[arg(long)]
        model: PathBuf,
    },
    /// Train a model on MNIST with the crate's own layers
    Train(train::TrainArgs),
    /// Accuracy of a model on the 10,000 MNIST test digits
    Eval(train::EvalArgs),
    /// Serve the demo page on 127.0.0.1 (development server)
    Serve(serve::ServeArgs),
    /// Native time per digit for the shipped models and the main methods
    Bench(bench::BenchArgs),
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> LrpError {
    LrpError::Io(format!("{}: {e}", path.display()))
}

fn load_model(path: &Path) -> lrp::Result<Model> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    Model::try_from(bytes.as_slice()).map_err(|e| LrpError::Io(format!("{}: {e}", path.display())))
}

/// Reads `.npy` ([28,28] or [N,28,28], f32 or f64) or a PNG; returns N*784 pixels and N.
fn read_input(path: &Path) -> lrp::Result<(Vec<f32>, usize)> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if ext == "png" {
        let (rgba, w, h) = read_png(path)?;
        let pixels = if (w, h) == (SIDE, SIDE) { ink_from_rgba(&rgba, w, h) } else { preprocess_rgba(&rgba, w, h).pixels };
        return Ok((pixels, 1));
    }
    let arr: ArrayD<f32> = match ndarray_npy::read_npy::<_, ArrayD<f32>>(path) {
        Ok(a) => a,
        Err(_) => ndarray_npy::read_npy::<_, ArrayD<f64>>(path).map_err(|e| io_err(path, format!("not a float32/float64 .npy file ({e})")))?.mapv(|v| v as f32),
    };
    let n = match arr.shape() {
        [28, 28] => 1,
        [n, 28, 28] => *n,
        s => return Err(io_err(path, format!("shape {s:?}: expected [28, 28] or [N, 28, 28]"))),
    };
    let v: Vec<f32> = arr.iter().copied().collect();
    lrp::attribution::validate_pixels(&v, PIXELS).map_err(|e| io_err(path, e))?;
    Ok((v, n))
}

fn read_png(path: &Path) -> lrp::Result<(Vec<u8>, usize, usize)> {
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut dec = png::Decoder::new(file);
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().map_err(|e| io_err(path, e))?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(|e| io_err(path, e))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let data = &buf[..info.buffer_size()];
    let rgba: Vec<u8> = match info.color_type {
        png::ColorType::Grayscale => data.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        png::ColorType::GrayscaleAlpha => data.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0], p[1]]).collect(),
        png::ColorType::Rgb => data.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
        png::ColorType::Rgba => data.to_vec(),
        png::ColorType::Indexed => return Err(io_err(path, "indexed PNG after expansion")),
    };
    Ok((rgba, w, h))
}

/// Heatmaps side by side, each 28x28 scaled up 10x, as a PNG.
fn write_png(path: &Path, maps: &[&[f32]], cmap: ColorMap) -> lrp::Result<()> {
    const UP: usize = 10;
    let (w, h) = (SIDE * UP * maps.len(), SIDE * UP);
    let mut img = vec![0u8; w * h * 4];
    let mut rgba = Vec::new();
    for (k, m) in maps.iter().enumerate() {
        colorize(m, max_abs(m), cmap, false, &mut rgba);
        for y in 0..h {
            for x in 0..SIDE * UP {
                let src = ((y / UP) * SIDE + x / UP) * 4;
                let dst = (y * w + k * SIDE * UP + x) * 4;
                img[dst..dst + 4].copy_from_slice(&rgba[src..src + 4]);
            }
        }
    }
    let file = std::fs::File::create(path).map_err(|e| io_err(path, e))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|e| io_err(path, e))?;
    writer.write_image_data(&img).map_err(|e| io_err(path, e))?;
    Ok(())
}

fn write_npy(path: &Path, shape: &[usize], data: Vec<f32>) -> lrp::Result<()> {
    let arr = ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|e| io_err(path, e))?;
    ndarray_npy::write_npy(path, &arr).map_err(|e| io_err(path, e))
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string(v).expect("JSON values serialize"));
}

fn one_or_many(mut v: Vec<serde_json::Value>, n: usize, batch: bool) -> serde_json::Value {
    if n == 1 && !batch {
        v.remove(0)
    } else {
        serde_json::Value::Array(v)
    }
}

fn run(cli: Cli) -> lrp::Result<()> {
    match cli.cmd {
        Cmd::Predict { io } => {
            let model = load_model(&io.model)?;
            let (pixels, n) = read_input(&io.input)?;
            let mut ex = Explainer::new(&model);
            let mut out = Vec::new();
            for x in pixels.chunks_exact(PIXELS) {
                let p = ex.predict(&model, x)?;
                out.push(serde_json::json!({ "logits": p.logits, "probabilities": p.probabilities, "prediction": p.prediction }));
            }
            print_json(&one_or_many(out, n, is_batch(&io.input)));
        }
        Cmd::Explain { io, method, rules, epsilon, gamma, alpha, beta, steps, samples, sigma, seed, target, contrast, normalize, out, layers, colormap } => {
            let model = load_model(&io.model)?;
            let (pixels, n) = read_input(&io.input)?;
            let params = Params { rules: RuleParams { epsilon, gamma, alpha, beta }, steps, samples, sigma, seed };
            let m = match &rules {
                Some(list) => Method::from_rule_list(list, &model, &params)?,
                None => Method::from_name(&method, &model, &params)?,
            };
            let cmap = ColorMap::from_name(&colormap).ok_or_else(|| LrpError::InvalidParameter(format!("unknown colour map `{colormap}` (bwr or puor)")))?;
            let query = Query { target, contrast, normalize };
            let mut ex = Explainer::new(&model);
            let mut results = Vec::new();
            let mut layer_maps: Vec<Vec<f32>> = vec![Vec::new(); model.shapes().len()];
            for x in pixels.chunks_exact(PIXELS) {
                let e = ex.explain(&model, x, &m, &query)?.clone();
                if layers {
                    for (i, buf) in layer_maps.iter_mut().enumerate() {
                        buf.extend_from_slice(ex.layer_relevance(i).unwrap_or(&[]));
                    }
                }
                results.push(e);
            }
            let name = rules.as_ref().map_or(method.clone(), |r| format!("rules:{r}"));
            let batch = is_batch(&io.input);
            match &out {
                None => {
                    let v = results.iter().map(|e| explanation_json(e, &name)).collect();
                    print_json(&one_or_many(v, n, batch));
                }
                Some(path) if path.extension().and_then(|e| e.to_str()) == Some("png") => {
                    let maps: Vec<&[f32]> = results.iter().map(|e| e.heatmap.as_slice()).collect();
                    write_png(path, &maps, cmap)?;
                }
                Some(path) => {
                    let shape: Vec<usize> = if n == 1 && !batch { vec![SIDE, SIDE] } else { vec![n, SIDE, SIDE] };
                    write_npy(path, &shape, results.iter().flat_map(|e| e.heatmap.iter().copied()).collect())?;
                }
            }
            if layers {
                let base = out.clone().unwrap_or_else(|| PathBuf::from("relevance"));
                for (i, (buf, s)) in layer_maps.into_iter().zip(model.shapes()).enumerate() {
                    let p = base.with_extension(format!("layer{i}.npy"));
                    let shape = if n == 1 && !batch { vec![s.c, s.h, s.w] } else { vec![n, s.c, s.h, s.w] };
                    write_npy(&p, &shape, buf)?;
                }
            }
        }
        Cmd::ImportToolbox { file, out, scale, shift, pad, pad_value, name } => {
            let text = std::fs::read_to_string(&file).map_err(|e| io_err(&file, e))?;
            let name = name.unwrap_or_else(|| file.file_stem().and_then(|s| s.to_str()).unwrap_or("toolbox").to_string());
            let model = import_toolbox(&text, &ToolboxOptions { stage: InputStage::mnist(scale, shift, pad, pad_value), name })?;
            std::fs::write(&out, model.to_safetensors()?).map_err(|e| io_err(&out, e))?;
            print_json(&info_json(&model));
        }
        Cmd::Info { model } => print_json(&info_json(&load_model(&model)?)),
        Cmd::Methods { json } => {
            if json {
                print_json(&serde_json::to_value(lrp::registry::registry()).expect("the registry serializes"));
            } else {
                for m in &lrp::METHODS {
                    println!("{:<22} {:<9} {:<24} {}", m.name, format!("{:?}", m.family).to_lowercase(), m.params.join(","), m.description);
                }
            }
        }
        Cmd::Train(args) => train::train(args)?,
        Cmd::Eval(args) => train::eval(args)?,
        Cmd::Serve(args) => serve::serve(args)?,
        Cmd::Bench(args) => bench::bench(args)?,
    }
    Ok(())
}

fn is_batch(input: &Path) -> bool {
    input.extension().and_then(|e| e.to_str()) == Some("npy")
        && ndarray_npy::read_npy::<_, ArrayD<f32>>(input)
            .map(|a| a.ndim() == 3)
            .or_else(|_| ndarray_npy::read_npy::<_, ArrayD<f64>>(input).map(|a| a.ndim() == 3))
            .unwrap_or(false)
}

fn explanation_json(e: &lrp::Explanation, method: &str) -> serde_json::Value {
    let rows: Vec<&[f32]> = e.heatmap.chunks(SIDE).collect();
    let mut v = serde_json::json!({
        "method": method,
        "target": e.target,
        "contrast": e.contrast,
        "prediction": e.prediction,
        "logits": e.logits,
        "probabilities": e.probabilities,
        "explained": e.explained,
        "sum": e.total(),
        "padding": e.padding,
        "heatmap": rows,
        "layers": e.layers,
    });
    if let (Some(root), Some(value)) = (&e.root, e.root_value) {
        v["root"] = serde_json::json!(root.chunks(SIDE).collect::<Vec<_>>());
        v["root_value"] = serde_json::json!(value);
    }
    v
}

pub(crate) fn info_json(model: &Model) -> serde_json::Value {
    let layers: Vec<serde_json::Value> = model
        .layers()
        .iter()
        .enumerate()
        .map(|(i, l)| serde_json::json!({ "type": l.kind(), "input": model.input_shape_of(i), "inputs": model.inputs(i), "output": model.shapes()[i + 1], "parameters": l.parameters() }))
        .collect();
    let m = model.meta();
    serde_json::json!({
        "name": m.name,
        "description": m.description,
        "classes": m.classes,
        "input_stage": model.input_stage(),
        "multiply_adds": model.multiply_adds(),
        "layers": layers,
        "parameters": model.parameters(),
        "watermark": m.watermark,
        "provenance": m.provenance,
    })
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            // one line, as every other error; `lrp --help` has the details
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ");
            eprintln!("lrp: error: {first} (see lrp --help)");
            std::process::exit(2);
        }
        Err(e) => e.exit(),
    };
    if let Err(e) = run(cli) {
        eprintln!("lrp: error: {e}");
        std::process::exit(1);
    }
}
