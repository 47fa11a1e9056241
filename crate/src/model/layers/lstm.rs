//! A one- or two-directional LSTM over the rows of a `1 x T x E` input (time step `t` reads row `t`;
//! the reverse direction reads the rows bottom-up), returning the final hidden state of each direction,
//! `[h_fwd ; h_rev]` (`dirs * H` values). The standard cell, PyTorch's `nn.LSTM` with gate order
//! i, f, g, o and zero initial state:
//!
//! ```text
//! z_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh          (4H values: i, f, g, o)
//! i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);   g = tanh(z_g)
//! c_t = f * c_{t-1} + i * g;                            h_t = o * tanh(c_t)
//! ```
//!
//! LRP follows Arras et al. 2017 ("Explaining recurrent neural network predictions in sentiment
//! analysis"), see [`Lstm::lrp`]: epsilon rule on the linear parts, signal-take-all on the gates.

use crate::ops;
use crate::rules::stabilize;

/// Values kept per time step and direction: the pre-activations z (4H), the gates i, f, g, o (4H),
/// c and h.
const PER_STEP: usize = 10;

/// The LSTM's parameters. `weights` holds, per direction, PyTorch's `weight_ih` `[4H, E]` then
/// `weight_hh` `[4H, H]`; `biases`, per direction, `bias_ih` `[4H]` then `bias_hh` `[4H]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Lstm {
    pub input: usize,
    pub hidden: usize,
    pub bidirectional: bool,
    pub weights: Vec<f32>,
    pub biases: Vec<f32>,
}

/// One direction's parameters, borrowed.
#[derive(Clone, Copy)]
pub struct Dir<'a> {
    pub w_ih: &'a [f32],
    pub w_hh: &'a [f32],
    pub b_ih: &'a [f32],
    pub b_hh: &'a [f32],
}

/// What [`Lstm::lrp`] reports besides the input relevance: per direction, the relevance each input row
/// received (`rows[d][t]`, row `t` of the input whichever way the direction reads), and what was left
/// on the zero initial states `h_0` and `c_0` (non-zero only with a bias factor).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct LstmRelevance {
    pub rows: Vec<Vec<f32>>,
    pub initial_state: Vec<f32>,
}

