//! `lrp`: the engine on the command line. Output is JSON on stdout unless `--out` is given; errors are
//! one line on stderr and exit code 1.

use clap::{Parser, Subcommand};
use lrp::heatmap::{colorize, max_abs, ColorMap};
use lrp::model::{InputStage, OnnxOptions, Shape, ToolboxOptions, SIDE};
use lrp::preprocess::{ink_from_rgba, preprocess_rgba};
use lrp::report::{ModelInfo, Prediction, Summary};
use lrp::{Explainer, LrpError, Method, Model, ModelFormat, Params, Query, RuleParams};
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

/// A model file and, for ONNX (which does not say), the input normalisation and class names.
#[derive(clap::Args, Clone)]
struct ModelArgs {
    /// Model file: .safetensors (this project's), or .onnx
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    onnx: OnnxArgs,
}

/// What an ONNX file does not say. Pixels in [0, 1] become `pixel * scale + shift` (or `(pixel - mean)
/// / std`) per channel: one value for every channel, or one per channel separated by commas.
#[derive(clap::Args, Clone, Default)]
struct OnnxArgs {
    /// ONNX input scale per channel (default 1)
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true, conflicts_with_all = ["mean", "std"])]
    input_scale: Option<Vec<f32>>,
    /// ONNX input shift per channel (default 0)
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true, conflicts_with_all = ["mean", "std"])]
    input_shift: Option<Vec<f32>>,
    /// ONNX input mean per channel (with --std), e.g. 0.1307 for MNIST, 0.485,0.456,0.406 for ImageNet
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true, requires = "std")]
    mean: Option<Vec<f32>>,
    /// ONNX input standard deviation per channel (with --mean)
    #[arg(long, value_delimiter = ',', requires = "mean")]
    std: Option<Vec<f32>>,
    /// ONNX class names: a text file with one name per line (default 0, 1, ...)
    #[arg(long)]
    classes: Option<PathBuf>,
}

impl OnnxArgs {
    fn given(&self) -> bool {
        self.input_scale.is_some() || self.input_shift.is_some() || self.mean.is_some() || self.classes.is_some()
    }
    fn options(&self, path: &Path) -> lrp::Result<OnnxOptions> {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("onnx").to_string();
        let mut o = OnnxOptions { name, ..OnnxOptions::default() };
        if let (Some(mean), Some(std)) = (&self.mean, &self.std) {
            o = o.with_mean_std(mean, std)?;
        }
        if let Some(v) = &self.input_scale {
            o.scale = v.clone();
        }
        if let Some(v) = &self.input_shift {
            o.shift = v.clone();
        }
        if let Some(p) = &self.classes {
            let text = std::fs::read_to_string(p).map_err(|e| io_err(p, e))?;
            o.classes = Some(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect());
        }
        Ok(o)
    }
}

impl ModelArgs {
    fn load(&self) -> lrp::Result<Model> {
        load_model(&self.model, &self.onnx)
    }
}

