//! Composites: a rule for every linear layer, and the named presets of Zennit and
//! RelevancePropagation.jl.
//!
//! | preset | first layer | conv layers | dense layers |
//! |---|---|---|---|
//! | `epsilon-plus` | as conv/dense | z+ | eps |
//! | `epsilon-gamma-box` | z^B | gamma | eps |
//! | `epsilon-alpha2-beta1` | as conv/dense | alpha 2 beta 1 | eps |
//! | `epsilon-plus-flat` | flat | z+ | eps |
//! | `deep-taylor` | z^B | z+ | z+ |
//! | `lrp-lstm` | as dense | (none: LSTM models only) | eps, with the bias factor |
//!
//! and the uniform ones (`lrp-0`, `lrp-eps`, `lrp-gamma`, `lrp-alpha2-beta1`, `lrp-alpha1-beta0`,
//! `lrp-zplus`). Sum, average and global average pooling layers take LRP-0 with the 1e-9 stabilizer
//! (Zennit's `Norm`) in every preset; max-pooling is winner-take-all and takes no rule. Every
//! convolution (depthwise and 1x1 included) takes the conv rule. An LSTM layer takes the dense rule
//! (epsilon or LRP-0) and runs Arras et al.'s rules inside ([`crate::model::Lstm::lrp`]); on a model with
//! an LSTM only `lrp-0`, `lrp-eps` and `lrp-lstm` are defined. "First layer" is each dense or
//! convolution layer that reads the model input (through nothing but `flatten`), and the first dense or
//! convolution layer in node order (in a chain, that is the only one).

use crate::error::{invalid_param, Result};
use crate::model::{Layer, Model};
use crate::rules::{Rule, RuleParams};

/// The named presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Lrp0,
    LrpEps,
    LrpGamma,
    LrpAlpha2Beta1,
    LrpAlpha1Beta0,
    LrpZPlus,
    EpsilonPlus,
    EpsilonGammaBox,
    EpsilonAlpha2Beta1,
    EpsilonPlusFlat,
    DeepTaylor,
    /// Arras et al. 2017 for LSTM models: epsilon on every linear step, signal-take-all on the gates,
    /// with the bias factor.
    LrpLstm,
}

impl Preset {
    /// Every preset with its CLI / page name.
    pub const ALL: [(Preset, &'static str); 12] = [
        (Preset::Lrp0, "lrp-0"),
        (Preset::LrpEps, "lrp-eps"),
        (Preset::LrpGamma, "lrp-gamma"),
        (Preset::LrpAlpha1Beta0, "lrp-alpha1-beta0"),
        (Preset::LrpAlpha2Beta1, "lrp-alpha2-beta1"),
        (Preset::LrpZPlus, "lrp-zplus"),
        (Preset::DeepTaylor, "deep-taylor"),
        (Preset::EpsilonPlus, "epsilon-plus"),
        (Preset::EpsilonGammaBox, "epsilon-gamma-box"),
        (Preset::EpsilonAlpha2Beta1, "epsilon-alpha2-beta1"),
        (Preset::EpsilonPlusFlat, "epsilon-plus-flat"),
        (Preset::LrpLstm, "lrp-lstm"),
    ];

    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.iter().find(|(_, n)| *n == name).map(|(p, _)| *p)
    }
    pub fn name(&self) -> &'static str {
        Preset::ALL.iter().find(|(p, _)| p == self).map(|(_, n)| *n).expect("every preset is named")
    }
}

/// A rule for each layer of a model (`None` for layers that take no rule: activations, max-pooling,
/// flatten), and whether the rules count the layers' biases in `z` ([`RuleParams::bias`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Composite {
    rules: Vec<Option<Rule>>,
    bias: bool,
    bias_factor: f32,
}

/// The presets defined for a model with an LSTM layer (the others name convolution or input rules).
const LSTM_PRESETS: [Preset; 3] = [Preset::Lrp0, Preset::LrpEps, Preset::LrpLstm];