/// The parameters of the Arras et al. rules.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LstmRule {
    /// Stabilizer of every epsilon step: `z + eps * sign(z)`.
    pub eps: f32,
    /// Share of each linear step's absorbed relevance (bias and stabilizer) handed evenly to its
    /// inputs: 0 absorbs, 1 conserves.
    pub bias_factor: f32,
    /// Count the biases in the candidate's `z` (false: left out, as every rule's `bias = false`).
    pub bias: bool,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Lstm {
    pub fn dirs(&self) -> usize {
        1 + self.bidirectional as usize
    }
    /// Parameter counts per direction: weights and biases.
    fn per_dir(&self) -> (usize, usize) {
        // saturating: a model file's sizes are bounded before, an in-memory one is checked by validate
        let g = self.hidden.saturating_mul(4);
        (g.saturating_mul(self.input.saturating_add(self.hidden)), g.saturating_mul(2))
    }
    pub fn parameters(&self) -> usize {
        let (w, b) = self.per_dir();
        self.dirs().saturating_mul(w.saturating_add(b))
    }
    /// Direction `d`'s parameters.
    pub fn dir(&self, d: usize) -> Dir<'_> {
        let (nw, nb) = self.per_dir();
        let g = 4 * self.hidden;
        let w = &self.weights[d * nw..(d + 1) * nw];
        let b = &self.biases[d * nb..(d + 1) * nb];
        Dir { w_ih: &w[..g * self.input], w_hh: &w[g * self.input..], b_ih: &b[..g], b_hh: &b[g..] }
    }

    pub fn validate(&self) -> Result<(), String> {
        let (nw, nb) = self.per_dir();
        if self.hidden == 0 || self.input == 0 {
            return Err("an LSTM needs input and hidden sizes of at least 1".into());
        }
        if self.weights.len() != self.dirs() * nw || self.biases.len() != self.dirs() * nb {
            return Err(format!(
                "LSTM parameters: {} weights and {} biases for {} direction(s) of {}x{}",
                self.weights.len(),
                self.biases.len(),
                self.dirs(),
                self.input,
                self.hidden
            ));
        }
        if !self.weights.iter().chain(&self.biases).all(|v| v.is_finite()) {
            return Err("NaN or infinite parameters".into());
        }
        Ok(())
    }

    pub fn output_shape(&self, s: super::Shape) -> Result<super::Shape, String> {
        if s.c != 1 || s.w != self.input || s.h == 0 {
            return Err(format!("an LSTM over rows of {} values expects a 1 x T x {} input, got {}x{}x{}", self.input, self.input, s.c, s.h, s.w));
        }
        Ok(super::Shape::new(self.dirs() * self.hidden, 1, 1))
    }

    /// Values of the buffer that keeps the states of one forward pass over `steps` rows.
    pub fn buffer_len(&self, steps: usize) -> usize {
        (self.dirs() * PER_STEP).saturating_mul(steps).saturating_mul(self.hidden)
    }

    /// The kept states of direction `d` at its step `s` (the step that reads row [`row`]).
    fn step<'b>(&self, st: &'b [f32], steps: usize, d: usize, s: usize) -> &'b [f32] {
        let n = PER_STEP * self.hidden;
        &st[(d * steps + s) * n..(d * steps + s + 1) * n]
    }

    /// Forward pass of `x` (`T x E`), keeping every state in `st` ([`Lstm::buffer_len`]); writes the final
    /// hidden states into `out`.
    pub fn forward(&self, x: &[f32], st: &mut [f32], out: &mut [f32]) {
        let (e, h) = (self.input, self.hidden);
        let steps = x.len() / e;
        let n = PER_STEP * h;
        for d in 0..self.dirs() {
            let p = self.dir(d);
            for s in 0..steps {
                let t = row(d, s, steps);
                let (before, rest) = st.split_at_mut((d * steps + s) * n);
                let cur = &mut rest[..n];
                let prev = (s > 0).then(|| &before[(d * steps + s - 1) * n..(d * steps + s) * n]);
                let (z, rest) = cur.split_at_mut(4 * h);
                let (gates, rest) = rest.split_at_mut(4 * h);
                let (c, hh) = rest.split_at_mut(h);
                ops::dense_forward(p.w_ih, e, &x[t * e..(t + 1) * e], Some(p.b_ih), z);
                match prev {
                    Some(prev) => {
                        let (gates_tmp, _) = gates.split_at_mut(4 * h);
                        ops::dense_forward(p.w_hh, h, &prev[9 * h..10 * h], Some(p.b_hh), gates_tmp);
                        z.iter_mut().zip(gates_tmp.iter()).for_each(|(a, b)| *a += b);
                    }
                    None => z.iter_mut().zip(p.b_hh).for_each(|(a, b)| *a += b),
                }
                for k in 0..4 * h {
                    gates[k] = if (2 * h..3 * h).contains(&k) { z[k].tanh() } else { sigmoid(z[k]) };
                }
                for k in 0..h {
                    let c_prev = prev.map_or(0.0, |p| p[8 * h + k]);
                    c[k] = gates[h + k] * c_prev + gates[k] * gates[2 * h + k];
                    hh[k] = gates[3 * h + k] * c[k].tanh();
                }
            }
            out[d * h..(d + 1) * h].copy_from_slice(&self.step(st, steps, d, steps - 1)[9 * h..]);
        }
    }

    /// Backpropagation through time: `gx = (d out / d x)^T g` given the states of [`Lstm::forward`].
    /// With `grads` (training), adds the weight and bias gradients (laid out as `weights`, `biases`).
    pub fn backward(&self, x: &[f32], st: &[f32], g: &[f32], gx: &mut [f32], mut grads: Option<(&mut [f32], &mut [f32])>, work: &mut [f32]) {
        let (e, h) = (self.input, self.hidden);
        let steps = x.len() / e;
        gx.fill(0.0);
        let (dh, rest) = work.split_at_mut(h);
        let (dc, rest) = rest.split_at_mut(h);
        let (dz, rest) = rest.split_at_mut(4 * h);
        let dx = &mut rest[..e.max(h)];
        let (nw, nb) = self.per_dir();
        for d in 0..self.dirs() {
            let p = self.dir(d);
            dh.copy_from_slice(&g[d * h..(d + 1) * h]);
            dc.fill(0.0);
            for s in (0..steps).rev() {
                let t = row(d, s, steps);
                let cur = self.step(st, steps, d, s);
                let prev = (s > 0).then(|| self.step(st, steps, d, s - 1));
                let gates = &cur[4 * h..8 * h];
                for k in 0..h {
                    let (i, f, gg, o) = (gates[k], gates[h + k], gates[2 * h + k], gates[3 * h + k]);
                    let tc = cur[8 * h + k].tanh();
                    let c_prev = prev.map_or(0.0, |p| p[8 * h + k]);
                    let dck = dc[k] + dh[k] * o * (1.0 - tc * tc);
                    dz[k] = dck * gg * i * (1.0 - i);
                    dz[h + k] = dck * c_prev * f * (1.0 - f);
                    dz[2 * h + k] = dck * i * (1.0 - gg * gg);
                    dz[3 * h + k] = dh[k] * tc * o * (1.0 - o);
                    dc[k] = dck * f;
                }
                let xt = &x[t * e..(t + 1) * e];
                ops::dense_backward(p.w_ih, e, dz, &mut dx[..e]);
                gx[t * e..(t + 1) * e].iter_mut().zip(dx.iter()).for_each(|(a, b)| *a += b);
                ops::dense_backward(p.w_hh, h, dz, dh);
                if let Some((gw, gb)) = grads.as_mut() {
                    let (gw, gb) = (&mut gw[d * nw..(d + 1) * nw], &mut gb[d * nb..(d + 1) * nb]);
                    let (gw_ih, gw_hh) = gw.split_at_mut(4 * h * e);
                    for (k, &v) in dz.iter().enumerate() {
                        if v != 0.0 {
                            ops::axpy(&mut gw_ih[k * e..(k + 1) * e], v, xt);
                            if let Some(prev) = prev {
                                ops::axpy(&mut gw_hh[k * h..(k + 1) * h], v, &prev[9 * h..]);
                            }
                        }
                        gb[k] += v;
                        gb[4 * h + k] += v;
                    }
                }
            }
        }
    }

    /// Scratch values [`Lstm::backward`] and [`Lstm::lrp`] need.
    pub fn work_len(&self) -> usize {
        self.hidden.saturating_mul(6).saturating_add(self.input.max(self.hidden).saturating_mul(2))
    }

    /// The PyTorch names of direction `d`'s four tensors (`weight_ih_l0`, ..., `bias_hh_l0_reverse`).
    pub fn tensor_names(d: usize) -> [String; 4] {
        let sfx = if d == 0 { "" } else { "_reverse" };
        ["weight_ih", "weight_hh", "bias_ih", "bias_hh"].map(|n| format!("{n}_l0{sfx}"))
    }

    /// LRP (Arras et al. 2017) from `r_out` (relevance of the final hidden states) to `r_in` (`T x E`),
    /// given the states of [`Lstm::forward`]. Per direction, from the last step down:
    ///
    /// - `h_t = o * tanh(c_t)`: all of `R(h_t)` goes to `c_t` (the output gate gets none);
    /// - `c_t = f * c_{t-1} + i * g`: epsilon rule on the sum; `R(c_{t-1})` and `R(g)` take the shares
    ///   of `f * c_{t-1}` and `i * g` (the gates get none);
    /// - `z_g = W_g x_t + U_g h_{t-1} + b_g`: epsilon rule on the candidate's pre-activation hands
    ///   `R(g)` to `x_t` and `h_{t-1}` (only the candidate rows of the weights).
    ///
    /// With `bias_factor = beta`, each step adds `beta * absorbed / n` to every input of its sum (`n`:
    /// 2H for the cell, E + H for the candidate), the authors' reference code; with 1 relevance is
    /// conserved, and the zero initial states keep a share (reported).
    #[allow(clippy::too_many_arguments)]
    pub fn lrp(&self, x: &[f32], st: &[f32], rule: LstmRule, r_out: &[f32], r_in: &mut [f32], work: &mut [f32], report: &mut LstmRelevance) {
        let (e, h) = (self.input, self.hidden);
        let steps = x.len() / e;
        r_in.fill(0.0);
        let (rh, rest) = work.split_at_mut(h);
        let (rc, rest) = rest.split_at_mut(h);
        let (rg, rest) = rest.split_at_mut(h);
        let (sg, rest) = rest.split_at_mut(h);
        let (c_x, rest) = rest.split_at_mut(e.max(h));
        let c_h = &mut rest[..e.max(h)];
        report.rows.resize(self.dirs(), Vec::new());
        report.initial_state.resize(self.dirs(), 0.0);
        let beta = rule.bias_factor;
        for d in 0..self.dirs() {
            let p = self.dir(d);
            let rows = &mut report.rows[d];
            rows.clear();
            rows.resize(steps, 0.0);
            rh.copy_from_slice(&r_out[d * h..(d + 1) * h]);
            rc.fill(0.0);
            for s in (0..steps).rev() {
                let t = row(d, s, steps);
                let cur = self.step(st, steps, d, s);
                let prev = (s > 0).then(|| self.step(st, steps, d, s - 1));
                let (z, gates, c) = (&cur[..4 * h], &cur[4 * h..8 * h], &cur[8 * h..9 * h]);
                // h_t -> c_t, then the cell's sum: rc becomes R(c_{t-1}), rg R(g)
                let (mut total, mut passed) = (0.0f32, 0.0f32);
                for k in 0..h {
                    let r = rc[k] + rh[k];
                    let sk = r / stabilize(c[k], rule.eps);
                    let c_prev = prev.map_or(0.0, |p| p[8 * h + k]);
                    rc[k] = gates[h + k] * c_prev * sk;
                    rg[k] = gates[k] * gates[2 * h + k] * sk;
                    total += r;
                    passed += rc[k] + rg[k];
                }
                if beta != 0.0 {
                    let share = beta * (total - passed) / (2 * h) as f32;
                    rc.iter_mut().chain(rg.iter_mut()).for_each(|v| *v += share);
                }
                // the candidate: R(g) -> x_t and h_{t-1}
                let (mut total, mut passed) = (0.0f32, 0.0f32);
                for k in 0..h {
                    let b = p.b_ih[2 * h + k] + p.b_hh[2 * h + k];
                    let zk = if rule.bias { z[2 * h + k] } else { z[2 * h + k] - b };
                    sg[k] = rg[k] / stabilize(zk, rule.eps);
                    total += rg[k];
                }
                let xt = &x[t * e..(t + 1) * e];
                ops::dense_backward(&p.w_ih[2 * h * e..3 * h * e], e, sg, &mut c_x[..e]);
                let rx = &mut r_in[t * e..(t + 1) * e];
                let mut row_sum = 0.0f32;
                for j in 0..e {
                    let v = xt[j] * c_x[j];
                    rx[j] += v;
                    row_sum += v;
                }
                passed += row_sum;
                match prev {
                    Some(prev) => {
                        ops::dense_backward(&p.w_hh[2 * h * h..3 * h * h], h, sg, &mut c_h[..h]);
                        for k in 0..h {
                            rh[k] = prev[9 * h + k] * c_h[k];
                            passed += rh[k];
                        }
                    }
                    None => rh.fill(0.0),
                }
                if beta != 0.0 {
                    let share = beta * (total - passed) / (e + h) as f32;
                    rx.iter_mut().for_each(|v| *v += share);
                    row_sum += share * e as f32;
                    rh.iter_mut().for_each(|v| *v += share);
                }
                rows[t] += row_sum;
            }
            // what is left is on h_0 (rh) and c_0 (rc)
            report.initial_state[d] = ops::sum(rh) + ops::sum(rc);
        }
    }
}

/// The input row direction `d` reads at its step `s` (of `steps`).
pub fn row(d: usize, s: usize, steps: usize) -> usize {
    if d == 0 {
        s
    } else {
        steps - 1 - s
    }
}
