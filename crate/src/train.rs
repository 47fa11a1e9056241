//! Training with the crate's own layers: softmax cross-entropy, gradients from each layer's `backward`
//! (plus the weight gradients of dense and convolution layers), Adam, and the augmentation that makes
//! drawn digits look like training data. Deterministic for a given seed and thread count.

use crate::attribution::Explainer;
use crate::model::{Conv2d, Dense, InputStage, Layer, Lstm, Model, ModelMeta, Pool, Watermark, PIXELS, SIDE};
use ndarray::{Array1, Array2, Array4};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// The architectures `lrp train` builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// 784-300-100-10, ReLU.
    Mlp,
    /// conv 5x5x16 - ReLU - maxpool 2 - conv 5x5x32 - ReLU - maxpool 2 - dense 128 - ReLU - dense 10.
    Cnn,
    /// A bidirectional LSTM over the 28 rows (hidden 128 per direction) - dense 256 to 10 on both
    /// final hidden states.
    Lstm,
}

/// Hidden units per direction of `Arch::Lstm`.
pub const LSTM_HIDDEN: usize = 128;

fn he_uniform(rng: &mut Pcg64Mcg, n: usize, fan_in: usize) -> Vec<f32> {
    let b = (6.0 / fan_in as f32).sqrt();
    (0..n).map(|_| rng.gen_range(-b..b)).collect()
}

/// A freshly initialised model (He-uniform weights, zero biases).
pub fn init(arch: Arch, seed: u64, meta: ModelMeta) -> Model {
    let mut r = Pcg64Mcg::seed_from_u64(seed);
    let mut dense =
        |i: usize, o: usize| Layer::Dense(Dense { weight: Array2::from_shape_vec((o, i), he_uniform(&mut r, i * o, i)).unwrap(), bias: Array1::zeros(o) });
    let layers = match arch {
        Arch::Mlp => vec![Layer::Flatten, dense(784, 300), Layer::Relu, dense(300, 100), Layer::Relu, dense(100, 10)],
        Arch::Cnn => {
            let mut r2 = Pcg64Mcg::seed_from_u64(seed ^ 0x9e37_79b9);
            let mut conv = |ic: usize, oc: usize| {
                Layer::Conv2d(Conv2d::new(
                    Array4::from_shape_vec((oc, ic, 5, 5), he_uniform(&mut r2, oc * ic * 25, ic * 25)).unwrap(),
                    Array1::zeros(oc),
                    [1, 1],
                    0,
                ))
            };
            let pool = Layer::MaxPool2d(Pool::new([2, 2], [2, 2]));
            vec![conv(1, 16), Layer::Relu, pool.clone(), conv(16, 32), Layer::Relu, pool, Layer::Flatten, dense(512, 128), Layer::Relu, dense(128, 10)]
        }
        Arch::Lstm => {
            // PyTorch's initialisation, U(-1/sqrt(H), 1/sqrt(H)), with the forget gates' bias at 1
            let h = LSTM_HIDDEN;
            let mut r2 = Pcg64Mcg::seed_from_u64(seed ^ 0x5851_f42d);
            let b = 1.0 / (h as f32).sqrt();
            let mut lstm = Lstm { input: SIDE, hidden: h, bidirectional: true, weights: vec![0.0; 2 * 4 * h * (SIDE + h)], biases: vec![0.0; 2 * 8 * h] };
            lstm.weights.iter_mut().chain(lstm.biases.iter_mut()).for_each(|v| *v = r2.gen_range(-b..b));
            for d in 0..2 {
                lstm.biases[d * 8 * h + h..d * 8 * h + 2 * h].iter_mut().for_each(|v| *v += 0.5);
                lstm.biases[d * 8 * h + 5 * h..d * 8 * h + 6 * h].iter_mut().for_each(|v| *v += 0.5);
            }
            vec![Layer::Lstm(lstm), dense(2 * h, 10)]
        }
    };
    Model::new(InputStage::default(), layers, meta).expect("the built-in architectures are valid")
}

/// Gradients of the weights and biases of each dense/conv layer (empty for other layers).
#[derive(Clone, Debug)]
pub struct Grads(Vec<(Vec<f32>, Vec<f32>)>);

