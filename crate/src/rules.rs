//! LRP rules for linear layers (dense, convolution, sum/average pooling), all run by one generic step
//! (Montavon et al. 2019, sec. 10.2):
//!
//! 1. `z = forward(rho(W), rho(b), a_mod)`
//! 2. `s = R / stabilize(z)`
//! 3. `c = backward(rho(W), s)`   (the transpose of the layer: the gradient code path)
//! 4. `R_in = a_mod * c`
//!
//! A rule is a list of *branches*; each branch sums one or more *terms* `(input modifier, rho(W), rho(b))`
//! in its denominator and hands each term's share back through the same term. Alpha-beta and the
//! generalized gamma rule use two branches, z^B one branch of three terms.

use crate::error::{invalid_param, Result};
use crate::ops::{pmax, pmin};
use serde::{Deserialize, Serialize};

/// Stabilizer of the rules without a user epsilon (LRP-0 included): a dead neuron (z = 0) passes on no NaN.
pub const STABILIZER: f32 = 1e-9;

/// `z + eps * sign(z)` with `sign(0) = +1`, as Zennit's `stabilize`.
#[inline]
pub fn stabilize(z: f32, eps: f32) -> f32 {
    if z >= 0.0 {
        z + eps
    } else {
        z - eps
    }
}

/// How one linear layer redistributes the relevance of its outputs onto its inputs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Rule {
    /// LRP-0: `R_j = sum_k a_j w_jk / z_k R_k` (Bach et al. 2015). Upper layers. Equals Gradient x Input on ReLU nets.
    Zero,
    /// LRP-eps: LRP-0 with `z_k + eps sign(z_k)`: absorbs weak or contradictory relevance. Middle layers.
    Epsilon { epsilon: f32 },
    /// LRP-gamma: `rho(w) = w + gamma w+`, `rho(b) = b + gamma b+`; favours positive contributions. Lower layers.
    /// On layers whose input can be negative, Zennit's generalized form (positive and negative input parts).
    /// Outputs with `z < 0` that carry relevance (a layer without ReLU after it, such as the last
    /// convolution of a residual branch) take `w + gamma w-`, as in Zennit's generalized form; after a
    /// ReLU they carry none and the rule is the plain one.
    Gamma { gamma: f32 },
    /// LRP-alpha-beta: positive and negative contributions normalised separately, weighted `alpha` and `-beta`,
    /// `alpha - beta = 1`. Bias: `b+` only in the positive, `b-` only in the negative denominator.
    AlphaBeta { alpha: f32, beta: f32 },
    /// z+ (deep Taylor rule for ReLU layers): alpha-beta with alpha = 1, beta = 0.
    ZPlus,
    /// z^B (box rule, Montavon et al. 2017) for the input layer with pixel bounds `l <= x <= h`:
    /// `R_i = sum_j (x_i w_ij - l_i w_ij+ - h_i w_ij-) / sum_i (...) R_j`. Bias cancels.
    ZBox,
    /// w^2: `R_i = sum_j w_ij^2 / sum_i w_ij^2 R_j`, ignores the input values; input layer only.
    WSquare,
    /// flat: relevance spread uniformly over the receptive field (all weights 1, no bias).
    Flat,
}

