//! Each rule of the engine against a slow, obviously-correct re-implementation of its formula, written
//! per neuron straight from the table in lrp-conventions.md, on small random dense, convolution and
//! pooling layers (property 7), each with the layer's bias in the rule's `z` and without it (the
//! bias-free variant, `RuleParams::bias = false`).
#![cfg(not(target_arch = "wasm32"))]

use lrp::model::{Conv2d, Dense, Layer, Pool, Shape};
use lrp::testing::rule_step_with_bias;
use lrp::Rule;
use ndarray::{Array1, Array2, Array4};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// One connection of a linear layer: input j feeds output k with weight w.
#[derive(Clone, Copy)]
struct Conn {
    j: usize,
    k: usize,
    w: f64,
}

fn connections(layer: &Layer, s: Shape) -> (Vec<Conn>, Vec<f64>, usize) {
    let mut c = Vec::new();
    match layer {
        Layer::Dense(d) => {
            let (o, i) = d.weight.dim();
            for k in 0..o {
                for j in 0..i {
                    c.push(Conn { j, k, w: d.weight[[k, j]] as f64 });
                }
            }
            (c, d.bias.iter().map(|&b| b as f64).collect(), o)
        }
        Layer::Conv2d(cv) => {
            let (oc, icg, kh, kw) = cv.weight.dim();
            let [pt, pl, pb, pr] = cv.padding;
            let [dh, dw] = cv.dilation;
            let oh = (s.h + pt + pb - dh * (kh - 1) - 1) / cv.stride[0] + 1;
            let ow = (s.w + pl + pr - dw * (kw - 1) - 1) / cv.stride[1] + 1;
            let og = oc / cv.groups;
            for o in 0..oc {
                let g = o / og;
                for y in 0..oh {
                    for x in 0..ow {
                        let k = (o * oh + y) * ow + x;
                        for cg in 0..icg {
                            let ci = g * icg + cg;
                            for dy in 0..kh {
                                for dx in 0..kw {
                                    let iy = (y * cv.stride[0] + dy * dh) as isize - pt as isize;
                                    let ix = (x * cv.stride[1] + dx * dw) as isize - pl as isize;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < s.h && (ix as usize) < s.w {
                                        let j = (ci * s.h + iy as usize) * s.w + ix as usize;
                                        c.push(Conn { j, k, w: cv.weight[[o, cg, dy, dx]] as f64 });
                                    }
                                }
                            }
                        }
                    }
                }
            }
            let bias = (0..oc * oh * ow).map(|k| cv.bias[k / (oh * ow)] as f64).collect();
            (c, bias, oc * oh * ow)
        }
        Layer::SumPool2d(pl, _) | Layer::AvgPool2d(pl) => {
            let f = if let Layer::SumPool2d(_, f) = layer { *f as f64 } else { 1.0 / (pl.kernel[0] * pl.kernel[1]) as f64 };
            pool_connections(s, pl.kernel, pl.stride, pl.padding, f)
        }
        Layer::GlobalAvgPool => pool_connections(s, [s.h, s.w], [1, 1], [0; 4], 1.0 / (s.h * s.w) as f64),
        _ => unreachable!(),
    }
}

fn stab(z: f64, eps: f64) -> f64 {
    if z >= 0.0 {
        z + eps
    } else {
        z - eps
    }
}