#[derive(clap::Args, Clone)]
struct Io {
    #[command(flatten)]
    model: ModelArgs,
    /// Input: .npy float32/float64 of the model's input shape ([28, 28] for a digit, [C, H, W]), with a
    /// leading N for a batch, values in [0, 1]; or an image, JPEG, PNG, GIF, WebP or BMP (a drawing for a
    /// digit model; a photo for an RGB model, cropped with --crop)
    #[arg(long)]
    input: PathBuf,
    /// Photos: the centred square crop as a fraction of the shorter side, resized to the model's input
    /// (224/256, ImageNet's evaluation crop; 1 keeps the whole shorter side). An image of exactly the
    /// model's size is taken as it is.
    #[arg(long, default_value_t = lrp::photo::CROP_FRACTION)]
    crop: f32,
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
        /// LRP-eps stabilizer (default 0.1; lrp-lstm: 0.001)
        #[arg(long, allow_negative_numbers = true)]
        epsilon: Option<f32>,
        #[arg(long, default_value_t = Params::default().rules.gamma, allow_negative_numbers = true)]
        gamma: f32,
        #[arg(long, default_value_t = Params::default().rules.alpha, allow_negative_numbers = true)]
        alpha: f32,
        #[arg(long, default_value_t = Params::default().rules.beta, allow_negative_numbers = true)]
        beta: f32,
        /// LRP: leave every layer's bias out of the rules' z (Zennit's zero_params=['bias']), so that
        /// relevance is conserved through dense and conv layers instead of absorbed by their biases
        #[arg(long)]
        no_bias: bool,
        /// lrp-lstm: the share of what biases and epsilon absorb that goes back evenly to each step's
        /// inputs (Arras et al.): 0 absorbs, 1 conserves relevance (the initial states keep a share)
        #[arg(long, default_value_t = Params::default().rules.bias_factor, allow_negative_numbers = true)]
        bias_factor: f32,
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
        /// Occlusion: side of the square patch, in pixels
        #[arg(long, default_value_t = Params::default().patch)]
        patch: usize,
        /// Occlusion: step between patch positions, in pixels
        #[arg(long, default_value_t = Params::default().stride)]
        stride: usize,
        /// Class to explain (default: the predicted one)
        #[arg(long)]
        target: Option<usize>,
        /// Contrast class: explain "why target and not this one"
        #[arg(long)]
        contrast: Option<usize>,
        /// Start LRP with relevance 1 instead of the logit
        #[arg(long)]
        normalize: bool,
        /// Write the heatmap as float32 .npy (the input's shape, with N for a batch) or as a PNG image
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write every layer's relevance next to --out as OUT.layerI.npy (CHW per input)
        #[arg(long)]
        layers: bool,
        /// Colour map of PNG output: bwr or puor (colour-blind safe)
        #[arg(long, default_value = "bwr")]
        colormap: String,
        /// PNG output: the heatmap laid over the input the model saw (the photo's crop, or the digit)
        #[arg(long)]
        overlay: bool,
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
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Convert a model (an .onnx file) to this project's .safetensors, which keeps its input
    /// normalisation, class names and card
    Convert {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        onnx: OnnxArgs,
        /// The model's name (default: the file's stem)
        #[arg(long)]
        name: Option<String>,
        /// Store weight tensors of N values or more as float16, as `lrp train` does (a recorded test
        /// accuracy is measured again on the stored model)
        #[arg(long, value_name = "N")]
        f16_from: Option<usize>,
        /// The MNIST test set, to measure a recorded accuracy again (with --f16-from)
        #[arg(long, default_value = "../shared/data/mnist")]
        data: PathBuf,
    },
    /// Train a model on MNIST with the crate's own layers
    Train(train::TrainArgs),
    /// Accuracy of a model on the 10,000 MNIST test digits
    Eval(train::EvalArgs),
    /// Serve the demo page on 127.0.0.1 (development server)
    Serve(serve::ServeArgs),
    /// Native time per digit for the shipped models and the main methods
    Bench(bench::BenchArgs),
    /// Native time per photo for the photo model: forward, and forward + explanation
    BenchPhoto(bench::PhotoBenchArgs),
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> LrpError {
    LrpError::Io(format!("{}: {e}", path.display()))
}

/// Reads a model: ONNX for a `.onnx` file, else this project's safetensors.
fn load_model(path: &Path, onnx: &OnnxArgs) -> lrp::Result<Model> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let format = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx")) {
        ModelFormat::Onnx(onnx.options(path)?)
    } else if onnx.given() {
        return Err(LrpError::InvalidParameter(format!(
            "{}: --input-scale, --input-shift, --mean, --std and --classes are for .onnx models (a .safetensors model carries its own)",
            path.display()
        )));
    } else {
        ModelFormat::Safetensors
    };
    format.load(&bytes).map_err(|e| io_err(path, e))
}