impl Rule {
    /// Checks the parameters; errors say which and why.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Rule::Epsilon { epsilon } if !(epsilon.is_finite() && epsilon >= 0.0) => {
                Err(invalid_param(format!("epsilon must be finite and >= 0, got {epsilon}")))
            }
            Rule::Gamma { gamma } if !(gamma.is_finite() && gamma >= 0.0) => Err(invalid_param(format!("gamma must be finite and >= 0, got {gamma}"))),
            Rule::AlphaBeta { alpha, beta } => {
                if !(alpha.is_finite() && beta.is_finite() && alpha >= 0.0 && beta >= 0.0) {
                    Err(invalid_param(format!("alpha and beta must be finite and >= 0, got alpha {alpha}, beta {beta}")))
                } else if ((alpha - beta) - 1.0).abs() > 1e-6 {
                    Err(invalid_param(format!("alpha - beta must equal 1, got alpha {alpha}, beta {beta}")))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Short name used in rule lists (`--rules 'zb,gamma,eps,0'`).
    pub fn short_name(&self) -> String {
        match *self {
            Rule::Zero => "0".into(),
            Rule::Epsilon { epsilon } => format!("eps={epsilon}"),
            Rule::Gamma { gamma } => format!("gamma={gamma}"),
            Rule::AlphaBeta { alpha, beta } => format!("alpha{alpha}-beta{beta}"),
            Rule::ZPlus => "zplus".into(),
            Rule::ZBox => "zb".into(),
            Rule::WSquare => "w2".into(),
            Rule::Flat => "flat".into(),
        }
    }

    /// Parses one entry of a rule list: `0`, `eps`, `eps=0.2`, `gamma`, `gamma=0.5`, `alpha2-beta1`
    /// (any `alphaA-betaB`), `ab` (the `defaults` alpha/beta), `zplus` (or `z+`), `zb`, `w2`, `flat`.
    /// Entries without a value take theirs from `defaults`.
    pub fn parse(text: &str, defaults: &RuleParams) -> Result<Rule> {
        let t = text.trim().to_ascii_lowercase();
        let value = |v: &str| v.parse::<f32>().map_err(|_| invalid_param(format!("`{v}` in rule `{text}` is not a number")));
        let rule = match t.as_str() {
            "0" | "lrp-0" | "z" => Rule::Zero,
            "eps" | "epsilon" => Rule::Epsilon { epsilon: defaults.epsilon },
            "gamma" => Rule::Gamma { gamma: defaults.gamma },
            "ab" | "alpha-beta" => Rule::AlphaBeta { alpha: defaults.alpha, beta: defaults.beta },
            "zplus" | "z+" => Rule::ZPlus,
            "zb" | "zbox" | "box" => Rule::ZBox,
            "w2" | "wsquare" => Rule::WSquare,
            "flat" => Rule::Flat,
            _ => {
                if let Some(v) = t.strip_prefix("eps=").or_else(|| t.strip_prefix("epsilon=")) {
                    Rule::Epsilon { epsilon: value(v)? }
                } else if let Some(v) = t.strip_prefix("gamma=") {
                    Rule::Gamma { gamma: value(v)? }
                } else if let Some((a, b)) = t.strip_prefix("alpha").and_then(|r| r.split_once("-beta")) {
                    Rule::AlphaBeta { alpha: value(a)?, beta: value(b)? }
                } else {
                    return Err(invalid_param(format!("unknown rule `{text}` (expected 0, eps, eps=X, gamma, gamma=X, alphaA-betaB, zplus, zb, w2 or flat)")));
                }
            }
        };
        rule.validate()?;
        Ok(rule)
    }
}

/// The parameters rules take when a preset or a rule list does not give them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleParams {
    pub epsilon: f32,
    pub gamma: f32,
    pub alpha: f32,
    pub beta: f32,
    /// `true` (the default, lrp-conventions.md's "absorb"): a layer's bias is part of `z` in every LRP
    /// rule (in `rho(b)`), so it absorbs its share `R_k b_k / z_k`. `false`: every rule leaves the biases
    /// of dense and convolution layers out of `z` (Zennit's `zero_params=['bias']`), and LRP-0, z+ and
    /// the other rules conserve relevance through them (up to the stabilizer). Rules that have no bias
    /// (z^B, w^2, flat, the pools' LRP-0) are the same either way; LRP-gamma's choice of branch still
    /// follows the sign of the layer's real output, as in Zennit.
    pub bias: bool,
    /// Arras et al.'s bias factor (dense and LSTM layers, `lrp-lstm`): the share of each linear step's
    /// absorbed relevance (bias and stabilizer) handed evenly to the step's inputs. 0 (the default)
    /// absorbs; 1 conserves relevance exactly.
    pub bias_factor: f32,
}