thread_local! {
    /// Outputs whose denominator nearly cancels (below 1e-3 of its terms' magnitude) in the last
    /// oracle call: f32 cannot reproduce a division by such a sum, so inputs feeding them are not compared.
    static ILL: std::cell::RefCell<Vec<bool>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `R_j = sum_k num(j,k) / (sum_j num(j,k) + bias_k) * R_k` for a per-connection numerator.
fn redistribute(conns: &[Conn], n_in: usize, n_out: usize, num: impl Fn(&Conn) -> f64, bias: impl Fn(usize) -> f64, eps: f64, r: &[f64]) -> Vec<f64> {
    let mut z: Vec<f64> = (0..n_out).map(&bias).collect();
    let mut mag: Vec<f64> = z.iter().map(|b| b.abs()).collect();
    for c in conns {
        z[c.k] += num(c);
        mag[c.k] += num(c).abs();
    }
    ILL.with(|ill| {
        let mut ill = ill.borrow_mut();
        ill.resize(n_out, false);
        for k in 0..n_out {
            ill[k] |= r[k] != 0.0 && z[k].abs() < 1e-3 * mag[k];
        }
    });
    let mut out = vec![0.0; n_in];
    for c in conns {
        out[c.j] += num(c) / stab(z[c.k], eps) * r[c.k];
    }
    out
}

/// The formula of each rule, per neuron (lrp-conventions.md, "The rules"). `bias` is the bias the rule
/// counts in `z` (zero for the bias-free variant, Zennit's `zero_params=['bias']`); `layer_bias` the
/// layer's own, which decides LRP-gamma's branch by the sign of the layer's real output (as Zennit's
/// unmodified fifth output does).
#[allow(clippy::too_many_arguments)]
fn oracle(rule: Rule, conns: &[Conn], bias: &[f64], layer_bias: &[f64], a: &[f64], r: &[f64], lo: &[f64], hi: &[f64]) -> Vec<f64> {
    let (n_in, n_out) = (a.len(), r.len());
    let tiny = 1e-9;
    let pos = |v: f64| v.max(0.0);
    let neg = |v: f64| v.min(0.0);
    match rule {
        Rule::Zero => redistribute(conns, n_in, n_out, |c| a[c.j] * c.w, |k| bias[k], tiny, r),
        Rule::Epsilon { epsilon } => redistribute(conns, n_in, n_out, |c| a[c.j] * c.w, |k| bias[k], epsilon as f64, r),
        Rule::Gamma { gamma } => {
            // Zennit's generalized gamma: neurons with z > 0 use (a+ with w + g w+) + (a- with w + g w-),
            // neurons with z < 0 use (a+ with w + g w-) + (a- with w + g w+). On non-negative inputs the
            // a- terms vanish, and where no neuron with z < 0 carries relevance this is the plain w + g w+.
            let g = gamma as f64;
            let mut z = layer_bias.to_vec();
            for c in conns {
                z[c.k] += a[c.j] * c.w;
            }
            let up = |c: &Conn| pos(a[c.j]) * (c.w + g * pos(c.w)) + neg(a[c.j]) * (c.w + g * neg(c.w));
            let down = |c: &Conn| pos(a[c.j]) * (c.w + g * neg(c.w)) + neg(a[c.j]) * (c.w + g * pos(c.w));
            let rp: Vec<f64> = (0..n_out).map(|k| if z[k] > 0.0 { r[k] } else { 0.0 }).collect();
            let rn: Vec<f64> = (0..n_out).map(|k| if z[k] < 0.0 { r[k] } else { 0.0 }).collect();
            let p = redistribute(conns, n_in, n_out, up, |k| bias[k] + g * pos(bias[k]), tiny, &rp);
            let n = redistribute(conns, n_in, n_out, down, |k| bias[k] + g * neg(bias[k]), tiny, &rn);
            p.iter().zip(&n).map(|(x, y)| x + y).collect()
        }
        Rule::AlphaBeta { .. } | Rule::ZPlus => {
            let (al, be) = if let Rule::AlphaBeta { alpha, beta } = rule { (alpha as f64, beta as f64) } else { (1.0, 0.0) };
            let p = redistribute(conns, n_in, n_out, |c| pos(a[c.j] * c.w), |k| pos(bias[k]), tiny, r);
            let n = redistribute(conns, n_in, n_out, |c| neg(a[c.j] * c.w), |k| neg(bias[k]), tiny, r);
            p.iter().zip(&n).map(|(x, y)| al * x - be * y).collect()
        }
        Rule::ZBox => redistribute(conns, n_in, n_out, |c| a[c.j] * c.w - lo[c.j] * pos(c.w) - hi[c.j] * neg(c.w), |_| 0.0, tiny, r),
        Rule::WSquare => redistribute(conns, n_in, n_out, |c| c.w * c.w, |_| 0.0, tiny, r),
        Rule::Flat => redistribute(conns, n_in, n_out, |_| 1.0, |_| 0.0, tiny, r),
    }
}

/// A pooling window as connections of weight `f` (zero padding counts in the window, as PyTorch's
/// `count_include_pad`).
fn pool_connections(s: Shape, kernel: [usize; 2], stride: [usize; 2], pad: [usize; 4], f: f64) -> (Vec<Conn>, Vec<f64>, usize) {
    let mut c = Vec::new();
    let oh = (s.h + pad[0] + pad[2] - kernel[0]) / stride[0] + 1;
    let ow = (s.w + pad[1] + pad[3] - kernel[1]) / stride[1] + 1;
    for ch in 0..s.c {
        for y in 0..oh {
            for x in 0..ow {
                let k = (ch * oh + y) * ow + x;
                for dy in 0..kernel[0] {
                    for dx in 0..kernel[1] {
                        let iy = (y * stride[0] + dy) as isize - pad[0] as isize;
                        let ix = (x * stride[1] + dx) as isize - pad[1] as isize;
                        if iy >= 0 && ix >= 0 && (iy as usize) < s.h && (ix as usize) < s.w {
                            c.push(Conn { j: (ch * s.h + iy as usize) * s.w + ix as usize, k, w: f });
                        }
                    }
                }
            }
        }
    }
    (c, vec![0.0; s.c * oh * ow], s.c * oh * ow)
}

fn rand_vec(rng: &mut Pcg64Mcg, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(lo..hi)).collect()
}