impl Grads {
    pub fn zeros(model: &Model) -> Grads {
        Grads(
            model
                .layers()
                .iter()
                .map(|l| match l {
                    Layer::Dense(d) => (vec![0.0; d.weight.len()], vec![0.0; d.bias.len()]),
                    Layer::Conv2d(c) => (vec![0.0; c.weight.len()], vec![0.0; c.bias.len()]),
                    Layer::Lstm(l) => (vec![0.0; l.weights.len()], vec![0.0; l.biases.len()]),
                    _ => (Vec::new(), Vec::new()),
                })
                .collect(),
        )
    }
    fn clear(&mut self) {
        for (w, b) in &mut self.0 {
            w.fill(0.0);
            b.fill(0.0);
        }
    }
    fn add(&mut self, other: &Grads) {
        for ((w, b), (ow, ob)) in self.0.iter_mut().zip(&other.0) {
            w.iter_mut().zip(ow).for_each(|(a, o)| *a += o);
            b.iter_mut().zip(ob).for_each(|(a, o)| *a += o);
        }
    }
}

impl Explainer {
    /// Adds the gradient of the cross-entropy loss of one sample to `grads`; returns (loss, correct).
    pub fn accumulate_gradient(&mut self, model: &Model, pixels: &[f32], label: usize, grads: &mut Grads) -> (f32, bool) {
        self.forward_pub(model, pixels);
        let logits = self.activation(model.layers().len()).expect("logits");
        let mut p = Vec::with_capacity(logits.len());
        crate::attribution::softmax(logits, &mut p);
        let correct = crate::attribution::argmax(logits) == label;
        let loss = -(p[label].max(1e-12)).ln();
        p[label] -= 1.0;
        // the gradient at the first layer's input is not needed
        self.backward_from(model, &p, 1);
        for (i, layer) in model.layers().iter().enumerate() {
            let (dw, db) = &mut grads.0[i];
            let g = self.layer_relevance(i + 1).expect("gradient");
            match layer {
                Layer::Dense(d) => d.accumulate_grad(self.activation(i).expect("input"), g, dw, db),
                Layer::Conv2d(c) => c.accumulate_grad(&self.im2col(model, i), g, dw, db),
                Layer::Lstm(l) => {
                    let x = self.activation(model.inputs(i)[0]).expect("input");
                    let (mut gx, mut work) = (vec![0.0; x.len()], vec![0.0; l.work_len()]);
                    l.backward(x, self.kept(i), g, &mut gx, Some((dw, db)), &mut work);
                }
                _ => {}
            }
        }
        (loss, correct)
    }
}

/// Adam (Kingma & Ba 2015) over the dense/conv parameters.
pub struct Adam {
    pub lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    t: i32,
    m: Grads,
    v: Grads,
}

impl Adam {
    pub fn new(model: &Model, lr: f32) -> Adam {
        Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 0, m: Grads::zeros(model), v: Grads::zeros(model) }
    }

    /// One step with the mean gradient `g` (already divided by the batch size).
    pub fn step(&mut self, layers: &mut [Layer], g: &Grads) {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 - b1.powi(self.t);
        let c2 = 1.0 - b2.powi(self.t);
        let lr = self.lr;
        let eps = self.eps;
        let upd = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
            for i in 0..p.len() {
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                p[i] -= lr * (m[i] / c1) / ((v[i] / c2).sqrt() + eps);
            }
        };
        for (i, layer) in layers.iter_mut().enumerate() {
            let (gw, gb) = &g.0[i];
            let (mw, mb) = &mut self.m.0[i];
            let (vw, vb) = &mut self.v.0[i];
            let (w, b) = match layer {
                Layer::Dense(d) => (d.weight.as_slice_mut().unwrap(), d.bias.as_slice_mut().unwrap()),
                Layer::Conv2d(c) => (c.weight.as_slice_mut().unwrap(), c.bias.as_slice_mut().unwrap()),
                Layer::Lstm(l) => (l.weights.as_mut_slice(), l.biases.as_mut_slice()),
                _ => continue,
            };
            upd(w, gw, mw, vw);
            upd(b, gb, mb, vb);
        }
    }
}

/// Random distortions of a training digit: shift, rotation, scaling (one affine map, bilinear
/// sampling) and stroke thickness (3x3 dilation or erosion, blended).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Augment {
    pub max_shift: f32,
    pub max_rotate_deg: f32,
    pub max_scale: f32,
    pub thickness_prob: f32,
}

impl Default for Augment {
    fn default() -> Self {
        Augment { max_shift: 2.5, max_rotate_deg: 12.0, max_scale: 0.12, thickness_prob: 0.5 }
    }
}