impl Default for RuleParams {
    fn default() -> Self {
        RuleParams { epsilon: 0.1, gamma: 0.25, alpha: 2.0, beta: 1.0, bias: true, bias_factor: 0.0 }
    }
}

/// Which input a term feeds through the layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum InputMod {
    X,
    XPos,
    XNeg,
    Low,
    High,
    Ones,
}

impl InputMod {
    #[inline]
    pub fn apply(self, x: f32, lo: f32, hi: f32) -> f32 {
        match self {
            InputMod::X => x,
            InputMod::XPos => pmax(x, 0.0),
            InputMod::XNeg => pmin(x, 0.0),
            InputMod::Low => lo,
            InputMod::High => hi,
            InputMod::Ones => 1.0,
        }
    }
}

/// Which output neurons a branch speaks for (the generalized gamma rule splits by the sign of `z`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Mask {
    All,
    Positive,
    Negative,
}

#[derive(Clone, Debug)]
pub(crate) struct Term {
    pub input: InputMod,
    /// Index into [`PreparedRule::weights`].
    pub weight: usize,
    /// Index into [`PreparedRule::biases`]; `None`: no bias in this term.
    pub bias: Option<usize>,
    pub sign: f32,
}

#[derive(Clone, Debug)]
pub(crate) struct Branch {
    /// The branch is the layer itself (original weights, bias and input): its `z` is the layer's output
    /// from the forward pass, so the step skips recomputing it.
    pub unmodified: bool,
    pub coef: f32,
    pub mask: Mask,
    pub eps: f32,
    pub terms: Vec<Term>,
}

/// A rule bound to one layer: the modified weights it needs, computed once, and its branches.
#[derive(Clone, Debug)]
pub(crate) struct PreparedRule {
    pub weights: Vec<Vec<f32>>,
    /// For a narrow convolution, each of `weights` transposed (see `LinOp::transposed`); else empty.
    pub transposed: Vec<Vec<f32>>,
    pub biases: Vec<Vec<f32>>,
    pub branches: Vec<Branch>,
    /// LRP-gamma on non-negative inputs: the branches split by the sign of `z`, used instead of
    /// `branches` when an output with `z < 0` carries relevance.
    pub signed: Option<Vec<Branch>>,
}

impl PreparedRule {
    /// Adds the transposed weights a narrow convolution's forward pass reads (nothing for other ops).
    pub fn for_op(mut self, op: &crate::model::LinOp) -> PreparedRule {
        self.transposed = self.weights.iter().filter_map(|w| op.transposed(w)).collect();
        self
    }

    /// The branches for upper relevance `r` at outputs `z` (the layer's own output).
    #[inline]
    pub fn branches_for(&self, r: &[f32], z: &[f32]) -> &[Branch] {
        match &self.signed {
            Some(signed) if r.iter().zip(z).any(|(&r, &z)| z < 0.0 && r != 0.0) => signed,
            _ => &self.branches,
        }
    }
}