impl Composite {
    /// A preset for `model`, with rule parameters from `p` (`lrp-alpha1-beta0`, `lrp-zplus` ignore alpha/beta;
    /// `p.bias` applies to every rule).
    pub fn preset(preset: Preset, model: &Model, p: &RuleParams) -> Result<Composite> {
        let eps = Rule::Epsilon { epsilon: p.epsilon };
        let gamma = Rule::Gamma { gamma: p.gamma };
        let ab = Rule::AlphaBeta { alpha: p.alpha, beta: p.beta };
        // (first layer, conv layers, dense layers)
        let (first, conv, dense) = match preset {
            Preset::Lrp0 => (None, Rule::Zero, Rule::Zero),
            Preset::LrpEps => (None, eps, eps),
            Preset::LrpGamma => (None, gamma, gamma),
            Preset::LrpAlpha2Beta1 => (None, ab, ab),
            Preset::LrpAlpha1Beta0 => (None, Rule::AlphaBeta { alpha: 1.0, beta: 0.0 }, Rule::AlphaBeta { alpha: 1.0, beta: 0.0 }),
            Preset::LrpZPlus => (None, Rule::ZPlus, Rule::ZPlus),
            Preset::EpsilonPlus => (None, Rule::ZPlus, eps),
            Preset::EpsilonGammaBox => (Some(Rule::ZBox), gamma, eps),
            Preset::EpsilonAlpha2Beta1 => (None, ab, eps),
            Preset::EpsilonPlusFlat => (Some(Rule::Flat), Rule::ZPlus, eps),
            Preset::DeepTaylor => (Some(Rule::ZBox), Rule::ZPlus, Rule::ZPlus),
            Preset::LrpLstm => (None, eps, eps),
        };
        if model.has_lstm() && !LSTM_PRESETS.contains(&preset) {
            return Err(invalid_param(format!("{} is not defined for LSTM layers; use lrp-lstm (Arras et al. 2017), lrp-eps or lrp-0", preset.name())));
        }
        if preset == Preset::LrpLstm && !model.has_lstm() {
            return Err(invalid_param("lrp-lstm is the rule set of LSTM models (Arras et al. 2017); this model has no LSTM layer"));
        }
        let sees_input = model.sees_input();
        let first_weighted = model.layers().iter().position(Layer::is_weighted);
        let rules = model
            .layers()
            .iter()
            .enumerate()
            .map(|(i, l)| match l {
                _ if first.is_some() && l.is_weighted() && (sees_input[i] || Some(i) == first_weighted) => first,
                Layer::Conv2d(_) => Some(conv),
                Layer::Dense(_) | Layer::Lstm(_) => Some(dense),
                l if l.is_linear() => Some(Rule::Zero),
                _ => None,
            })
            .collect();
        let bias_factor = if preset == Preset::LrpLstm { p.bias_factor } else { 0.0 };
        let c = Composite { rules, bias: p.bias, bias_factor };
        c.validate(model)?;
        Ok(c)
    }

    /// A composite from a list of rules, one per dense/convolution layer in order, or one per linear
    /// layer including sum/average pooling. Pools not covered by the list take LRP-0. The biases count
    /// (see [`Composite::with_bias`]).
    pub fn from_list(model: &Model, list: &[Rule]) -> Result<Composite> {
        let weighted = model.layers().iter().filter(|l| l.is_weighted()).count();
        let linear = model.layers().iter().filter(|l| l.is_linear()).count();
        let with_pools = list.len() == linear && linear != weighted;
        if list.len() != weighted && !with_pools {
            return Err(invalid_param(format!(
                "the rule list has {} entries; the model has {weighted} dense/conv layers ({linear} with sum/avg pooling)",
                list.len()
            )));
        }
        let mut it = list.iter();
        let rules = model
            .layers()
            .iter()
            .map(|l| match l {
                l if l.is_weighted() => it.next().copied(),
                l if l.is_linear() => {
                    if with_pools {
                        it.next().copied()
                    } else {
                        Some(Rule::Zero)
                    }
                }
                _ => None,
            })
            .collect();
        let c = Composite { rules, bias: true, bias_factor: 0.0 };
        c.validate(model)?;
        Ok(c)
    }