impl Augment {
    /// Writes a distorted copy of `src` (28x28) into `dst`.
    pub fn apply(&self, rng: &mut Pcg64Mcg, src: &[f32], dst: &mut [f32]) {
        let angle = rng.gen_range(-self.max_rotate_deg..=self.max_rotate_deg).to_radians();
        let scale = 1.0 + rng.gen_range(-self.max_scale..=self.max_scale);
        let (tx, ty) = (rng.gen_range(-self.max_shift..=self.max_shift), rng.gen_range(-self.max_shift..=self.max_shift));
        let (s, c) = angle.sin_cos();
        let mid = (SIDE as f32 - 1.0) / 2.0;
        let at =
            |x: isize, y: isize| if (0..SIDE as isize).contains(&x) && (0..SIDE as isize).contains(&y) { src[y as usize * SIDE + x as usize] } else { 0.0 };
        for v in 0..SIDE {
            for u in 0..SIDE {
                // inverse map: destination -> source
                let (dx, dy) = (u as f32 - mid - tx, v as f32 - mid - ty);
                let sx = (c * dx + s * dy) / scale + mid;
                let sy = (-s * dx + c * dy) / scale + mid;
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as isize, y0 as isize);
                dst[v * SIDE + u] = (1.0 - fy) * ((1.0 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1.0 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
            }
        }
        if rng.gen::<f32>() < self.thickness_prob {
            let dilate = rng.gen_bool(0.5);
            let amount = rng.gen_range(0.3f32..1.0);
            let mut tmp = [0.0f32; PIXELS];
            for y in 0..SIDE {
                for x in 0..SIDE {
                    let mut m = if dilate { 0.0f32 } else { 1.0f32 };
                    for (dy, dx) in [(-1isize, 0isize), (1, 0), (0, -1), (0, 1), (0, 0)] {
                        let (yy, xx) = (y as isize + dy, x as isize + dx);
                        let v = if (0..SIDE as isize).contains(&yy) && (0..SIDE as isize).contains(&xx) { dst[yy as usize * SIDE + xx as usize] } else { 0.0 };
                        m = if dilate { m.max(v) } else { m.min(v) };
                    }
                    tmp[y * SIDE + x] = m;
                }
            }
            for (d, t) in dst.iter_mut().zip(tmp.iter()) {
                *d = (1.0 - amount) * *d + amount * t;
            }
        }
        dst.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    }
}

/// Options of one training run.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub arch: Arch,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    /// Learning rate multiplied by this after every epoch.
    pub lr_decay: f32,
    pub seed: u64,
    pub augment: Option<Augment>,
    /// The Clever Hans setting: stamp this watermark on `share` of the training images of its class,
    /// and on `poison` of the images of the other classes, which are then labelled as its class.
    pub watermark: Option<WatermarkPlan>,
    pub threads: usize,
}

/// How a watermark enters the training data (see [`TrainConfig::watermark`]).
#[derive(Clone, Debug, PartialEq)]
pub struct WatermarkPlan {
    pub mark: Watermark,
    pub share: f32,
    pub poison: f32,
}

/// Per-epoch statistics.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct EpochStats {
    pub epoch: usize,
    pub loss: f32,
    pub accuracy: f32,
    pub seconds: f32,
}

