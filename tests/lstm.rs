//! The LSTM layer and the LRP rules of Arras et al. 2017: a case computed by hand, a slow and obvious
//! re-implementation in f64 (forward, backpropagation through time, LRP) compared with the engine on
//! random LSTMs, and the rules' properties (conservation with the bias factor, nothing through the
//! gates, finite differences, every method finite).
#![cfg(not(target_arch = "wasm32"))]

use lrp::model::{Dense, InputStage, Layer, Lstm, Model, ModelMeta};
use lrp::testing::lstm_model;
use lrp::{Explainer, Method, Params, Query, RuleParams};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

fn params(eps: f32, bias_factor: f32) -> Params {
    Params { rules: RuleParams { epsilon: eps, bias_factor, ..RuleParams::default() }, ..Params::default() }
}

fn lstm_of(m: &Model) -> &Lstm {
    match &m.layers()[0] {
        Layer::Lstm(l) => l,
        _ => panic!("the first layer is the LSTM"),
    }
}

fn dense_of(m: &Model) -> &Dense {
    match &m.layers()[1] {
        Layer::Dense(d) => d,
        _ => panic!("the second layer is dense"),
    }
}

fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn stab(z: f64, eps: f64) -> f64 {
    if z >= 0.0 {
        z + eps
    } else {
        z - eps
    }
}

/// One direction's states, in the order it reads the rows: per step (x, z, i, f, g, o, c_prev, c,
/// h_prev, h), all f64.
struct Step {
    row: usize,
    x: Vec<f64>,
    z_g: Vec<f64>,
    i: Vec<f64>,
    f: Vec<f64>,
    g: Vec<f64>,
    o: Vec<f64>,
    c_prev: Vec<f64>,
    c: Vec<f64>,
    h_prev: Vec<f64>,
}

/// The oracle: the LSTM written out with loops over units.
struct Oracle {
    e: usize,
    h: usize,
    dirs: usize,
    /// per direction: w_ih [4H][E], w_hh [4H][H], b = b_ih + b_hh [4H]
    w_ih: Vec<Vec<Vec<f64>>>,
    w_hh: Vec<Vec<Vec<f64>>>,
    b: Vec<Vec<f64>>,
    /// output: w [classes][dirs*H], b [classes]
    wo: Vec<Vec<f64>>,
    bo: Vec<f64>,
}

impl Oracle {
    fn of(m: &Model) -> Oracle {
        let l = lstm_of(m);
        let (e, h) = (l.input, l.hidden);
        let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
        let mut o = Oracle { e, h, dirs: l.dirs(), w_ih: vec![], w_hh: vec![], b: vec![], wo: vec![], bo: vec![] };
        for d in 0..l.dirs() {
            let p = l.dir(d);
            o.w_ih.push(p.w_ih.chunks(e).map(f).collect());
            o.w_hh.push(p.w_hh.chunks(h).map(f).collect());
            o.b.push(p.b_ih.iter().zip(p.b_hh).map(|(a, b)| *a as f64 + *b as f64).collect());
        }
        let d = dense_of(m);
        o.wo = d.weight.rows().into_iter().map(|r| r.iter().map(|&x| x as f64).collect()).collect();
        o.bo = f(d.bias.as_slice().unwrap());
        o
    }

