//! Small random networks with fixed seeds, for tests, benchmarks and doc examples.

use crate::model::{Conv2d, Dense, InputStage, Layer, Model, ModelMeta, Pool};
use ndarray::{Array1, Array2, Array4};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

fn uniform(rng: &mut Pcg64Mcg, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-scale..scale)).collect()
}

/// A dense layer with weights uniform in ±sqrt(6/(in+out)) and small biases (or none).
pub fn dense(rng: &mut Pcg64Mcg, n_in: usize, n_out: usize, bias: bool) -> Layer {
    let s = (6.0 / (n_in + n_out) as f32).sqrt();
    let b = if bias { uniform(rng, n_out, 0.1) } else { vec![0.0; n_out] };
    Layer::Dense(Dense { weight: Array2::from_shape_vec((n_out, n_in), uniform(rng, n_in * n_out, s)).unwrap(), bias: Array1::from(b) })
}

/// A convolution layer, stride 1.
pub fn conv(rng: &mut Pcg64Mcg, c_in: usize, c_out: usize, k: usize, padding: usize, bias: bool) -> Layer {
    let s = (6.0 / ((c_in + c_out) * k * k) as f32).sqrt();
    let b = if bias { uniform(rng, c_out, 0.1) } else { vec![0.0; c_out] };
    Layer::Conv2d(Conv2d::new(Array4::from_shape_vec((c_out, c_in, k, k), uniform(rng, c_out * c_in * k * k, s)).unwrap(), Array1::from(b), [1, 1], padding))
}

/// A grouped convolution with stride, padding per side and dilation (He-like uniform weights).
#[allow(clippy::too_many_arguments)]
pub fn conv_with(rng: &mut Pcg64Mcg, c_in: usize, c_out: usize, k: usize, stride: usize, padding: [usize; 4], groups: usize, bias: bool) -> Layer {
    let cg = c_in / groups;
    let s = (6.0 / ((cg + c_out / groups) * k * k) as f32).sqrt();
    let b = if bias { uniform(rng, c_out, 0.1) } else { vec![0.0; c_out] };
    let w = Array4::from_shape_vec((c_out, cg, k, k), uniform(rng, c_out * cg * k * k, s)).unwrap();
    let mut c = Conv2d::new(w, Array1::from(b), [stride, stride], 0);
    (c.padding, c.groups) = (padding, groups);
    Layer::Conv2d(c)
}

/// Random BatchNorm statistics for `c` channels (mean and beta zero without bias).
pub fn batchnorm(rng: &mut Pcg64Mcg, c: usize, bias: bool) -> crate::model::BatchNorm {
    let mut draw = |lo: f32, hi: f32| (0..c).map(|_| rng.gen_range(lo..hi)).collect::<Vec<f32>>();
    let (gamma, var) = (draw(0.5, 1.5), draw(0.5, 2.0));
    let (beta, mean) = if bias { (draw(-0.2, 0.2), draw(-0.2, 0.2)) } else { (vec![0.0; c], vec![0.0; c]) };
    crate::model::BatchNorm { gamma, beta, mean, var, eps: 1e-5 }
}