impl PreparedRule {
    /// Binds `rule` to a layer with flat weights `w` and bias `b` (pooling: `w` = its one factor, no bias).
    /// `non_negative`: the layer's input is non-negative by construction, so negative-input terms vanish.
    pub fn new(rule: Rule, w: &[f32], b: Option<&[f32]>, non_negative: bool) -> PreparedRule {
        let mut p = PreparedRule { weights: Vec::new(), transposed: Vec::new(), biases: Vec::new(), branches: Vec::new(), signed: None };
        let map = |v: &[f32], f: &dyn Fn(f32) -> f32| v.iter().map(|&x| f(x)).collect::<Vec<f32>>();
        let id = |x: f32| x;
        let pos = |x: f32| pmax(x, 0.0);
        let neg = |x: f32| pmin(x, 0.0);
        let add_w = |p: &mut PreparedRule, f: &dyn Fn(f32) -> f32| {
            p.weights.push(map(w, f));
            p.weights.len() - 1
        };
        let add_b = |p: &mut PreparedRule, f: &dyn Fn(f32) -> f32| {
            b.map(|b| {
                p.biases.push(map(b, f));
                p.biases.len() - 1
            })
        };
        let term = |input, weight, bias, sign| Term { input, weight, bias, sign };
        // (x+, w_a, b_a) + (x-, w_b): the sign-split pair used by alpha-beta and generalized gamma.
        let split = |wa: usize, ba: Option<usize>, wb: usize| {
            if non_negative {
                vec![term(InputMod::X, wa, ba, 1.0)]
            } else {
                vec![term(InputMod::XPos, wa, ba, 1.0), term(InputMod::XNeg, wb, None, 1.0)]
            }
        };
        let single = |terms, eps| vec![Branch { unmodified: false, coef: 1.0, mask: Mask::All, eps, terms }];
        match rule {
            Rule::Zero | Rule::Epsilon { .. } => {
                let eps = if let Rule::Epsilon { epsilon } = rule { epsilon } else { STABILIZER };
                let (wi, bi) = (add_w(&mut p, &id), add_b(&mut p, &id));
                p.branches = single(vec![term(InputMod::X, wi, bi, 1.0)], eps);
                p.branches[0].unmodified = true;
            }
            Rule::Gamma { gamma } => {
                let gp = move |x: f32| x + gamma * pmax(x, 0.0);
                let gn = move |x: f32| x + gamma * pmin(x, 0.0);
                let (wp, bp) = (add_w(&mut p, &gp), add_b(&mut p, &gp));
                let (wn, bn) = (add_w(&mut p, &gn), add_b(&mut p, &gn));
                if non_negative {
                    p.branches = single(vec![term(InputMod::X, wp, bp, 1.0)], STABILIZER);
                    p.signed = Some(vec![
                        Branch { unmodified: false, coef: 1.0, mask: Mask::Positive, eps: STABILIZER, terms: vec![term(InputMod::X, wp, bp, 1.0)] },
                        Branch { unmodified: false, coef: 1.0, mask: Mask::Negative, eps: STABILIZER, terms: vec![term(InputMod::X, wn, bn, 1.0)] },
                    ]);
                } else {
                    p.branches = vec![
                        Branch { unmodified: false, coef: 1.0, mask: Mask::Positive, eps: STABILIZER, terms: split(wp, bp, wn) },
                        Branch { unmodified: false, coef: 1.0, mask: Mask::Negative, eps: STABILIZER, terms: split(wn, bn, wp) },
                    ];
                }
            }
            Rule::AlphaBeta { .. } | Rule::ZPlus => {
                let (alpha, beta) = if let Rule::AlphaBeta { alpha, beta } = rule { (alpha, beta) } else { (1.0, 0.0) };
                let (wp, bp) = (add_w(&mut p, &pos), add_b(&mut p, &pos));
                let (wn, bn) = (add_w(&mut p, &neg), add_b(&mut p, &neg));
                p.branches.push(Branch { unmodified: false, coef: alpha, mask: Mask::All, eps: STABILIZER, terms: split(wp, bp, wn) });
                if beta != 0.0 {
                    p.branches.push(Branch { unmodified: false, coef: -beta, mask: Mask::All, eps: STABILIZER, terms: split(wn, bn, wp) });
                }
            }
            Rule::ZBox => {
                let (wi, wp, wn) = (add_w(&mut p, &id), add_w(&mut p, &pos), add_w(&mut p, &neg));
                p.branches =
                    single(vec![term(InputMod::X, wi, None, 1.0), term(InputMod::Low, wp, None, -1.0), term(InputMod::High, wn, None, -1.0)], STABILIZER);
            }
            Rule::WSquare => {
                let wi = add_w(&mut p, &|x: f32| x * x);
                p.branches = single(vec![term(InputMod::Ones, wi, None, 1.0)], STABILIZER);
            }
            Rule::Flat => {
                let wi = add_w(&mut p, &|_| 1.0);
                p.branches = single(vec![term(InputMod::Ones, wi, None, 1.0)], STABILIZER);
            }
        }
        p
    }

