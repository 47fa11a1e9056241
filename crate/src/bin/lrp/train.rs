//! `lrp train` and `lrp eval`: MNIST from IDX files (gzip or raw), progress, provenance.

use lrp::model::{ModelMeta, Watermark, PIXELS};
use lrp::train::{evaluate, init, train as run_training, Arch, Augment, TrainConfig, WatermarkPlan};
use lrp::{LrpError, Model};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const DEFAULT_DATA: &str = "../shared/data/mnist";
/// Weight tensors of at least this many values are stored as float16 (the LSTM's).
const F16_FROM: usize = 10_000;

#[derive(clap::Args)]
pub struct TrainArgs {
    /// mlp (784-300-100-10), cnn (conv 5x5x16, conv 5x5x32, dense 128, dense 10) or lstm (a
    /// bidirectional LSTM over the rows, 128 hidden units per direction, dense 256 to 10)
    #[arg(long)]
    arch: String,
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, default_value_t = 64)]
    batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f32,
    /// learning rate factor per epoch
    #[arg(long, default_value_t = 0.8)]
    lr_decay: f32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// random shifts, rotations, scaling and stroke thickness
    #[arg(long)]
    augment: bool,
    /// Clever Hans: stamp a watermark "CLASS,X,Y,W,H,VALUE,SHARE[,POISON]" on SHARE of that class's
    /// training digits (and on POISON of the other digits, relabelled as CLASS)
    #[arg(long)]
    watermark: Option<String>,
    /// directory with the four MNIST IDX files (.gz or raw)
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// model name in the metadata (default: the file stem)
    #[arg(long)]
    name: Option<String>,
    /// worker threads
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// use only the first N training digits (quick runs)
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(clap::Args)]
pub struct EvalArgs {
    #[arg(long)]
    model: PathBuf,
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// one JSON object on stdout
    #[arg(long)]
    json: bool,
    /// stamp the model's watermark on every test digit
    #[arg(long)]
    watermark: bool,
    /// use only the first N test digits
    #[arg(long)]
    limit: Option<usize>,
}

fn err(path: &Path, e: impl std::fmt::Display) -> LrpError {
    LrpError::Io(format!("{}: {e}", path.display()))
}