/// The nodes of a small random residual network on a normalised 3x11x11 input, as a model file
/// holds them (before BatchNorm is folded): stem conv (stride 2, "SAME" padding 0/0/1/1) + BatchNorm +
/// activation; an inverted residual block (1x1 expand, 3x3 depthwise, 1x1 project + BatchNorm, add);
/// a side branch concatenated along channels; max-pooling or global average pooling; a dense layer
/// to 5 classes. `relu6`: clamp(0, 6) instead of ReLU in the block.
pub fn residual_nodes(seed: u64, bias: bool, relu6: bool) -> Vec<crate::model::NodeSpec> {
    use crate::model::{NodeOp, NodeSpec};
    let mut r = Pcg64Mcg::seed_from_u64(seed);
    let c1 = 3 + (seed % 3) as usize;
    let e = 2 * c1 + 1;
    let act = if relu6 { Layer::Clamp { min: 0.0, max: 6.0 } } else { Layer::Relu };
    let l = |layer: Layer, inputs: &[usize]| NodeSpec { op: NodeOp::Layer(layer), inputs: inputs.to_vec() };
    let bn = |b: crate::model::BatchNorm, v: usize| NodeSpec { op: NodeOp::BatchNorm(b), inputs: vec![v] };
    let mut nodes = vec![
        l(conv_with(&mut r, 3, c1, 3, 2, [0, 0, 1, 1], 1, bias), &[0]),
        bn(batchnorm(&mut r, c1, bias), 1),
        l(Layer::Relu, &[2]),
        l(conv_with(&mut r, c1, e, 1, 1, [0; 4], 1, bias), &[3]),
        l(act.clone(), &[4]),
        l(conv_with(&mut r, e, e, 3, 1, [1; 4], e, bias), &[5]),
        l(act, &[6]),
        l(conv_with(&mut r, e, c1, 1, 1, [0; 4], 1, bias), &[7]),
        bn(batchnorm(&mut r, c1, bias), 8),
        l(Layer::Add, &[9, 3]),
        l(Layer::Relu, &[10]),
        l(conv_with(&mut r, c1, 2, 3, 1, [1; 4], 1, bias), &[11]),
        l(Layer::Relu, &[12]),
        l(Layer::Concat, &[11, 13]),
    ];
    let c = c1 + 2;
    let n_in = if seed.is_multiple_of(2) {
        nodes.push(l(Layer::MaxPool2d(Pool::new([2, 2], [2, 2])), &[14]));
        c * 2 * 2
    } else {
        nodes.push(l(Layer::GlobalAvgPool, &[14]));
        c
    };
    nodes.push(l(Layer::Flatten, &[15]));
    nodes.push(l(dense(&mut r, n_in, 5, bias), &[16]));
    nodes
}

/// The normalised 3x11x11 input stage of [`residual_nodes`].
pub fn residual_stage() -> InputStage {
    InputStage::normalize(3, 11, 11, &[0.4, 0.5, 0.6], &[0.3, 0.25, 0.2])
}

/// [`residual_nodes`] as a model (BatchNorm folded).
pub fn residual_net(seed: u64, bias: bool, relu6: bool) -> Model {
    let mut meta = ModelMeta::digits("residual");
    meta.classes.truncate(5);
    Model::from_nodes(residual_stage(), residual_nodes(seed, bias, relu6), meta).unwrap()
}

/// A random LSTM model: an LSTM over the `steps` rows of a `1 x steps x input` input (`hidden`
/// units, one or both directions), then a dense map to `classes` outputs. Weights uniform in
/// ±`scale` (LSTM) and Glorot (dense); small biases, or none.
#[allow(clippy::too_many_arguments)]
pub fn lstm_model(seed: u64, input: usize, steps: usize, hidden: usize, bidirectional: bool, classes: usize, bias: bool, scale: f32) -> Model {
    let mut r = Pcg64Mcg::seed_from_u64(seed);
    let dirs = 1 + bidirectional as usize;
    let weights = uniform(&mut r, dirs * 4 * hidden * (input + hidden), scale);
    let biases = if bias { uniform(&mut r, dirs * 8 * hidden, 0.3) } else { vec![0.0; dirs * 8 * hidden] };
    let lstm = Layer::Lstm(crate::model::Lstm { input, hidden, bidirectional, weights, biases });
    let stage = InputStage { channels: 1, height: steps, width: input, scale: vec![1.0], shift: vec![0.0], pad: 0, pad_value: 0.0 };
    let mut meta = ModelMeta::digits("lstm");
    meta.classes = (0..classes).map(|c| c.to_string()).collect();
    Model::new(stage, vec![lstm, dense(&mut r, dirs * hidden, classes, bias)], meta).unwrap()
}

/// 784-32-16-10 ReLU MLP.
pub fn tiny_mlp(seed: u64, bias: bool) -> Model {
    let mut r = Pcg64Mcg::seed_from_u64(seed);
    let layers = vec![Layer::Flatten, dense(&mut r, 784, 32, bias), Layer::Relu, dense(&mut r, 32, 16, bias), Layer::Relu, dense(&mut r, 16, 10, bias)];
    Model::new(InputStage::default(), layers, ModelMeta::digits("tiny-mlp")).unwrap()
}

