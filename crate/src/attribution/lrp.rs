//! LRP: the backward pass with a rule per linear layer. How relevance passes each layer type is the
//! layer's [`Relevance`]: activations pass it unchanged, max-pooling is winner-take-all (ties split
//! equally), flatten and concat route it like the gradient, `add` splits it in proportion to the
//! summands. Relevance that reaches a value from several nodes is summed.

use super::{Explainer, Scratch};
use crate::composite::Composite;
use crate::model::{Layer, LinOp, LstmRelevance, LstmRule, Model, Relevance, Sink};
use crate::ops;
use crate::rules::{InputMod, PreparedRule, Rule, Term, STABILIZER};

impl Explainer {
    /// Binds the composite's rules to the model's weights (cached until the model or composite changes).
    /// `exact_input`: the input is pixels in [0, 1] through the stage, so its sign is known (false for
    /// SmoothGrad's noisy copies).
    pub(super) fn prepare(&mut self, model: &Model, composite: &Composite, exact_input: bool) {
        if let Some((id, c, e, _)) = &self.prepared {
            if *id == model.id() && c == composite && *e == exact_input {
                return;
            }
        }
        let nonneg = model.input_non_negative(exact_input);
        let rules = (0..model.layers().len())
            .map(|i| {
                let rule = composite.rule(i)?;
                let p = match model.weights(i) {
                    Some((w, b)) if composite.bias() => PreparedRule::new(rule, w, Some(b), nonneg[i]),
                    Some((w, _)) => PreparedRule::without_bias(rule, w, nonneg[i]),
                    None => PreparedRule::new(rule, &[model.pool_factor(i)?], None, nonneg[i]),
                };
                Some(p.for_op(model.op(i)?))
            })
            .collect();
        self.prepared = Some((model.id(), composite.clone(), exact_input, rules));
    }

    /// LRP from `self.start` at the logits down to the input, into `rel`.
    pub(super) fn lrp(&mut self, model: &Model) {
        let n = model.layers().len();
        self.rel[n].copy_from_slice(&self.start);
        let (_, composite, _, rules) = self.prepared.as_ref().expect("prepare() runs before lrp()");
        let chain = model.is_chain();
        for k in (0..n).rev() {
            let (lo, hi) = self.rel.split_at_mut(k + 1);
            // Concept Relevance Propagation: value k + 1 is complete here (its readers come later in
            // the graph); keep only the chosen channel's relevance
            if let Some((v, c)) = self.condition.filter(|(v, _)| *v == k + 1) {
                let plane = model.shapes()[v].h * model.shapes()[v].w;
                hi[0].iter_mut().enumerate().filter(|(i, _)| i / plane != c).for_each(|(_, r)| *r = 0.0);
            }
            let r_out = &hi[0];
            let mut passed = 0.0;
            for (j, (&v, &sink)) in model.inputs(k).iter().zip(model.sinks(k)).enumerate() {
                let dst = match sink {
                    Sink::Write => &mut lo[v][..],
                    Sink::Add => &mut self.contrib[..lo[v].len()],
                };
                // an LSTM's rule: the epsilon of its steps (LRP-0: the default stabilizer) and the bias factor
                let lstm = composite.rule(k).map(|r| LstmRule {
                    eps: if let Rule::Epsilon { epsilon } = r { epsilon } else { STABILIZER },
                    bias_factor: composite.bias_factor(),
                    bias: composite.bias(),
                });
                let step = Step { model, k, j, acts: &self.acts, col: &self.cols[k], bounds: (&self.lo, &self.hi), lstm };
                step.run(rules[k].as_ref(), r_out, dst, &mut self.scratch, &mut self.lstm);
                if composite.bias_factor() != 0.0 && matches!(model.layers()[k], Layer::Dense(_)) {
                    // Arras et al.'s bias factor on the epsilon rule: each output's absorbed share
                    // (b_k + eps sign(z_k)) R_k / z_k goes evenly to every input, so the inputs share
                    // bias_factor times all that was absorbed
                    let share = composite.bias_factor() * (ops::sum(r_out) - ops::sum(dst)) / dst.len() as f32;
                    dst.iter_mut().for_each(|v| *v += share);
                }
                if !chain {
                    passed += ops::sum(dst);
                }
                if sink == Sink::Add {
                    lo[v].iter_mut().zip(self.contrib.iter()).for_each(|(a, b)| *a += b);
                }
            }
            self.node_in[k] = passed;
        }
    }
}

/// One node's relevance step for its input `j`.
struct Step<'a> {
    model: &'a Model,
    k: usize,
    j: usize,
    acts: &'a [Vec<f32>],
    col: &'a [f32],
    bounds: (&'a [f32], &'a [f32]),
    lstm: Option<LstmRule>,
}