    fn run(&self, x: &[f32], d: usize) -> Vec<Step> {
        let (e, h) = (self.e, self.h);
        let t_len = x.len() / e;
        let (mut hp, mut cp) = (vec![0.0; h], vec![0.0; h]);
        let mut out = Vec::new();
        for s in 0..t_len {
            let row = if d == 0 { s } else { t_len - 1 - s };
            let xt: Vec<f64> = x[row * e..(row + 1) * e].iter().map(|&v| v as f64).collect();
            let z: Vec<f64> = (0..4 * h)
                .map(|k| self.b[d][k] + (0..e).map(|j| self.w_ih[d][k][j] * xt[j]).sum::<f64>() + (0..h).map(|j| self.w_hh[d][k][j] * hp[j]).sum::<f64>())
                .collect();
            let i: Vec<f64> = (0..h).map(|k| sig(z[k])).collect();
            let f: Vec<f64> = (0..h).map(|k| sig(z[h + k])).collect();
            let g: Vec<f64> = (0..h).map(|k| z[2 * h + k].tanh()).collect();
            let o: Vec<f64> = (0..h).map(|k| sig(z[3 * h + k])).collect();
            let c: Vec<f64> = (0..h).map(|k| f[k] * cp[k] + i[k] * g[k]).collect();
            let hn: Vec<f64> = (0..h).map(|k| o[k] * c[k].tanh()).collect();
            out.push(Step { row, x: xt, z_g: z[2 * h..3 * h].to_vec(), i, f, g, o, c_prev: cp.clone(), c: c.clone(), h_prev: hp.clone() });
            hp = hn;
            cp = c;
        }
        out
    }

    fn final_h(&self, steps: &[Step]) -> Vec<f64> {
        let last = steps.last().unwrap();
        (0..self.h).map(|k| last.o[k] * last.c[k].tanh()).collect()
    }

    fn logits(&self, x: &[f32]) -> Vec<f64> {
        let hs: Vec<f64> = (0..self.dirs).flat_map(|d| self.final_h(&self.run(x, d))).collect();
        self.wo.iter().zip(&self.bo).map(|(w, b)| b + w.iter().zip(&hs).map(|(a, c)| a * c).sum::<f64>()).collect()
    }

    /// d logit[class] / dx by backpropagation through time.
    fn gradient(&self, x: &[f32], class: usize) -> Vec<f64> {
        let (e, h) = (self.e, self.h);
        let mut gx = vec![0.0; x.len()];
        for d in 0..self.dirs {
            let steps = self.run(x, d);
            let mut dh: Vec<f64> = (0..h).map(|k| self.wo[class][d * h + k]).collect();
            let mut dc = vec![0.0; h];
            for st in steps.iter().rev() {
                let mut dz = vec![0.0; 4 * h];
                for k in 0..h {
                    let tc = st.c[k].tanh();
                    let dck = dc[k] + dh[k] * st.o[k] * (1.0 - tc * tc);
                    dz[k] = dck * st.g[k] * st.i[k] * (1.0 - st.i[k]);
                    dz[h + k] = dck * st.c_prev[k] * st.f[k] * (1.0 - st.f[k]);
                    dz[2 * h + k] = dck * st.i[k] * (1.0 - st.g[k] * st.g[k]);
                    dz[3 * h + k] = dh[k] * tc * st.o[k] * (1.0 - st.o[k]);
                    dc[k] = dck * st.f[k];
                }
                for j in 0..e {
                    gx[st.row * e + j] += (0..4 * h).map(|k| self.w_ih[d][k][j] * dz[k]).sum::<f64>();
                }
                dh = (0..h).map(|j| (0..4 * h).map(|k| self.w_hh[d][k][j] * dz[k]).sum::<f64>()).collect();
            }
        }
        gx
    }