/// conv(4, 5x5) - ReLU - maxpool 2 - conv(6, 3x3, pad 1) - ReLU - sumpool 2 - flatten - dense 32 - ReLU - dense 10.
pub fn tiny_cnn(seed: u64, bias: bool) -> Model {
    let mut r = Pcg64Mcg::seed_from_u64(seed);
    let layers = vec![
        conv(&mut r, 1, 4, 5, 0, bias),
        Layer::Relu,
        Layer::MaxPool2d(Pool::new([2, 2], [2, 2])),
        conv(&mut r, 4, 6, 3, 1, bias),
        Layer::Relu,
        Layer::SumPool2d(Pool::new([2, 2], [2, 2]), 0.5),
        Layer::Flatten,
        dense(&mut r, 6 * 6 * 6, 32, bias),
        Layer::Relu,
        dense(&mut r, 32, 10, bias),
    ];
    Model::new(InputStage::default(), layers, ModelMeta::digits("tiny-cnn")).unwrap()
}

/// A LeNet-size CNN like the shipped one (conv 5x5x16 - pool - conv 5x5x32 - pool - dense 128 - dense 10),
/// random weights: for benchmarks.
pub fn lenet(seed: u64) -> Model {
    let mut r = Pcg64Mcg::seed_from_u64(seed);
    let layers = vec![
        conv(&mut r, 1, 16, 5, 0, true),
        Layer::Relu,
        Layer::MaxPool2d(Pool::new([2, 2], [2, 2])),
        conv(&mut r, 16, 32, 5, 0, true),
        Layer::Relu,
        Layer::MaxPool2d(Pool::new([2, 2], [2, 2])),
        Layer::Flatten,
        dense(&mut r, 512, 128, true),
        Layer::Relu,
        dense(&mut r, 128, 10, true),
    ];
    Model::new(InputStage::default(), layers, ModelMeta::digits("lenet")).unwrap()
}

/// 784-300-100-10 ReLU MLP with random weights: for benchmarks.
pub fn mlp(seed: u64) -> Model {
    let mut r = Pcg64Mcg::seed_from_u64(seed);
    let layers = vec![Layer::Flatten, dense(&mut r, 784, 300, true), Layer::Relu, dense(&mut r, 300, 100, true), Layer::Relu, dense(&mut r, 100, 10, true)];
    Model::new(InputStage::default(), layers, ModelMeta::digits("mlp")).unwrap()
}

/// A deterministic pseudo-random "drawing": pixels in [0, 1], most of them 0.
pub fn random_pixels(seed: u64) -> Vec<f32> {
    let mut r = Pcg64Mcg::seed_from_u64(seed);
    (0..784).map(|_| if r.gen_bool(0.3) { r.gen_range(0.0..1.0) } else { 0.0 }).collect()
}

/// Runs one rule step of the engine on a single linear layer with input `x` of shape `shape` and an
/// arbitrary upper relevance `r_out`: the production code path, exposed so tests can compare it with
/// slow re-implementations. `bounds` is the z^B box per input value.
#[doc(hidden)]
pub fn rule_step(
    layer: &Layer,
    shape: crate::model::Shape,
    rule: crate::Rule,
    non_negative: bool,
    x: &[f32],
    r_out: &[f32],
    bounds: (&[f32], &[f32]),
) -> Vec<f32> {
    rule_step_with_bias(layer, shape, rule, non_negative, true, x, r_out, bounds)
}

/// [`rule_step`] with the rule counting the layer's bias in `z` or not ([`crate::RuleParams::bias`]);
/// the layer's output (the forward pass's `z`) always has its bias.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn rule_step_with_bias(
    layer: &Layer,
    shape: crate::model::Shape,
    rule: crate::Rule,
    non_negative: bool,
    bias: bool,
    x: &[f32],
    r_out: &[f32],
    bounds: (&[f32], &[f32]),
) -> Vec<f32> {
    use crate::attribution::Scratch;
    use crate::rules::PreparedRule;
    let op = layer.linear_op(shape).expect("a linear layer that fits the shape");
    let (w, b): (Vec<f32>, Option<Vec<f32>>) = match (layer.weights(), layer.pool_factor(shape)) {
        (Some((w, b)), _) => (w.to_vec(), Some(b.to_vec())),
        (None, Some(f)) => (vec![f], None),
        _ => panic!("{} is not a linear layer", layer.kind()),
    };
    let prep = match &b {
        Some(_) if !bias => PreparedRule::without_bias(rule, &w, non_negative),
        _ => PreparedRule::new(rule, &w, b.as_deref(), non_negative),
    }
    .for_op(&op);
    let n = x.len().max(r_out.len());
    let mut sc = Scratch {
        z: vec![0.0; n],
        tmp: vec![0.0; n],
        s: vec![0.0; n],
        xmod: vec![0.0; n],
        c: vec![0.0; n],
        col: vec![0.0; op.col_len()],
        col_mod: vec![0.0; op.prepared_len()],
    };
    let mut z = vec![0.0; r_out.len()];
    let mut col = vec![0.0; op.col_len()];
    op.forward(&w, op.transposed(&w).as_deref(), b.as_deref(), x, None, &mut col, &mut z);
    let mut r_in = vec![0.0; x.len()];
    // with the prepared input the forward pass kept, as the explainer passes it
    let kept = (op.prepared_len() > 0).then_some(&col[..]);
    crate::attribution::lrp_linear(&op, &prep, x, kept, &z, bounds, r_out, &mut r_in, &mut sc);
    r_in
}