fn layers(rng: &mut Pcg64Mcg) -> Vec<(Layer, Shape)> {
    let dense =
        Layer::Dense(Dense { weight: Array2::from_shape_vec((7, 12), rand_vec(rng, 84, -1.0, 1.0)).unwrap(), bias: Array1::from(rand_vec(rng, 7, -0.5, 0.5)) });
    let conv = Layer::Conv2d(Conv2d::new(
        Array4::from_shape_vec((3, 2, 3, 2), rand_vec(rng, 36, -1.0, 1.0)).unwrap(),
        Array1::from(rand_vec(rng, 3, -0.5, 0.5)),
        [2, 1],
        1,
    ));
    let sum = Layer::SumPool2d(Pool::new([2, 2], [2, 1]), 0.5);
    let avg = Layer::AvgPool2d(Pool::new([3, 2], [1, 2]));
    // stride 2 with TensorFlow's asymmetric "SAME" padding, dilation 2, two groups
    let mut grouped =
        Conv2d::new(Array4::from_shape_vec((4, 2, 3, 3), rand_vec(rng, 72, -1.0, 1.0)).unwrap(), Array1::from(rand_vec(rng, 4, -0.5, 0.5)), [2, 2], 0);
    (grouped.padding, grouped.dilation, grouped.groups) = ([0, 1, 2, 1], [2, 1], 2);
    // depthwise 3x3, padding 1
    let mut depthwise =
        Conv2d::new(Array4::from_shape_vec((3, 1, 3, 3), rand_vec(rng, 27, -1.0, 1.0)).unwrap(), Array1::from(rand_vec(rng, 3, -0.5, 0.5)), [1, 1], 1);
    depthwise.groups = 3;
    let padded_avg = Layer::AvgPool2d(Pool { kernel: [3, 3], stride: [2, 2], padding: [1, 1, 1, 1] });
    vec![
        (dense, Shape::new(12, 1, 1)),
        (conv, Shape::new(2, 6, 5)),
        (Layer::Conv2d(grouped), Shape::new(4, 7, 6)),
        (Layer::Conv2d(depthwise), Shape::new(3, 5, 4)),
        (sum, Shape::new(2, 6, 5)),
        (avg, Shape::new(2, 6, 6)),
        (padded_avg, Shape::new(2, 5, 6)),
        (Layer::GlobalAvgPool, Shape::new(3, 4, 5)),
    ]
}