    /// Arras et al.'s LRP from R = logit[class] at the output: (input relevance, initial states' share).
    /// `lin` is their `lrp_linear`: messages (w_jk x_j + bf (b_k + eps sign z_k) / n) R_k / (z_k + eps sign z_k)
    /// for every input j and output k, written exactly so.
    fn lrp(&self, x: &[f32], class: usize, eps: f64, bf: f64) -> (Vec<f64>, f64) {
        let (e, h) = (self.e, self.h);
        let lin = |xs: &[f64], w: &dyn Fn(usize, usize) -> f64, b: &[f64], z: &[f64], r: &[f64], n: usize| -> Vec<f64> {
            (0..xs.len())
                .map(|j| {
                    (0..z.len()).map(|k| (w(j, k) * xs[j] + bf * (b[k] + eps * if z[k] >= 0.0 { 1.0 } else { -1.0 }) / n as f64) * r[k] / stab(z[k], eps)).sum()
                })
                .collect()
        };
        let all: Vec<Vec<Step>> = (0..self.dirs).map(|d| self.run(x, d)).collect();
        let hs: Vec<f64> = all.iter().flat_map(|s| self.final_h(s)).collect();
        let logits = self.logits(x);
        let mut r_out = vec![0.0; logits.len()];
        r_out[class] = logits[class];
        // the output layer over both directions' final states: n = dirs * H
        let r_hs = lin(&hs, &|j, k| self.wo[k][j], &self.bo, &logits, &r_out, self.dirs * h);
        let mut rx = vec![0.0; x.len()];
        let mut init = 0.0;
        for (d, steps) in all.iter().enumerate() {
            let mut rh: Vec<f64> = r_hs[d * h..(d + 1) * h].to_vec();
            let mut rc = vec![0.0; h];
            for st in steps.iter().rev() {
                let rct: Vec<f64> = (0..h).map(|k| rc[k] + rh[k]).collect();
                // the cell: inputs f*c_prev (h units) and i*g (h units), identity weights, no bias, n = 2H
                let fc: Vec<f64> = (0..h).map(|k| st.f[k] * st.c_prev[k]).collect();
                let ig: Vec<f64> = (0..h).map(|k| st.i[k] * st.g[k]).collect();
                let id = |j: usize, k: usize| if j == k { 1.0 } else { 0.0 };
                let zero = vec![0.0; h];
                rc = lin(&fc, &id, &zero, &st.c, &rct, 2 * h);
                let rg = lin(&ig, &id, &zero, &st.c, &rct, 2 * h);
                // the candidate: inputs x_t (E) and h_prev (H), the g rows, n = E + H
                let bg: Vec<f64> = (0..h).map(|k| self.b[d][2 * h + k]).collect();
                let rxt = lin(&st.x, &|j, k| self.w_ih[d][2 * h + k][j], &bg, &st.z_g, &rg, e + h);
                for j in 0..e {
                    rx[st.row * e + j] += rxt[j];
                }
                rh = lin(&st.h_prev, &|j, k| self.w_hh[d][2 * h + k][j], &bg, &st.z_g, &rg, e + h);
            }
            init += rh.iter().sum::<f64>() + rc.iter().sum::<f64>();
        }
        (rx, init)
    }
}

fn random_input(seed: u64, n: usize) -> Vec<f32> {
    let mut r = Pcg64Mcg::seed_from_u64(seed);
    (0..n).map(|_| r.gen_range(0.0f32..1.0)).collect()
}

#[track_caller]
fn close64(got: &[f32], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(((*g as f64) - w).abs() <= tol * scale, "{what}: value {i}: got {g}, want {w} (tolerance {tol} of {scale})");
    }
}

#[test]
fn engine_matches_the_slow_oracle_on_random_lstms() {
    let mut r = Pcg64Mcg::seed_from_u64(7);
    let mut ex = Explainer::default();
    for case in 0..60u64 {
        let (e, t, h) = (r.gen_range(1..=8), r.gen_range(1..=6), r.gen_range(1..=8));
        let bidirectional = case % 2 == 0;
        let model = lstm_model(case, e, t, h, bidirectional, 3, case % 3 != 0, 0.9);
        let oracle = Oracle::of(&model);
        let x = random_input(100 + case, e * t);
        let what = format!("case {case}: E {e}, T {t}, H {h}, bidirectional {bidirectional}");
        let logits = oracle.logits(&x);
        close64(&ex.predict(&model, &x).unwrap().logits, &logits, 1e-5, &format!("{what}: logits"));
        let class = case as usize % 3;
        let q = Query { target: Some(class), ..Query::default() };
        let g = ex.explain(&model, &x, &Method::Gradient, &q).unwrap().heatmap.clone();
        close64(&g, &oracle.gradient(&x, class), 1e-5, &format!("{what}: gradient"));
        for (eps, bf) in [(0.001, 0.0), (0.001, 1.0), (0.3, 0.0), (0.3, 1.0), (0.05, 0.5)] {
            let m = Method::from_name("lrp-lstm", &model, &params(eps, bf)).unwrap();
            let got = ex.explain(&model, &x, &m, &q).unwrap();
            let (want, init) = oracle.lrp(&x, class, eps as f64, bf as f64);
            close64(&got.heatmap, &want, 2e-5, &format!("{what}: lrp eps {eps} bias factor {bf}"));
            let reported: f32 = got.lstm.as_ref().unwrap().initial_state.iter().sum();
            assert!((reported as f64 - init).abs() <= 2e-5 * logits[class].abs().max(init.abs()).max(1e-3), "{what}: initial states {reported} vs {init}");
        }
    }
}