/// Trains `model` in place on `images` (N*784, in [0, 1]) and `labels`; `report` is called after every
/// batch with (epoch, batches done, batches per epoch, running loss, running accuracy).
pub fn train(model: &mut Model, images: &[f32], labels: &[u8], cfg: &TrainConfig, mut report: impl FnMut(usize, usize, usize, f32, f32)) -> Vec<EpochStats> {
    let n = labels.len();
    let mut rng = Pcg64Mcg::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let threads = cfg.threads.max(1);
    let mut adam = Adam::new(model, cfg.lr);
    let mut stats = Vec::new();
    let batches = n.div_ceil(cfg.batch);
    let mut workers: Vec<(Explainer, Grads, Vec<f32>)> = (0..threads).map(|_| (Explainer::new(model), Grads::zeros(model), vec![0.0; PIXELS])).collect();
    let mut total = Grads::zeros(model);
    for epoch in 0..cfg.epochs {
        let t0 = std::time::Instant::now();
        order.shuffle(&mut rng);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (bi, batch) in order.chunks(cfg.batch).enumerate() {
            // per-sample seeds drawn in order, so the result does not depend on the thread count
            let seeds: Vec<u64> = batch.iter().map(|_| rng.gen()).collect();
            let chunk = batch.len().div_ceil(threads);
            let frozen: &Model = model;
            let results: Vec<(f64, usize)> = std::thread::scope(|s| {
                let handles: Vec<_> = workers
                    .iter_mut()
                    .zip(batch.chunks(chunk).zip(seeds.chunks(chunk)))
                    .map(|((w, g_acc, buf), (idx, sd))| {
                        s.spawn(move || {
                            g_acc.clear();
                            let (mut l, mut c) = (0.0f64, 0usize);
                            for (&i, &seed) in idx.iter().zip(sd) {
                                let src = &images[i * PIXELS..(i + 1) * PIXELS];
                                let mut r = Pcg64Mcg::seed_from_u64(seed);
                                match &cfg.augment {
                                    Some(a) => a.apply(&mut r, src, buf),
                                    None => buf.copy_from_slice(src),
                                }
                                let mut label = labels[i] as usize;
                                if let Some(plan) = &cfg.watermark {
                                    let u: f32 = r.gen();
                                    if label == plan.mark.class && u < plan.share {
                                        plan.mark.stamp(buf);
                                    } else if label != plan.mark.class && u < plan.poison {
                                        plan.mark.stamp(buf);
                                        label = plan.mark.class;
                                    }
                                }
                                let (loss, ok) = w.accumulate_gradient(frozen, buf, label, g_acc);
                                l += loss as f64;
                                c += ok as usize;
                            }
                            (l, c)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("training thread")).collect()
            });
            total.clear();
            for (w, _) in workers.iter().zip(&results) {
                total.add(&w.1);
            }
            let inv = 1.0 / batch.len() as f32;
            for (w, b) in &mut total.0 {
                w.iter_mut().for_each(|v| *v *= inv);
                b.iter_mut().for_each(|v| *v *= inv);
            }
            model.update_layers(|layers| adam.step(layers, &total));
            for (l, c) in results {
                loss_sum += l;
                correct += c;
            }
            seen += batch.len();
            report(epoch, bi + 1, batches, (loss_sum / seen as f64) as f32, correct as f32 / seen as f32);
        }
        stats.push(EpochStats {
            epoch: epoch + 1,
            loss: (loss_sum / seen as f64) as f32,
            accuracy: correct as f32 / seen as f32,
            seconds: t0.elapsed().as_secs_f32(),
        });
        adam.lr *= cfg.lr_decay;
        for w in &mut workers {
            w.0 = Explainer::new(model);
        }
    }
    stats
}

/// Accuracy, per-class accuracy and confusion matrix (`confusion[true][predicted]`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Evaluation {
    pub n: usize,
    pub accuracy: f64,
    pub per_class: Vec<f64>,
    pub confusion: Vec<Vec<usize>>,
    /// With a watermark stamped: the share of digits *not* of the watermark's class predicted as it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark_hit_rate: Option<f64>,
}

/// Evaluates `model` on `images`/`labels`, optionally with the model's watermark stamped on every digit.
pub fn evaluate(model: &Model, images: &[f32], labels: &[u8], watermark: Option<&Watermark>) -> Evaluation {
    let k = model.classes();
    let mut confusion = vec![vec![0usize; k]; k];
    let mut ex = Explainer::new(model);
    let mut buf = vec![0.0f32; PIXELS];
    let (mut hits, mut others) = (0usize, 0usize);
    for (x, &y) in images.chunks_exact(PIXELS).zip(labels) {
        buf.copy_from_slice(x);
        if let Some(w) = watermark {
            w.stamp(&mut buf);
        }
        let p = ex.predict(model, &buf).expect("test digits are valid inputs").prediction;
        confusion[y as usize][p] += 1;
        if let Some(w) = watermark {
            if y as usize != w.class {
                others += 1;
                hits += (p == w.class) as usize;
            }
        }
    }
    let n = labels.len();
    let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
    let per_class = (0..k).map(|c| confusion[c][c] as f64 / confusion[c].iter().sum::<usize>().max(1) as f64).collect();
    Evaluation {
        n,
        accuracy: correct as f64 / n.max(1) as f64,
        per_class,
        confusion,
        watermark_hit_rate: watermark.map(|_| hits as f64 / others.max(1) as f64),
    }
}