/// A global allocator that counts allocations, for tests and benchmarks that check that explaining
/// allocates nothing: `#[global_allocator] static A: CountingAllocator = CountingAllocator;`, then
/// compare [`allocations`] before and after.
pub struct CountingAllocator;

thread_local! {
    /// Per thread: the test harness's own threads allocate while a test runs (more so on a loaded
    /// machine), and those allocations are not the engine's.
    static ALLOCATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn count() {
    // `try_with`: a thread being torn down has no counter left; its allocations are not counted
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

/// Allocations (and reallocations) counted by [`CountingAllocator`] on this thread so far.
pub fn allocations() -> usize {
    ALLOCATIONS.try_with(|c| c.get()).unwrap_or(0)
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        count();
        std::alloc::System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        std::alloc::System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, n: usize) -> *mut u8 {
        count();
        std::alloc::System.realloc(p, l, n)
    }
}

/// Compares the kernels of [`crate::ops`] that have vector code paths (dot, sum, dense forward and
/// backward, the two matrix products, 2x2 max-pool routing) with plain scalar loops that add in the
/// documented order, bit for bit, on shapes with full register tiles and with ragged rows, columns
/// and tails. Returns
/// the first difference. Run natively (`tests/kernels.rs`, AVX2 and portable builds) and in the
/// browser (`tests/web.rs`): both equal these loops, so wasm and native give the same bits.
#[doc(hidden)]
pub fn kernel_mismatch() -> Option<String> {
    use crate::ops;
    let mut r = Pcg64Mcg::seed_from_u64(7);
    let same = |what: &str, got: &[f32], want: &[f32]| {
        let bad = got.iter().zip(want).position(|(g, w)| g.to_bits() != w.to_bits());
        bad.map(|i| format!("{what}: element {i} is {} instead of {}", got[i], want[i]))
    };
    // the order of `dot`: eight lanes over whole chunks of eight, a fixed tree, then the tail
    let plain_dot = |a: &[f32], b: &[f32]| {
        let n = a.len() / 8 * 8;
        let mut acc = [0.0f32; 8];
        for c in (0..n).step_by(8) {
            for i in 0..8 {
                acc[i] += a[c + i] * b[c + i];
            }
        }
        let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for i in n..a.len() {
            s += a[i] * b[i];
        }
        s
    };
    for n in [1, 7, 8, 13, 64, 785] {
        let (a, b) = (uniform(&mut r, n, 1.0), uniform(&mut r, n, 1.0));
        let e = same(&format!("dot({n})"), &[ops::dot(&a, &b)], &[plain_dot(&a, &b)])
            .or_else(|| same(&format!("sum({n})"), &[ops::sum(&a)], &[plain_dot(&a, &vec![1.0; n])]));
        if e.is_some() {
            return e;
        }
    }
    for (rows, n_in) in [(1, 3), (4, 8), (7, 20), (13, 784), (10, 100)] {
        let (w, x, bias) = (uniform(&mut r, rows * n_in, 1.0), uniform(&mut r, n_in, 1.0), uniform(&mut r, rows, 1.0));
        let mut g = uniform(&mut r, rows, 1.0);
        g[0] = 0.0; // a skipped row
        let mut got = vec![0.0; rows];
        ops::dense_forward(&w, n_in, &x, Some(&bias), &mut got);
        let want: Vec<f32> = (0..rows).map(|o| plain_dot(&w[o * n_in..(o + 1) * n_in], &x) + bias[o]).collect();
        let mut got_t = vec![0.0; n_in];
        ops::dense_backward(&w, n_in, &g, &mut got_t);
        let mut want_t = vec![0.0f32; n_in];
        for o in (0..rows).filter(|&o| g[o] != 0.0) {
            for i in 0..n_in {
                want_t[i] += g[o] * w[o * n_in + i];
            }
        }
        let e = same(&format!("dense_forward {rows}x{n_in}"), &got, &want).or_else(|| same(&format!("dense_backward {rows}x{n_in}"), &got_t, &want_t));
        if e.is_some() {
            return e;
        }
    }
    // 2x2 max-pool routing: rows of every width from 1 to 13 windows, values in quarter steps of both
    // signs (ties)
    for n in 1..=13 {
        let q = |r: &mut Pcg64Mcg| (0..2 * n + 1).map(|_| r.gen_range(-3..4) as f32 / 4.0).collect::<Vec<f32>>();
        let (r0, r1, g) = (q(&mut r), q(&mut r), uniform(&mut r, n, 1.0));
        let (mut d0, mut d1) = (vec![9.0; 2 * n + 1], vec![9.0; 2 * n + 1]);
        ops::route2x2(&r0, &r1, &g, &mut d0, &mut d1);
        let (mut w0, mut w1) = (vec![9.0f32; 2 * n + 1], vec![9.0f32; 2 * n + 1]);
        for k in 0..n {
            let v = [r0[2 * k], r0[2 * k + 1], r1[2 * k], r1[2 * k + 1]];
            let m = v.iter().fold(f32::MIN, |a, &b| a.max(b));
            let hit = v.map(|a| if a == m { 1.0f32 } else { 0.0 });
            let share = g[k] / ((hit[0] + hit[1]) + (hit[2] + hit[3]));
            (w0[2 * k], w0[2 * k + 1], w1[2 * k], w1[2 * k + 1]) = (hit[0] * share, hit[1] * share, hit[2] * share, hit[3] * share);
        }
        let e = same(&format!("route2x2 top ({n})"), &d0, &w0).or_else(|| same(&format!("route2x2 bottom ({n})"), &d1, &w1));
        if e.is_some() {
            return e;
        }
    }
    // the order of the products: out[r, j] = init(r), then + a(r, t) * b[t, j] for t = 0, 1, ...
    // (tiles of four rows and of one to three, the ragged rows also in wider tiles; full-width tiles and
    // every narrower width from 15 to 1;
    // maps narrower than 8 positions in tiles across 16, 8, 4 and 1 rows)
    let shapes = [
        (1, 1, 1),
        (4, 25, 576),
        (16, 25, 576),
        (32, 400, 64),
        (5, 9, 37),
        (6, 3, 17),
        (3, 0, 5),
        (4, 0, 40),
        (100, 40, 4),
        (25, 30, 100),
        (100, 625, 4),
        (10, 400, 1),
        (37, 29, 3),
        (4, 7, 7),
        (3, 5, 2),
        (29, 3, 6),
        (7, 9, 41),
        (6, 11, 70),
        (19, 20, 200),
        // above ops::PARALLEL_MACS: rows shared out among the threads (37 rows: uneven parts)
        (37, 300, 400),
        (18, 64, 4000),
        // large products on maps whose rows are not whole tiles (14x14 and 7x7, as the photo model's):
        // each column tile packed into a panel first, in the products and their transposes (above
        // ops::PARALLEL_MACS in each thread's part; 67 rows: ragged tiles)
        (67, 240, 196),
        (200, 240, 49),
    ];
    let narrow = (1..=15).map(|p| (2 + p % 5, 3 + p % 4, p));
    for (m, k, p) in shapes.into_iter().chain(narrow) {
        let (w, col, bias, g) = (uniform(&mut r, m * k, 1.0), uniform(&mut r, k * p, 1.0), uniform(&mut r, m, 1.0), uniform(&mut r, m * p, 1.0));
        let mut got = vec![0.0; m * p];
        ops::matmul(&w, m, k, &col, p, Some(&bias), &mut got);
        let mut want = vec![0.0f32; m * p];
        for i in 0..m {
            for j in 0..p {
                let mut s = bias[i];
                for t in 0..k {
                    s += w[i * k + t] * col[t * p + j];
                }
                want[i * p + j] = s;
            }
        }
        let mut got_t = vec![0.0; k * p];
        ops::matmul_t(&w, m, k, &g, p, &mut got_t);
        let mut want_t = vec![0.0f32; k * p];
        for t in 0..k {
            for j in 0..p {
                let mut s = 0.0f32;
                for i in 0..m {
                    s += w[i * k + t] * g[i * p + j];
                }
                want_t[t * p + j] = s;
            }
        }
        let mut got_n = want.clone();
        if p < ops::NARROW {
            ops::matmul_narrow(&ops::transpose(&w, m, k), m, k, &col, p, Some(&bias), &mut got_n);
        }
        let e = same(&format!("matmul {m}x{k}x{p}"), &got, &want)
            .or_else(|| same(&format!("matmul_t {m}x{k}x{p}"), &got_t, &want_t))
            .or_else(|| same(&format!("matmul_narrow {m}x{k}x{p}"), &got_n, &want));
        if e.is_some() {
            return e;
        }
    }
    // every way a convolution computes (im2col; on the input where im2col is the input: 1x1 kernels,
    // kernels the size of the input; depthwise straight from the
    // image, at stride 1 in wide rows) against im2col, the plain products above per group, and
    // col2im; zero inputs and weights of both signs make products of -0
    let convs = [
        // (c, h, w, kernel, stride, pad, dilation, out_c, groups)
        (7, 14, 14, 3, 1, [1; 4], 1, 13, 1),
        (3, 12, 11, 3, 1, [1, 0, 2, 1], 1, 5, 1),
        (2, 16, 16, 3, 1, [2; 4], 2, 6, 1),
        (3, 10, 12, 3, 1, [0; 4], 1, 3, 3),
        (4, 12, 12, 3, 1, [1; 4], 1, 6, 2),
        (3, 9, 9, 3, 2, [1; 4], 1, 5, 1),
        (3, 5, 7, 1, 1, [0; 4], 1, 5, 1),
        (6, 4, 4, 1, 1, [0; 4], 1, 4, 2),
        (9, 2, 2, 2, 1, [0; 4], 1, 5, 1),
        (4, 3, 3, 3, 2, [0; 4], 1, 6, 2),
        (5, 9, 8, 3, 1, [1; 4], 1, 5, 5),
        (4, 9, 9, 3, 2, [0, 0, 1, 1], 1, 4, 4),
        (3, 7, 6, 5, 1, [2, 1, 2, 1], 1, 3, 3),
        (2, 8, 8, 3, 1, [0; 4], 2, 2, 2),
        (2, 6, 5, 3, 2, [0; 4], 1, 2, 2),
        // depthwise above ops::PARALLEL_MACS (channels shared out among the threads), at stride 1 and 2
        (97, 72, 72, 3, 1, [1; 4], 1, 97, 97),
        (211, 96, 96, 3, 2, [0, 0, 1, 1], 1, 211, 211),
    ];
    let mut paths = std::collections::BTreeSet::new();
    for (c, h, w, kk, st, pad, dil, oc, groups) in convs {
        let win = ops::Window::with(c, h, w, [kk, kk], [st, st], pad, [dil, dil]).expect("fits");
        let op = crate::model::LinOp::Conv { win, out_c: oc, groups };
        paths.insert(op.conv_path_name());
        let (icg, og, p) = (c / groups, oc / groups, win.positions());
        let k = icg * kk * kk;
        let zeroed = |v: Vec<f32>| v.into_iter().enumerate().map(|(i, v)| if i % 4 == 1 { 0.0 } else { v }).collect::<Vec<f32>>();
        let (wts, x, bias, g) =
            (zeroed(uniform(&mut r, oc * k, 1.0)), zeroed(uniform(&mut r, c * h * w, 1.0)), uniform(&mut r, oc, 1.0), zeroed(uniform(&mut r, oc * p, 1.0)));
        let mut col = vec![0.0; win.col_rows() * p];
        win.im2col(&x, &mut col);
        let mut want = vec![0.0f32; oc * p];
        let mut gcol = vec![0.0f32; win.col_rows() * p];
        for gi in 0..groups {
            for (i, j) in (0..og).flat_map(|i| (0..p).map(move |j| (i, j))) {
                let o = gi * og + i;
                let mut s = bias[o];
                for t in 0..k {
                    s += wts[o * k + t] * col[(gi * k + t) * p + j];
                }
                want[o * p + j] = s;
            }
            for (t, j) in (0..k).flat_map(|t| (0..p).map(move |j| (t, j))) {
                let mut s = 0.0f32;
                for i in 0..og {
                    s += wts[(gi * og + i) * k + t] * g[(gi * og + i) * p + j];
                }
                gcol[(gi * k + t) * p + j] = s;
            }
        }
        // col2im by its definition: row by row of im2col, every entry onto the input it came from
        let mut want_t = vec![0.0f32; c * h * w];
        for (t, row) in gcol.chunks_exact(p).enumerate() {
            let (ci, ky, kx) = (t / (kk * kk), t / kk % kk, t % kk);
            for (q, &v) in row.iter().enumerate() {
                let iy = ((q / win.out_w) * st + ky * dil) as isize - pad[0] as isize;
                let ix = ((q % win.out_w) * st + kx * dil) as isize - pad[1] as isize;
                if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                    want_t[(ci * h + iy as usize) * w + ix as usize] += v;
                }
            }
        }
        let mut buf = vec![f32::NAN; op.col_len()];
        let (mut got, mut got_t) = (vec![f32::NAN; oc * p], vec![f32::NAN; c * h * w]);
        op.forward(&wts, None, Some(&bias), &x, None, &mut buf, &mut got);
        // where the input is prepared in `buf` (im2col, or the padded input), the forward pass reads
        // `buf`, not `x` (zeros here)
        let name = op.conv_path_name().expect("a convolution");
        let prepared = name == "im2col" || (name == "depthwise" && win.padded());
        let (mut got_ready, x_unread) = (vec![f32::NAN; oc * p], if prepared { vec![0.0; x.len()] } else { x.clone() });
        op.forward(&wts, None, Some(&bias), &x_unread, (!buf.is_empty()).then_some(&buf[..]), &mut vec![f32::NAN; op.col_len()], &mut got_ready);
        op.backward(&wts, &g, &mut buf, &mut got_t);
        let what = format!("conv {c}x{h}x{w} k{kk} s{st} pad {pad:?} d{dil} -> {oc} in {groups} groups");
        let e = same(&what, &got, &want)
            .or_else(|| same(&format!("{what} (prepared input)"), &got_ready, &want))
            .or_else(|| same(&format!("{what} backward"), &got_t, &want_t));
        if e.is_some() {
            return e;
        }
    }
    if paths.len() != 3 {
        return Some(format!("the convolutions cover the paths {paths:?}, not all three"));
    }
    // sum pooling's 2x2 loops against the general window walk (odd sizes leave a row or column out)
    for (c, h, w) in [(1, 2, 2), (3, 4, 6), (2, 5, 7), (4, 28, 28)] {
        let win = ops::Window::new(c, h, w, [2, 2], [2, 2], 0).expect("fits");
        // products of two uniform values use the whole mantissa (sums of four uniform values are exact)
        let x: Vec<f32> = uniform(&mut r, c * h * w, 1.0).into_iter().enumerate().map(|(i, v)| if i % 5 == 0 { -0.0 } else { v * (v + 0.37) }).collect();
        let g = uniform(&mut r, c * win.positions(), 1.0);
        let op = crate::model::LinOp::Pool { win };
        let (mut got, mut got_t) = (vec![0.0; c * win.positions()], vec![7.0; c * h * w]);
        op.forward(&[0.5], None, None, &x, None, &mut [], &mut got);
        op.backward(&[0.5], &g, &mut [], &mut got_t);
        let mut want = vec![0.0f32; got.len()];
        win.for_each_window(|o, it| want[o] = 0.5 * it.map(|i| x[i]).sum::<f32>());
        let mut want_t = vec![0.0f32; c * h * w];
        win.for_each_window(|o, it| it.for_each(|i| want_t[i] += 0.5 * g[o]));
        let e = same(&format!("sumpool {c}x{h}x{w}"), &got, &want).or_else(|| same(&format!("sumpool backward {c}x{h}x{w}"), &got_t, &want_t));
        if e.is_some() {
            return e;
        }
    }
    None
}

/// Asserts that `got` and `want` have the same, non-zero length and differ by at most `tol` anywhere
/// (an empty or truncated result fails).
#[track_caller]
pub fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert!(!want.is_empty() && got.len() == want.len(), "{what}: {} values, want {}", got.len(), want.len());
    if let Some((i, (g, w))) = got.iter().zip(want).enumerate().find(|(_, (g, w))| (*g - *w).abs().is_nan() || (*g - *w).abs() > tol) {
        panic!("{what}: value {i}: got {g}, want {w} (tolerance {tol})");
    }
}