    /// The same rules with the layers' biases in `z` (`true`) or left out of it (`false`, Zennit's
    /// `zero_params=['bias']`), see [`RuleParams::bias`].
    pub fn with_bias(mut self, bias: bool) -> Composite {
        self.bias = bias;
        self
    }

    /// True if the rules count the layers' biases in `z` (the default).
    pub fn bias(&self) -> bool {
        self.bias
    }

    /// The same rules with Arras et al.'s bias factor (see [`RuleParams::bias_factor`]); checked by
    /// [`Composite::validate`].
    pub fn with_bias_factor(mut self, bias_factor: f32) -> Composite {
        self.bias_factor = bias_factor;
        self
    }

    /// The share of absorbed relevance dense and LSTM layers hand evenly to their inputs.
    pub fn bias_factor(&self) -> f32 {
        self.bias_factor
    }

    /// Sets the rule of layer `i` (a dense, convolution or sum/average pooling layer).
    pub fn set(&mut self, model: &Model, i: usize, rule: Rule) -> Result<()> {
        let old = self.rules.get(i).copied().ok_or_else(|| invalid_param(format!("layer {i} does not exist")))?;
        self.rules[i] = Some(rule);
        if let Err(e) = self.validate(model) {
            self.rules[i] = old;
            return Err(e);
        }
        Ok(())
    }

    /// The rule of layer `i`, if it takes one.
    pub fn rule(&self, i: usize) -> Option<Rule> {
        self.rules.get(i).copied().flatten()
    }
    pub fn rules(&self) -> &[Option<Rule>] {
        &self.rules
    }

    /// Checks the composite against `model`: one entry per layer, rules only on linear layers, every
    /// linear layer covered, valid parameters, z^B only on a layer that sees the model's input
    /// (nothing but `Flatten` between them).
    pub fn validate(&self, model: &Model) -> Result<()> {
        if self.rules.len() != model.layers().len() {
            return Err(invalid_param(format!("composite has {} entries for {} layers", self.rules.len(), model.layers().len())));
        }
        let sees_input = model.sees_input();
        let bf = self.bias_factor;
        if !(bf.is_finite() && (0.0..=1.0).contains(&bf)) {
            return Err(invalid_param(format!("bias_factor must be in [0, 1], got {bf}")));
        }
        for (i, (r, l)) in self.rules.iter().zip(model.layers()).enumerate() {
            let eps_like = matches!(r, Some(Rule::Epsilon { .. } | Rule::Zero));
            if matches!(l, Layer::Lstm(_)) {
                if !eps_like {
                    return Err(invalid_param(format!("layer {i} (lstm) takes the epsilon rule (or LRP-0): the rules of Arras et al. 2017")));
                }
                r.expect("checked").validate()?;
                continue;
            }
            if bf != 0.0 && (matches!(l, Layer::Conv2d(_)) || (matches!(l, Layer::Dense(_)) && !eps_like)) {
                return Err(invalid_param(format!(
                    "the bias factor is defined for dense layers with the epsilon rule and LSTM layers; layer {i} ({}) is not one",
                    l.kind()
                )));
            }
            match (r, l.is_linear()) {
                (Some(_), false) => return Err(invalid_param(format!("layer {i} ({}) takes no rule", l.kind()))),
                (None, true) => return Err(invalid_param(format!("layer {i} ({}) needs a rule", l.kind()))),
                (Some(rule), true) => {
                    rule.validate()?;
                    if *rule == Rule::ZBox && !sees_input[i] {
                        return Err(invalid_param(format!("z^B needs the model's input and layer {i} does not see it: use it on the first layer")));
                    }
                }
                (None, false) => {}
            }
        }
        Ok(())
    }
}