/// Reads one or more inputs of `model`'s shape `C x H x W`: `.npy` (f32 or f64) of `[C, H, W]` or
/// `[N, C, H, W]` (`[H, W]` or `[N, H, W]` when C = 1), or an image (JPEG, PNG, GIF, WebP, BMP): any
/// drawing for a 28x28 digit model (MNIST preprocessing; a 28x28 image is taken as it is); for other
/// models an image of exactly H x W is taken as it is, any other the centred square crop of `crop` of
/// its shorter side, resized to H x W (the ImageNet evaluation crop at 224/256). Returns the values, N,
/// and whether the file has a batch axis (its results are then printed as a list, even of one).
fn read_input(path: &Path, model: &Model, crop: f32) -> lrp::Result<(Vec<f32>, usize, bool)> {
    let s = model.input_stage().input_shape();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if ext != "npy" {
        let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
        let img = lrp::photo::decode(&bytes).map_err(|e| io_err(path, e))?;
        let (w, h) = (img.width as usize, img.height as usize);
        let pixels = if (s.c, s.h, s.w) == (1, SIDE, SIDE) {
            if (w, h) == (SIDE, SIDE) {
                ink_from_rgba(&img.rgba, w, h)
            } else {
                preprocess_rgba(&img.rgba, w, h).pixels
            }
        } else if s.c == 1 || s.c == 3 {
            let planes = if (w, h) == (s.w, s.h) {
                lrp::photo::rgba_planes(&img.rgba, w, h)?
            } else if s.h == s.w {
                if !(crop > 0.0 && crop <= 1.0) {
                    return Err(LrpError::InvalidParameter(format!("--crop {crop}: the crop is a fraction of the shorter side in (0, 1]")));
                }
                lrp::photo::crop_planes(&img, lrp::photo::center_crop(img.width, img.height, crop), s.w as u32).map_err(|e| io_err(path, e))?
            } else {
                return Err(io_err(path, format!("a {w}x{h} image for a model of {}x{}x{} inputs: give an image of {}x{} or a .npy", s.c, s.h, s.w, s.w, s.h)));
            };
            if s.c == 1 {
                let n = s.h * s.w;
                (0..n).map(|i| (planes[i] + planes[n + i] + planes[2 * n + i]) / 3.0).collect()
            } else {
                planes
            }
        } else {
            return Err(io_err(path, format!("the model takes {} channels: give a .npy", s.c)));
        };
        return Ok((pixels, 1, false));
    }
    let arr: ArrayD<f32> = match ndarray_npy::read_npy::<_, ArrayD<f32>>(path) {
        Ok(a) => a,
        Err(_) => ndarray_npy::read_npy::<_, ArrayD<f64>>(path).map_err(|e| io_err(path, format!("not a float32/float64 .npy file ({e})")))?.mapv(|v| v as f32),
    };
    let one: &[usize] = if s.c == 1 { &[s.h, s.w] } else { &[s.c, s.h, s.w] };
    let sh = arr.shape();
    let n = if sh == one || sh == [s.c, s.h, s.w] {
        1
    } else if sh.len() == one.len() + 1 && (&sh[1..] == one || sh[1..] == [s.c, s.h, s.w]) {
        sh[0]
    } else {
        return Err(io_err(path, format!("shape {sh:?}: expected {one:?} or [N, {}]", one.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))));
    };
    let v: Vec<f32> = arr.iter().copied().collect();
    lrp::attribution::validate_pixels(&v, model.input_len()).map_err(|e| io_err(path, e))?;
    Ok((v, n, sh.len() == one.len() + 1))
}