#[test]
fn bias_factor_one_conserves_and_zero_leaves_the_initial_states_nothing() {
    let mut ex = Explainer::default();
    for case in 0..30u64 {
        let model = lstm_model(case, 5, 6, 7, true, 4, true, 1.2);
        let x = random_input(case, 30);
        for eps in [1e-6f32, 1e-3, 0.1, 1.0, 10.0] {
            let one = Method::from_name("lrp-lstm", &model, &params(eps, 1.0)).unwrap();
            let e = ex.explain(&model, &x, &one, &Query::default()).unwrap();
            let l = e.lstm.as_ref().unwrap();
            let total = e.total() + l.initial_state.iter().sum::<f32>();
            assert!((total - e.explained).abs() <= 1e-5 * e.explained.abs().max(1e-3), "case {case} eps {eps}: {total} vs {}", e.explained);
            // the per-row report adds up to the heatmap
            let rows: f32 = l.rows.iter().flatten().sum();
            let mass: f32 = e.heatmap.iter().map(|v| v.abs()).sum();
            assert!((rows - e.total()).abs() <= 1e-5 * mass.max(1e-3), "case {case}: rows {rows} vs {}", e.total());
            assert!(l.initial_state.iter().any(|&v| v != 0.0), "with the bias factor the initial states get a share");
            let zero = Method::from_name("lrp-lstm", &model, &params(eps, 0.0)).unwrap();
            let e = ex.explain(&model, &x, &zero, &Query::default()).unwrap();
            assert_eq!(e.lstm.as_ref().unwrap().initial_state, vec![0.0, 0.0], "case {case} eps {eps}");
        }
    }
}

#[test]
fn gates_receive_nothing() {
    // Zero the candidate's input weights: x then reaches the output only through the gates i, f, o.
    // The gradient sees it; LRP gives x nothing (signal-take-all), for every eps and any bias factor 0.
    let mut model = lstm_model(3, 4, 5, 6, true, 3, true, 1.0);
    model.update_layers(|layers| {
        let Layer::Lstm(l) = &mut layers[0] else { panic!() };
        let (e, h) = (l.input, l.hidden);
        let per = 4 * h * (e + h);
        for d in 0..2 {
            l.weights[d * per + 2 * h * e..d * per + 3 * h * e].fill(0.0);
        }
    });
    let x = random_input(1, 20);
    let mut ex = Explainer::default();
    let g = ex.explain(&model, &x, &Method::Gradient, &Query::default()).unwrap().heatmap.clone();
    assert!(g.iter().map(|v| v.abs()).sum::<f32>() > 1e-3, "x does reach the output through the gates");
    for eps in [1e-3, 0.1] {
        let m = Method::from_name("lrp-lstm", &model, &params(eps, 0.0)).unwrap();
        let e = ex.explain(&model, &x, &m, &Query::default()).unwrap();
        assert!(e.heatmap.iter().all(|&v| v == 0.0), "eps {eps}: {:?}", e.heatmap);
    }
}