fn rules() -> Vec<Rule> {
    vec![
        Rule::Zero,
        Rule::Epsilon { epsilon: 0.3 },
        Rule::Gamma { gamma: 0.25 },
        Rule::Gamma { gamma: 1.5 },
        Rule::AlphaBeta { alpha: 2.0, beta: 1.0 },
        Rule::AlphaBeta { alpha: 1.5, beta: 0.5 },
        Rule::ZPlus,
        Rule::ZBox,
        Rule::WSquare,
        Rule::Flat,
    ]
}

fn check(non_negative: bool, seed: u64) {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    for (layer, shape) in layers(&mut rng) {
        let n = shape.len();
        let x = if non_negative { rand_vec(&mut rng, n, 0.0, 1.0) } else { rand_vec(&mut rng, n, -1.0, 1.0) };
        let (conns, bias, n_out) = connections(&layer, shape);
        let r_any = rand_vec(&mut rng, n_out, -1.0, 2.0);
        // relevance as a ReLU after the layer leaves it: none where z <= 0 (LRP-gamma's plain form)
        let mut z = bias.clone();
        conns.iter().for_each(|c| z[c.k] += x[c.j] as f64 * c.w);
        let r_relu: Vec<f32> = r_any.iter().zip(&z).map(|(&r, &z)| if z > 0.0 { r } else { 0.0 }).collect();
        let f = |v: &[f32]| v.iter().map(|&q| q as f64).collect::<Vec<f64>>();
        // z^B's box: a general one, and pixels' [0, 1] (a zero lower bound: that term is skipped)
        let boxes = [(vec![-1.0f32; n], vec![1.5f32; n]), (vec![0.0f32; n], vec![1.0f32; n])];
        let cases = rules().into_iter().map(|rule| (rule, &boxes[0], &r_any)).chain([
            (Rule::ZBox, &boxes[1], &r_any),
            (Rule::Gamma { gamma: 0.25 }, &boxes[0], &r_relu),
            (Rule::Gamma { gamma: 1.5 }, &boxes[0], &r_relu),
        ]);
        // every case with the layer's bias in the rules' z, and without (RuleParams::bias = false)
        let no_bias = vec![0.0; bias.len()];
        for ((rule, (lo, hi), r), with_bias) in cases.flat_map(|c| [(c, true), (c, false)]) {
            let got = rule_step_with_bias(&layer, shape, rule, non_negative, with_bias, &x, r, (lo, hi));
            ILL.with(|ill| ill.borrow_mut().clear());
            let rule_bias = if with_bias { &bias } else { &no_bias };
            let want = oracle(rule, &conns, rule_bias, &bias, &f(&x), &f(r), &f(lo), &f(hi));
            assert_eq!(got.len(), want.len(), "{} rule {rule:?}: lengths", layer.kind());
            let ill = ILL.with(|ill| ill.borrow().clone());
            let mut skip = vec![false; n];
            conns.iter().filter(|c| ill[c.k]).for_each(|c| skip[c.j] = true);
            let skipped = skip.iter().filter(|&&s| s).count();
            assert!(skipped * 4 <= n, "{} rule {rule:?}: {skipped} of {n} inputs feed ill-conditioned outputs", layer.kind());
            let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-3);
            for (j, (g, w)) in got.iter().zip(&want).enumerate().filter(|(j, _)| !skip[*j]) {
                assert!(
                    ((*g as f64) - w).abs() <= 1e-5 * scale.max(1.0) + 1e-5 * w.abs(),
                    "{} rule {rule:?} non_negative={non_negative} bias={with_bias}: input {j}: engine {g}, formula {w}",
                    layer.kind()
                );
            }
        }
    }
}

#[test]
fn every_rule_matches_its_formula_on_non_negative_inputs() {
    for seed in 0..4 {
        check(true, seed);
    }
}

#[test]
fn every_rule_matches_its_formula_on_inputs_of_any_sign() {
    for seed in 10..14 {
        check(false, seed);
    }
}