/// Heatmaps side by side as a PNG, each `C x H x W` map summed over its channels and scaled up to about
/// 280 pixels high (10x for a digit). With `under` (the inputs, `C x H x W` in [0, 1]) each heatmap is
/// laid over its input: colour in proportion to the relevance's magnitude, the input where it is weak.
fn write_png(path: &Path, maps: &[&[f32]], under: &[&[f32]], shape: Shape, cmap: ColorMap) -> lrp::Result<()> {
    let up = (280 / shape.h).max(1);
    let (mw, mh) = (shape.w * up, shape.h * up);
    let (w, h) = (mw * maps.len(), mh);
    let n = shape.h * shape.w;
    let mut img = vec![0u8; w * h * 4];
    let (mut rgba, mut plane) = (Vec::new(), vec![0.0f32; n]);
    for (k, m) in maps.iter().enumerate() {
        plane.fill(0.0);
        for c in m.chunks_exact(n) {
            plane.iter_mut().zip(c).for_each(|(p, v)| *p += v);
        }
        let scale = max_abs(&plane);
        colorize(&plane, scale, cmap, false, &mut rgba);
        if let Some(x) = under.get(k) {
            for i in 0..n {
                let a = if scale > 0.0 { (plane[i].abs() / scale).sqrt().min(1.0) } else { 0.0 };
                for c in 0..3 {
                    let bg = x[(c % shape.c) * n + i].clamp(0.0, 1.0) * 255.0;
                    rgba[i * 4 + c] = (bg * (1.0 - a) + rgba[i * 4 + c] as f32 * a).round() as u8;
                }
            }
        }
        for y in 0..h {
            for x in 0..mw {
                let src = ((y / up) * shape.w + x / up) * 4;
                let dst = (y * w + k * mw + x) * 4;
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

/// One line of JSON on stdout; a closed pipe (`lrp ... | head`) ends the output quietly.
fn print_json(v: &impl serde::Serialize) {
    use std::io::Write;
    let line = serde_json::to_string(v).expect("the reports serialize");
    if let Err(e) = writeln!(std::io::stdout().lock(), "{line}") {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("lrp: error: stdout: {e}");
            std::process::exit(1);
        }
    }
}

/// One value for one input given alone, else a list.
fn print_one_or_many<T: serde::Serialize>(v: &[T], batch: bool) {
    match v {
        [one] if !batch => print_json(one),
        _ => print_json(&v),
    }
}

fn run(cli: Cli) -> lrp::Result<()> {
    match cli.cmd {
        Cmd::Predict { io } => {
            let model = io.model.load()?;
            let (pixels, _, batch) = read_input(&io.input, &model, io.crop)?;
            let mut ex = Explainer::new(&model);
            let out = lrp::ops::on_pool(|| {
                pixels.chunks_exact(model.input_len()).map(|x| Ok(CliPrediction::of(ex.predict(&model, x)?, &model))).collect::<lrp::Result<Vec<_>>>()
            })?;
            print_one_or_many(&out, batch);
        }
        Cmd::Explain {
            io,
            method,
            rules,
            epsilon,
            gamma,
            alpha,
            beta,
            no_bias,
            bias_factor,
            steps,
            samples,
            sigma,
            seed,
            patch,
            stride,
            target,
            contrast,
            normalize,
            out,
            layers,
            colormap,
            overlay,
        } => {
            let model = io.model.load()?;
            let (pixels, n, batch) = read_input(&io.input, &model, io.crop)?;
            // the method's own default epsilon (lrp-lstm's) unless one is given; a wrapper's is its base's
            let own = lrp::attribution::registry::find(method.rsplit(':').next().unwrap_or(&method)).ok().and_then(|r| r.default_of("epsilon"));
            let epsilon = epsilon.unwrap_or(own.map_or(Params::default().rules.epsilon, |v| v as f32));
            let params = Params { rules: RuleParams { epsilon, gamma, alpha, beta, bias: !no_bias, bias_factor }, steps, samples, sigma, seed, patch, stride };
            let m = match &rules {
                Some(list) => Method::from_rule_list(list, &model, &params)?,
                None => Method::from_name(&method, &model, &params)?,
            };
            let cmap = ColorMap::from_name(&colormap).ok_or_else(|| LrpError::InvalidParameter(format!("unknown colour map `{colormap}` (bwr or puor)")))?;
            let query = Query { target, contrast, normalize };
            let mut ex = Explainer::new(&model);
            let mut results = Vec::new();
            let mut layer_maps: Vec<Vec<f32>> = vec![Vec::new(); model.shapes().len()];
            lrp::ops::on_pool(|| -> lrp::Result<()> {
                for x in pixels.chunks_exact(model.input_len()) {
                    let e = ex.explain(&model, x, &m, &query)?.clone();
                    if layers {
                        for (i, buf) in layer_maps.iter_mut().enumerate() {
                            buf.extend_from_slice(ex.layer_relevance(i).unwrap_or(&[]));
                        }
                    }
                    results.push(e);
                }
                Ok(())
            })?;
            let name = rules.as_ref().map_or(method.clone(), |r| format!("rules:{r}"));
            let shape = model.input_stage().input_shape();
            let dims: Vec<usize> = if shape.c == 1 { vec![shape.h, shape.w] } else { vec![shape.c, shape.h, shape.w] };
            match &out {
                None => {
                    let v: Vec<CliExplanation> = results.iter().map(|e| CliExplanation::of(e, &name, &m, &model)).collect();
                    print_one_or_many(&v, batch);
                }
                Some(path) if path.extension().and_then(|e| e.to_str()) == Some("png") => {
                    let maps: Vec<&[f32]> = results.iter().map(|e| e.heatmap.as_slice()).collect();
                    let under: Vec<&[f32]> = if overlay { pixels.chunks_exact(model.input_len()).collect() } else { Vec::new() };
                    write_png(path, &maps, &under, shape, cmap)?;
                }
                Some(path) => {
                    let dims = if n == 1 && !batch { dims } else { std::iter::once(n).chain(dims).collect() };
                    write_npy(path, &dims, results.iter().flat_map(|e| e.heatmap.iter().copied()).collect())?;
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
            let bytes = std::fs::read(&file).map_err(|e| io_err(&file, e))?;
            let name = name.unwrap_or_else(|| file.file_stem().and_then(|s| s.to_str()).unwrap_or("toolbox").to_string());
            let model = ModelFormat::Toolbox(ToolboxOptions { stage: InputStage::mnist(scale, shift, pad, pad_value), name }).load(&bytes)?;
            std::fs::write(&out, model.to_safetensors()?).map_err(|e| io_err(&out, e))?;
            print_json(&ModelInfo::of(&model));
        }
        Cmd::Info { model } => print_json(&ModelInfo::of(&model.load()?)),
        Cmd::Convert { file, out, onnx, name, f16_from, data } => {
            let mut model = load_model(&file, &onnx)?;
            if let Some(name) = name {
                let mut meta = model.meta().clone();
                meta.name = name;
                model.set_meta(meta)?;
            }
            if let Some(n) = f16_from {
                model = train::stored_as_f16(&model, n, &data)?;
            }
            std::fs::write(&out, model.to_safetensors_with(f16_from.unwrap_or(usize::MAX))?).map_err(|e| io_err(&out, e))?;
            print_json(&ModelInfo::of(&model));
        }
        Cmd::Methods { json } => {
            if json {
                print_json(&lrp::registry::registry());
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
        Cmd::BenchPhoto(args) => bench::bench_photo(args)?,
    }
    Ok(())
}

/// A prediction as `lrp predict` prints it: logits, probabilities, the predicted index and the five
/// most probable classes with their names.
#[derive(serde::Serialize)]
struct CliPrediction {
    #[serde(flatten)]
    prediction: Prediction,
    top: Vec<TopClass>,
}

#[derive(serde::Serialize)]
struct TopClass {
    class: usize,
    name: String,
    logit: f32,
    probability: f32,
}

impl CliPrediction {
    fn of(e: &lrp::Explanation, model: &Model) -> CliPrediction {
        let p = Prediction::of(e);
        let mut order: Vec<usize> = (0..p.logits.len()).collect();
        order.sort_by(|&a, &b| p.logits[b].total_cmp(&p.logits[a]));
        let names = &model.meta().classes;
        let top =
            order.into_iter().take(5).map(|c| TopClass { class: c, name: names[c].clone(), logit: p.logits[c], probability: p.probabilities[c] }).collect();
        CliPrediction { prediction: p, top }
    }
}

/// An explanation as `lrp explain` prints it: the engine's [`Summary`] and the maps as nested arrays of
/// the input's shape (rows of 28 for a digit).
#[derive(serde::Serialize)]
struct CliExplanation<'a> {
    #[serde(flatten)]
    summary: Summary<'a>,
    heatmap: Nested,
    #[serde(skip_serializing_if = "Option::is_none")]
    root: Option<Nested>,
}

/// A map as rows (one channel) or as channels of rows.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Nested {
    Rows(Vec<Vec<f32>>),
    Channels(Vec<Vec<Vec<f32>>>),
}

impl Nested {
    fn of(v: &[f32], s: Shape) -> Nested {
        let rows = |p: &[f32]| p.chunks(s.w.max(1)).map(<[f32]>::to_vec).collect::<Vec<_>>();
        if s.c == 1 {
            Nested::Rows(rows(v))
        } else {
            Nested::Channels(v.chunks((s.h * s.w).max(1)).map(rows).collect())
        }
    }
}

impl<'a> CliExplanation<'a> {
    fn of(e: &'a lrp::Explanation, name: &'a str, method: &Method, model: &Model) -> CliExplanation<'a> {
        let s = model.input_stage().input_shape();
        CliExplanation {
            summary: Summary::of(e, name, model).with_rules(method),
            heatmap: Nested::of(&e.heatmap, s),
            root: e.root.as_deref().map(|r| Nested::of(r, s)),
        }
    }
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