#[test]
fn gradient_matches_finite_differences() {
    let mut ex = Explainer::default();
    for case in 0..8u64 {
        let model = lstm_model(case, 6, 5, 8, case % 2 == 0, 3, true, 0.8);
        let x = random_input(case, 30);
        let q = Query { target: Some(1), ..Query::default() };
        let g = ex.explain(&model, &x, &Method::Gradient, &q).unwrap().heatmap.clone();
        let oracle = Oracle::of(&model);
        let mut xp: Vec<f32> = x.clone();
        for i in 0..x.len() {
            let hstep = 1e-3f32;
            xp[i] = x[i] + hstep;
            let up = oracle.logits(&xp)[1];
            xp[i] = x[i] - hstep;
            let down = oracle.logits(&xp)[1];
            xp[i] = x[i];
            let fd = (up - down) / (2.0 * hstep as f64);
            assert!((g[i] as f64 - fd).abs() < 1e-3, "case {case} input {i}: gradient {} vs finite difference {fd}", g[i]);
        }
    }
}

#[test]
fn every_method_is_finite_on_random_and_saturated_inputs() {
    let mut ex = Explainer::default();
    // large weights saturate every gate (sigmoid at 0 or 1, tanh at +-1)
    for (scale, x) in [(0.5, random_input(9, 28 * 28)), (30.0, random_input(10, 28 * 28)), (30.0, vec![1.0; 784]), (1.0, vec![0.0; 784])] {
        let model = lstm_model(5, 28, 28, 16, true, 10, true, scale);
        let names = lrp::attribution::registry::available(&model);
        for name in ["gradient", "sensitivity", "gradient-x-input", "simple-taylor", "integrated-gradients", "smoothgrad", "lrp-0", "lrp-eps", "lrp-lstm"] {
            assert!(names.contains(&name), "{name} is offered for the LSTM");
        }
        for name in names.iter().copied().chain(["smoothgrad:lrp-lstm", "integrated-gradients:lrp-lstm"]) {
            for bf in [0.0, 1.0] {
                let p = Params { steps: 8, samples: 4, ..params(1e-3, bf) };
                let m = Method::from_name(name, &model, &p).unwrap();
                let e = ex.explain(&model, &x, &m, &Query::default()).unwrap();
                assert!(e.heatmap.iter().all(|v| v.is_finite()), "{name} at weight scale {scale}");
            }
        }
    }
}

#[test]
fn presets_for_convolutions_are_not_offered_for_an_lstm() {
    let model = lstm_model(1, 28, 28, 4, true, 10, true, 0.5);
    let names = lrp::attribution::registry::available(&model);
    for name in ["epsilon-plus", "epsilon-gamma-box", "deep-taylor", "lrp-zplus", "lrp-gamma", "epsilon-plus-flat", "lrp-alpha2-beta1"] {
        assert!(!names.contains(&name), "{name} is offered for the LSTM");
        let err = Method::from_name(name, &model, &Params::default()).unwrap_err().to_string();
        assert!(err.contains("not defined for LSTM layers") && err.contains("lrp-lstm"), "{name}: {err}");
    }
    // and lrp-lstm is not offered for a model without an LSTM
    let cnn = lrp::testing::tiny_cnn(1, true);
    assert!(!lrp::attribution::registry::available(&cnn).contains(&"lrp-lstm"));
    assert!(Method::from_name("lrp-lstm", &cnn, &Params::default()).unwrap_err().to_string().contains("no LSTM layer"));
    // a bias factor outside [0, 1] is refused
    assert!(Method::from_name("lrp-lstm", &model, &params(1e-3, 1.5)).unwrap_err().to_string().contains("bias_factor"));
}