    /// [`PreparedRule::new`] for a layer whose bias every rule leaves out of `z` (Zennit's
    /// `zero_params=['bias']`, [`RuleParams::bias`] false): no branch is the layer itself any more, so
    /// LRP-0 and LRP-eps compute their `z` without the bias instead of taking the forward pass's.
    pub fn without_bias(rule: Rule, w: &[f32], non_negative: bool) -> PreparedRule {
        let mut p = PreparedRule::new(rule, w, None, non_negative);
        for branch in p.branches.iter_mut().chain(p.signed.iter_mut().flatten()) {
            branch.unmodified = false;
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stabilize_treats_zero_as_positive() {
        assert_eq!(stabilize(0.0, 0.5), 0.5);
        assert_eq!(stabilize(-2.0, 0.5), -2.5);
        assert_eq!(stabilize(2.0, 0.5), 2.5);
    }

    #[test]
    fn invalid_parameters_are_errors() {
        assert!(Rule::Epsilon { epsilon: -0.1 }.validate().is_err());
        assert!(Rule::Epsilon { epsilon: f32::NAN }.validate().is_err());
        assert!(Rule::Gamma { gamma: -1.0 }.validate().is_err());
        assert!(Rule::AlphaBeta { alpha: 2.0, beta: 2.0 }.validate().is_err());
        assert!(Rule::AlphaBeta { alpha: 0.5, beta: -0.5 }.validate().is_err());
        assert!(Rule::AlphaBeta { alpha: 2.0, beta: 1.0 }.validate().is_ok());
        assert!(Rule::AlphaBeta { alpha: 1.5, beta: 0.5 }.validate().is_ok());
    }

    #[test]
    fn bias_is_counted_unless_switched_off() {
        // the page sends its parameters without `bias`: today's numbers
        let p: RuleParams = serde_json::from_str(r#"{"epsilon": 0.2}"#).unwrap();
        assert_eq!(p, RuleParams { epsilon: 0.2, ..RuleParams::default() });
        assert!(RuleParams::default().bias && p.bias);
        let p: RuleParams = serde_json::from_str(r#"{"bias": false}"#).unwrap();
        assert!(!p.bias);
        // flattened into the method parameters, as a request carries them
        let p: crate::Params = serde_json::from_str(r#"{"steps": 4}"#).unwrap();
        assert!(p.rules.bias);
        let p: crate::Params = serde_json::from_str(r#"{"bias": false, "epsilon": 0.3}"#).unwrap();
        assert!(!p.rules.bias && p.rules.epsilon == 0.3);
        assert!(serde_json::from_str::<crate::Params>(r#"{"bias": 0}"#).is_err(), "a boolean, not a number");
    }

    #[test]
    fn parses_rule_lists() {
        let d = RuleParams::default();
        assert_eq!(Rule::parse("eps=0.2", &d).unwrap(), Rule::Epsilon { epsilon: 0.2 });
        assert_eq!(Rule::parse("alpha2-beta1", &d).unwrap(), Rule::AlphaBeta { alpha: 2.0, beta: 1.0 });
        assert_eq!(Rule::parse("gamma", &d).unwrap(), Rule::Gamma { gamma: 0.25 });
        assert_eq!(Rule::parse("Z+", &d).unwrap(), Rule::ZPlus);
        assert!(Rule::parse("alpha3-beta1", &d).is_err());
        assert!(Rule::parse("nope", &d).is_err());
        assert!(Rule::parse("eps=x", &d).is_err());
    }
}