impl Step<'_> {
    fn run(&self, rule: Option<&PreparedRule>, r_out: &[f32], r_in: &mut [f32], scratch: &mut Scratch, report: &mut LstmRelevance) {
        let (m, k, j) = (self.model, self.k, self.j);
        let y = &self.acts[k + 1];
        match m.layers()[k].relevance() {
            Relevance::Identity => r_in.copy_from_slice(r_out),
            Relevance::Gradient => m.backward_layer(k, j, self.acts, y, r_out, self.col, &mut scratch.col, r_in),
            Relevance::Proportional => m.add_relevance(k, j, self.acts, y, r_out, r_in),
            Relevance::Recurrent => {
                if let (Layer::Lstm(l), Some(r)) = (&m.layers()[k], self.lstm) {
                    l.lrp(&self.acts[m.inputs(k)[0]], self.col, r, r_out, r_in, &mut scratch.col, report);
                }
            }
            Relevance::Rule => {
                let op = m.op(k).expect("linear layer");
                let rule = rule.expect("validated composite covers every linear layer");
                let col = (!self.col.is_empty()).then_some(self.col);
                let x = &self.acts[m.inputs(k)[j]];
                lrp_linear(op, rule, x, col, y, self.bounds, r_out, r_in, scratch);
            }
        }
    }
}
/// The generic rule step on one linear layer (see [`crate::rules`]).
///
/// `x` is the layer input, `x_col` its im2col (convolutions), `z_orig` the layer's unmodified output
/// (for the sign masks of the generalized gamma rule), `bounds` the z^B box at the model input.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lrp_linear(
    op: &LinOp,
    rule: &PreparedRule,
    x: &[f32],
    x_col: Option<&[f32]>,
    z_orig: &[f32],
    bounds: (&[f32], &[f32]),
    r_out: &[f32],
    r_in: &mut [f32],
    sc: &mut Scratch,
) {
    let (n_in, n_out) = (x.len(), r_out.len());
    let (lo, hi) = bounds;
    r_in.fill(0.0);
    let Scratch { z, tmp, s, xmod, c, col, col_mod } = sc;
    let (z, tmp, s, xmod, c) = (&mut z[..n_out], &mut tmp[..n_out], &mut s[..n_out], &mut xmod[..n_in], &mut c[..n_in]);
    let a_mod = |t: &Term, j: usize| t.input.apply(x[j], lo.get(j).copied().unwrap_or(0.0), hi.get(j).copied().unwrap_or(0.0));
    // A term without bias whose modified input is all zero (z^B's lower bound at pixels in [0, 1], x+ of
    // a non-positive input) adds nothing to z and gets no relevance back: it is skipped. Only modified
    // inputs are checked: the layer's own activations are rarely all zero, and scanning them for every
    // term of every layer would cost more than it saves.
    let vanishes = |t: &Term| t.input != InputMod::X && t.bias.is_none() && (0..n_in).all(|j| a_mod(t, j) == 0.0);
    let prepared = x_col.map_or(&[][..], |c| &c[..op.prepared_len()]);
    for branch in rule.branches_for(r_out, z_orig) {
        // 1. z = sum over terms of forward(rho(W), rho(b), a_mod)
        z.fill(0.0);
        if branch.unmodified {
            z.copy_from_slice(z_orig);
        }
        for t in branch.terms.iter().filter(|t| !branch.unmodified && !vanishes(t)) {
            let b = t.bias.map(|k| rule.biases[k].as_slice());
            let w = &rule.weights[t.weight];
            let wt = rule.transposed.get(t.weight).map(Vec::as_slice);
            if t.input == InputMod::X {
                op.forward(w, wt, b, x, x_col, col, tmp);
            } else if matches!(t.input, InputMod::XPos | InputMod::XNeg) && !prepared.is_empty() {
                // x+ and x- of the prepared input the forward pass kept: the map commutes with preparing
                let cm = &mut col_mod[..prepared.len()];
                modify(t.input, prepared, (&[], &[]), cm);
                op.forward(w, wt, b, x, Some(cm), col, tmp);
            } else {
                modify(t.input, x, bounds, xmod);
                op.forward(w, wt, b, xmod, None, col, tmp);
            }
            z.iter_mut().zip(tmp.iter()).for_each(|(zk, v)| *zk += t.sign * v);
        }
        // 2. s = coef * R / stabilize(z), restricted to the branch's neurons
        ops::shares(s, r_out, z, z_orig, branch.coef, branch.eps, branch.mask);
        // 3.-4. R_in += a_mod * backward(rho(W), s), per term
        for t in branch.terms.iter().filter(|t| !vanishes(t)) {
            op.backward(&rule.weights[t.weight], s, col, c);
            if t.input == InputMod::X {
                for ((r, &a), &cj) in r_in.iter_mut().zip(x.iter()).zip(c.iter()) {
                    *r += t.sign * a * cj;
                }
            } else {
                modify(t.input, x, bounds, xmod);
                for ((r, &a), &cj) in r_in.iter_mut().zip(xmod.iter()).zip(c.iter()) {
                    *r += t.sign * a * cj;
                }
            }
        }
    }
}

/// `out[j] = input.apply(x[j], lo[j], hi[j])` (the bounds read as 0 past their end), one loop per
/// modification so that each vectorises.
fn modify(input: InputMod, x: &[f32], (lo, hi): (&[f32], &[f32]), out: &mut [f32]) {
    let bound = |b: &[f32], out: &mut [f32]| {
        let n = b.len().min(out.len());
        out[..n].copy_from_slice(&b[..n]);
        out[n..].fill(0.0);
    };
    match input {
        InputMod::X => out.copy_from_slice(x),
        InputMod::XPos => out.iter_mut().zip(x).for_each(|(o, &v)| *o = ops::pmax(v, 0.0)),
        InputMod::XNeg => out.iter_mut().zip(x).for_each(|(o, &v)| *o = ops::pmin(v, 0.0)),
        InputMod::Low => bound(lo, out),
        InputMod::High => bound(hi, out),
        InputMod::Ones => out.fill(1.0),
    }
}