/// One unit, one input per step, two steps, one direction; output `y = 2 h_2` (two classes: `y` and
/// `-y`). The weights make the gates round: i, f and o have pre-activation 0 (gate 1/2) and the
/// candidate's weights are (w_ig = 1 on x, u_g = 2 on h, b_g = 0.5 in bias_ih).
fn one_unit() -> Model {
    // rows i, f, g, o
    let weights = vec![0.0, 0.0, 1.0, 0.0, /* weight_hh */ 0.0, 0.0, 2.0, 0.0];
    let biases = vec![0.0, 0.0, 0.5, 0.0, /* bias_hh */ 0.0, 0.0, 0.0, 0.0];
    let lstm = Layer::Lstm(Lstm { input: 1, hidden: 1, bidirectional: false, weights, biases });
    let out = Layer::Dense(Dense { weight: Array2::from_shape_vec((2, 1), vec![2.0, -2.0]).unwrap(), bias: Array1::zeros(2) });
    let stage = InputStage { channels: 1, height: 2, width: 1, scale: vec![1.0], shift: vec![0.0], pad: 0, pad_value: 0.0 };
    let mut meta = ModelMeta::digits("one-unit");
    meta.classes.truncate(2);
    Model::new(stage, vec![lstm, out], meta).unwrap()
}

#[test]
fn one_unit_two_steps_by_hand() {
    let model = one_unit();
    let x = [1.0f32, 0.5];
    // step 1: z_g1 = 1 * 1 + 0.5 = 1.5, g1 = tanh 1.5; c1 = 0.5 * 0 + 0.5 g1; h1 = 0.5 tanh c1
    let g1 = 1.5f64.tanh();
    let c1 = 0.5 * g1;
    let h1 = 0.5 * c1.tanh();
    // step 2: z_g2 = 0.5 + 2 h1 + 0.5, g2 = tanh z_g2; c2 = 0.5 c1 + 0.5 g2; h2 = 0.5 tanh c2; y = 2 h2
    let zg2 = 1.0 + 2.0 * h1;
    let g2 = zg2.tanh();
    let c2 = 0.5 * c1 + 0.5 * g2;
    let h2 = 0.5 * c2.tanh();
    let y = 2.0 * h2;
    let mut ex = Explainer::default();
    let e = ex.predict(&model, &x).unwrap();
    assert!((e.logits[0] as f64 - y).abs() < 1e-6 && (e.logits[1] as f64 + y).abs() < 1e-6, "{:?} vs {y}", e.logits);

    // LRP with eps -> 0 (1e-9) and no bias factor, from R(y) = y:
    // output: R(h2) = 2 h2 * y / y = y (no bias in the output layer)
    let r_h2 = y;
    // h2 = o2 tanh c2: all of it to c2.  R(c2) = y
    // cell 2: R(c1) = (0.5 c1) / c2 * R(c2), R(g2) = (0.5 g2) / c2 * R(c2)
    let r_c1_from_2 = 0.5 * c1 / c2 * r_h2;
    let r_g2 = 0.5 * g2 / c2 * r_h2;
    // candidate 2: z = 1 * x2 + 2 * h1 + 0.5: R(x2) = x2 / z R(g2), R(h1) = 2 h1 / z R(g2), the bias absorbs 0.5 / z
    let r_x2 = 0.5 / zg2 * r_g2;
    let r_h1 = 2.0 * h1 / zg2 * r_g2;
    // step 1: R(c1) = R(c1 from cell 2) + R(h1)
    let r_c1 = r_c1_from_2 + r_h1;
    // cell 1: c1 = 0.5 * c0 + 0.5 g1 with c0 = 0: all to g1.  R(g1) = R(c1)
    let r_g1 = 0.5 * g1 / c1 * r_c1;
    // candidate 1: z = 1 * x1 + 0.5 (h0 = 0): R(x1) = 1 / 1.5 R(g1)
    let r_x1 = 1.0 / 1.5 * r_g1;
    let m = Method::from_name("lrp-lstm", &model, &params(1e-9, 0.0)).unwrap();
    let got = ex.explain(&model, &x, &m, &Query { target: Some(0), ..Query::default() }).unwrap();
    close64(&got.heatmap, &[r_x1, r_x2], 1e-6, "R(x1), R(x2)");
    assert_eq!(got.lstm.as_ref().unwrap().rows, vec![vec![got.heatmap[0], got.heatmap[1]]]);
    // what the candidates' biases absorbed: 0.5 / z of each R(g)
    let absorbed = 0.5 / zg2 * r_g2 + 0.5 / 1.5 * r_g1;
    assert!((y - r_x1 - r_x2 - absorbed).abs() < 1e-9, "the bookkeeping of this test");

    // bias factor 1: the absorbed share goes evenly to the inputs of each sum, so everything arrives.
    // candidate 2 (n = E + H = 2): x2 and h1 each get 0.5 * (0.5 / z2) R(g2) more
    let share2 = 0.5 * (0.5 / zg2 * r_g2);
    let r_x2b = r_x2 + share2;
    let r_h1b = r_h1 + share2;
    let r_c1b = r_c1_from_2 + r_h1b;
    // cell 1 (n = 2H = 2): c0 = 0 gets nothing by its product, all of R(c1) reaches g1
    let r_g1b = r_c1b;
    // candidate 1: x1 gets (x1 + 0.5 / 2) / 1.5 R(g1), h0 gets (0 + 0.5 / 2) / 1.5 R(g1)
    let r_x1b = (1.0 + 0.25) / 1.5 * r_g1b;
    let r_h0 = 0.25 / 1.5 * r_g1b;
    let m = Method::from_name("lrp-lstm", &model, &params(1e-9, 1.0)).unwrap();
    let got = ex.explain(&model, &x, &m, &Query { target: Some(0), ..Query::default() }).unwrap();
    close64(&got.heatmap, &[r_x1b, r_x2b], 1e-6, "bias factor 1: R(x1), R(x2)");
    let init = got.lstm.as_ref().unwrap().initial_state[0] as f64;
    assert!((init - r_h0).abs() < 1e-6, "initial states {init} vs {r_h0}");
    assert!((r_x1b + r_x2b + r_h0 - y).abs() < 1e-9, "conserved: {} vs {y}", r_x1b + r_x2b + r_h0);
}