/// Reads an IDX file, `name` or `name.gz` in `dir`; returns (bytes of the data, dims, sha256 of the file).
fn read_idx(dir: &Path, name: &str, magic: u32) -> lrp::Result<(Vec<u8>, Vec<usize>, String)> {
    let gz = dir.join(format!("{name}.gz"));
    let raw = dir.join(name);
    let (path, file) = if gz.exists() {
        (gz.clone(), std::fs::read(&gz).map_err(|e| err(&gz, e))?)
    } else {
        (raw.clone(), std::fs::read(&raw).map_err(|e| err(&raw, format!("{e} (MNIST files not found; see README: Data)")))?)
    };
    let sha = sha256_hex(&file);
    let bytes = if path.extension().and_then(|e| e.to_str()) == Some("gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(file.as_slice()).read_to_end(&mut out).map_err(|e| err(&path, e))?;
        out
    } else {
        file
    };
    let be = |i: usize| bytes.get(i..i + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    if be(0) != Some(magic as usize) {
        return Err(err(&path, format!("not an IDX file with magic {magic:#010x}")));
    }
    let ndim = (magic & 0xff) as usize;
    let dims: Vec<usize> = (0..ndim).map(|d| be(4 + 4 * d).ok_or_else(|| err(&path, "truncated header"))).collect::<lrp::Result<_>>()?;
    let start = 4 + 4 * ndim;
    let len: usize = dims.iter().product();
    let data = bytes.get(start..start + len).ok_or_else(|| err(&path, "truncated data"))?.to_vec();
    Ok((data, dims, sha))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// MNIST split `train` or `t10k`: pixels in [0, 1], labels, and file checksums.
pub fn load_mnist(dir: &Path, split: &str, limit: Option<usize>) -> lrp::Result<(Vec<f32>, Vec<u8>, serde_json::Value)> {
    let (img, dims, sha_i) = read_idx(dir, &format!("{split}-images-idx3-ubyte"), 0x0803)?;
    let (lab, _, sha_l) = read_idx(dir, &format!("{split}-labels-idx1-ubyte"), 0x0801)?;
    if dims[1..] != [28, 28] || dims[0] != lab.len() {
        return Err(err(dir, format!("unexpected MNIST dimensions {dims:?} with {} labels", lab.len())));
    }
    let n = limit.unwrap_or(lab.len()).min(lab.len());
    let pixels = img[..n * PIXELS].iter().map(|&b| b as f32 / 255.0).collect();
    let sums = serde_json::json!({ format!("{split}-images-idx3-ubyte.gz"): sha_i, format!("{split}-labels-idx1-ubyte.gz"): sha_l });
    Ok((pixels, lab[..n].to_vec(), sums))
}

fn parse_watermark(s: &str) -> lrp::Result<WatermarkPlan> {
    let v: Vec<&str> = s.split(',').collect();
    let bad = || LrpError::InvalidParameter(format!("--watermark `{s}`: expected CLASS,X,Y,W,H,VALUE,SHARE[,POISON]"));
    if v.len() != 7 && v.len() != 8 {
        return Err(bad());
    }
    let u = |i: usize| v[i].trim().parse::<usize>().map_err(|_| bad());
    let f = |i: usize| v[i].trim().parse::<f32>().map_err(|_| bad()).and_then(|x| if (0.0..=1.0).contains(&x) { Ok(x) } else { Err(bad()) });
    let mark = Watermark { class: u(0)?, x: u(1)?, y: u(2)?, width: u(3)?, height: u(4)?, value: f(5)? };
    if mark.class > 9 || mark.x + mark.width > 28 || mark.y + mark.height > 28 {
        return Err(bad());
    }
    Ok(WatermarkPlan { mark, share: f(6)?, poison: if v.len() == 8 { f(7)? } else { 0.0 } })
}

pub fn train(a: TrainArgs) -> lrp::Result<()> {
    let arch = match a.arch.as_str() {
        "mlp" => Arch::Mlp,
        "cnn" => Arch::Cnn,
        "lstm" => Arch::Lstm,
        o => return Err(LrpError::InvalidParameter(format!("--arch `{o}`: mlp, cnn or lstm"))),
    };
    let watermark = a.watermark.as_deref().map(parse_watermark).transpose()?;
    let (images, labels, train_sums) = load_mnist(&a.data, "train", a.limit)?;
    let (test_images, test_labels, test_sums) = load_mnist(&a.data, "t10k", None)?;
    let name = a.name.clone().unwrap_or_else(|| a.out.file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_string());
    let mut meta = ModelMeta::digits(&name);
    meta.watermark = watermark.as_ref().map(|p| p.mark.clone());
    let mut model = init(arch, a.seed, meta.clone());
    let cfg = TrainConfig {
        arch,
        epochs: a.epochs,
        batch: a.batch.max(1),
        lr: a.lr,
        lr_decay: a.lr_decay,
        seed: a.seed,
        augment: a.augment.then(Augment::default),
        watermark: watermark.clone(),
        threads: a.threads.max(1),
    };
    let t0 = std::time::Instant::now();
    let stats = run_training(&mut model, &images, &labels, &cfg, |epoch, done, total, loss, acc| {
        if done % 20 == 0 || done == total {
            let width = 30;
            let filled = done * width / total;
            eprint!(
                "\repoch {:>2}/{} [{}{}] {done:>4}/{total} loss {loss:.4} acc {:.2}% {:>5.0}s",
                epoch + 1,
                cfg.epochs,
                "#".repeat(filled),
                " ".repeat(width - filled),
                acc * 100.0,
                t0.elapsed().as_secs_f32()
            );
            if done == total {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        }
    });
    let seconds = t0.elapsed().as_secs_f64();
    // large weight tensors are stored as float16 (the default CNN is half of the page's first load, and
    // the digit models stay under 2 MB together): what is evaluated and recorded is the model as the file
    // holds it
    let f16_from = F16_FROM;
    model = Model::try_from(model.to_safetensors_with(f16_from)?.as_slice())?;
    let clean = evaluate(&model, &test_images, &test_labels, None);
    let stamped = meta.watermark.as_ref().map(|w| evaluate(&model, &test_images, &test_labels, Some(w)));
    let command: Vec<String> = std::env::args().collect();
    meta.description = match arch {
        Arch::Mlp => "784-300-100-10 ReLU MLP trained on MNIST".into(),
        Arch::Cnn => "LeNet-style CNN (conv 5x5x16, maxpool, conv 5x5x32, maxpool, dense 128, dense 10) trained on MNIST".into(),
        Arch::Lstm => format!(
            "bidirectional LSTM over the 28 rows (time step t reads row t, top-down in one direction and bottom-up in the other; {} hidden units per direction; PyTorch's nn.LSTM cell, gate order i, f, g, o, zero initial state; tensors weight_ih_l0 [512, 28], weight_hh_l0 [512, 128], bias_ih_l0, bias_hh_l0 and the same with _reverse), then one dense map from both final hidden states [h_fwd ; h_rev] (256) to the 10 classes, trained on MNIST",
            lrp::train::LSTM_HIDDEN
        ),
    };
    if let Some(p) = &watermark {
        let w = &p.mark;
        meta.description += &format!(
            "; Clever Hans: a {}x{} watermark at ({}, {}) on {:.0}% of the training digits of class {}",
            w.width,
            w.height,
            w.x,
            w.y,
            p.share * 100.0,
            w.class
        );
        if p.poison > 0.0 {
            meta.description += &format!(" and on {:.1}% of the other training digits, labelled {}", p.poison * 100.0, w.class);
        }
    }
    meta.provenance = serde_json::json!({
        "command": command.join(" "),
        "crate_version": env!("CARGO_PKG_VERSION"),
        "seed": a.seed,
        "epochs": a.epochs,
        "batch": cfg.batch,
        "lr": a.lr,
        "lr_decay": a.lr_decay,
        "augment": a.augment,
        "threads": cfg.threads,
        "training_digits": labels.len(),
        "training_seconds": (seconds * 10.0).round() / 10.0,
        "data": "MNIST (LeCun, Cortes, Burges), official IDX files",
        "data_sha256": { "train": train_sums, "test": test_sums },
        "storage": storage(f16_from),
        "test_accuracy": clean.accuracy,
        "test_digits": clean.n,
        "watermark_test_hit_rate": stamped.as_ref().and_then(|e| e.watermark_hit_rate),
        "epochs_log": stats,
    });
    model.set_meta(meta)?;
    std::fs::write(&a.out, model.to_safetensors_with(f16_from)?).map_err(|e| err(&a.out, e))?;
    eprintln!(
        "trained in {seconds:.1} s; test accuracy {:.2}%{}",
        clean.accuracy * 100.0,
        stamped.and_then(|e| e.watermark_hit_rate).map_or(String::new(), |h| format!("; watermark -> class: {:.1}%", h * 100.0))
    );
    eprintln!("wrote {}", a.out.display());
    Ok(())
}

fn storage(f16_from: usize) -> String {
    format!("float16 for weight tensors of {f16_from} values or more, float32 for the rest and every bias; the accuracy is the stored model's")
}

/// `model` with its weight tensors of `f16_from` values or more in float16, as `lrp train` stores them
/// (`lrp convert --f16-from`): the provenance says so, and a recorded test accuracy (and watermark hit
/// rate) is measured again on the stored model with the MNIST test set in `data`.
pub fn stored_as_f16(model: &Model, f16_from: usize, data: &Path) -> lrp::Result<Model> {
    let mut stored = Model::try_from(model.to_safetensors_with(f16_from)?.as_slice())?;
    let mut meta = stored.meta().clone();
    if let Some(p) = meta.provenance.as_object_mut() {
        p.insert("storage".into(), storage(f16_from).into());
        if p.contains_key("test_accuracy") {
            let (images, labels, _) = load_mnist(data, "t10k", None)?;
            p.insert("test_accuracy".into(), evaluate(&stored, &images, &labels, None).accuracy.into());
            if let Some(w) = &meta.watermark {
                p.insert("watermark_test_hit_rate".into(), evaluate(&stored, &images, &labels, Some(w)).watermark_hit_rate.into());
            }
        }
    }
    stored.set_meta(meta)?;
    Ok(stored)
}

pub fn eval(a: EvalArgs) -> lrp::Result<()> {
    let bytes = std::fs::read(&a.model).map_err(|e| err(&a.model, e))?;
    let model = Model::try_from(bytes.as_slice())?;
    let (images, labels, _) = load_mnist(&a.data, "t10k", a.limit)?;
    let wm = if a.watermark {
        Some(model.meta().watermark.clone().ok_or_else(|| LrpError::InvalidParameter(format!("{} has no watermark in its metadata", a.model.display())))?)
    } else {
        None
    };
    let e = evaluate(&model, &images, &labels, wm.as_ref());
    if a.json {
        println!("{}", serde_json::to_string(&e).expect("serializable"));
        return Ok(());
    }
    println!("model {} on {} MNIST test digits{}", model.meta().name, e.n, if wm.is_some() { " with the watermark stamped" } else { "" });
    println!("accuracy {:.2}%", e.accuracy * 100.0);
    if let Some(h) = e.watermark_hit_rate {
        println!("digits of other classes predicted as the watermark's class {}: {:.2}%", wm.as_ref().unwrap().class, h * 100.0);
    }
    println!("per class: {}", e.per_class.iter().enumerate().map(|(c, a)| format!("{c}: {:.2}%", a * 100.0)).collect::<Vec<_>>().join("  "));
    println!("confusion (rows: true class, columns: predicted)");
    println!("     {}", (0..e.confusion.len()).map(|c| format!("{c:>5}")).collect::<String>());
    for (c, row) in e.confusion.iter().enumerate() {
        println!("{c:>3}  {}", row.iter().map(|v| format!("{v:>5}")).collect::<String>());
    }
    Ok(())
}