#[test]
fn contrast_subtracts_the_per_direction_report() {
    let model = lstm_model(2, 6, 6, 5, true, 3, true, 1.0);
    let x = random_input(4, 36);
    let m = Method::from_name("lrp-lstm", &model, &params(1e-3, 1.0)).unwrap();
    let mut ex = Explainer::default();
    let a = ex.explain(&model, &x, &m, &Query { target: Some(0), ..Query::default() }).unwrap().lstm.clone().unwrap();
    let b = ex.explain(&model, &x, &m, &Query { target: Some(2), ..Query::default() }).unwrap().lstm.clone().unwrap();
    let c = ex.explain(&model, &x, &m, &Query { target: Some(0), contrast: Some(2), ..Query::default() }).unwrap().lstm.clone().unwrap();
    for d in 0..2 {
        for t in 0..6 {
            assert!((c.rows[d][t] - (a.rows[d][t] - b.rows[d][t])).abs() < 1e-5);
        }
        assert!((c.initial_state[d] - (a.initial_state[d] - b.initial_state[d])).abs() < 1e-5);
    }
}

#[test]
fn the_model_file_round_trips_with_pytorch_names() {
    let model = lstm_model(8, 28, 28, 6, true, 10, true, 0.5);
    let bytes = model.to_safetensors().unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "layers.0.bias_hh_l0",
            "layers.0.bias_hh_l0_reverse",
            "layers.0.bias_ih_l0",
            "layers.0.bias_ih_l0_reverse",
            "layers.0.weight_hh_l0",
            "layers.0.weight_hh_l0_reverse",
            "layers.0.weight_ih_l0",
            "layers.0.weight_ih_l0_reverse",
            "layers.1.bias",
            "layers.1.weight"
        ]
    );
    assert_eq!(st.tensor("layers.0.weight_ih_l0").unwrap().shape(), [24, 28]);
    let back = Model::try_from(bytes.as_slice()).unwrap();
    assert_eq!(back.layers(), model.layers());
}
