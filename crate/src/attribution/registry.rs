//! The one table of methods: name, family, the parameters each reads (with defaults, ranges and a
//! line of text), a one-line description and a literature reference. The CLI's help and validation,
//! the page's method menu, its sliders and its comparison grid, and the tests all read it (the page
//! through the wasm engine), so a new method is a row here, its arm in [`Method`], and its tests.

use super::{Method, Params};
use crate::composite::{Composite, Preset};
use crate::error::{invalid_param, Result};
use crate::model::Model;
use serde::Serialize;

/// The two families the page and the CLI group methods by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Built from the gradient (one or more backward passes of the layers' vector-Jacobian products).
    Gradient,
    /// Layer-wise relevance propagation with a composite of rules.
    Lrp,
    /// Forward passes of changed inputs only (occlusion): no backward pass, any model.
    Perturbation,
}

/// A parameter of [`Params`]: its default, the range a slider offers (validation is the method's:
/// any epsilon or gamma >= 0, alpha - beta = 1, 1 to 4096 steps or samples), and whether the slider
/// moves on a log scale. A `boolean` parameter is a switch: 1 (true) or 0 (false), sent as a JSON
/// boolean.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    pub default: f64,
    pub min: f64,
    pub max: f64,
    pub log: bool,
    pub integer: bool,
    pub boolean: bool,
    pub description: &'static str,
}

/// One row of the table.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct MethodSpec {
    pub name: &'static str,
    pub family: Family,
    /// The [`ParamSpec`]s the method reads, by name.
    pub params: &'static [&'static str],
    /// Shown in the page's side-by-side comparison of methods.
    pub compare: bool,
    /// Wraps a base method (`NAME:BASE`, e.g. `smoothgrad:epsilon-plus`); alone it wraps the gradient.
    pub wrapper: bool,
    pub description: &'static str,
    pub reference: &'static str,
    /// Parameters whose default differs for this method (the CLI takes it when the flag is not given;
    /// the page sets the slider when the method is chosen).
    pub defaults: &'static [(&'static str, f64)],
    #[serde(skip)]
    build: Build,
}

impl MethodSpec {
    /// The method for `model` with the parameters `p` (validated).
    pub fn build(&self, model: &Model, p: &Params) -> Result<Method> {
        let m = match self.build {
            Build::With(f) => f(p),
            Build::Preset(preset) => Method::Lrp(Composite::preset(preset, model, &p.rules)?),
            Build::Wrap(f) => f(p, Method::Gradient),
        };
        m.validate(model)?;
        Ok(m)
    }

    /// The default of parameter `name` for this method: its own, or the table's.
    pub fn default_of(&self, name: &str) -> Option<f64> {
        self.defaults.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).or_else(|| params().iter().find(|p| p.name == name).map(|p| p.default))
    }

    /// This wrapper around `base` (an error for a row that is not a wrapper).
    pub fn wrap(&self, model: &Model, p: &Params, base: Method) -> Result<Method> {
        let Build::Wrap(f) = self.build else {
            return Err(invalid_param(format!(
                "`{}` is not a wrapper; wrappers: {}",
                self.name,
                METHODS.iter().filter(|m| m.wrapper).map(|m| m.name).collect::<Vec<_>>().join(", ")
            )));
        };
        let m = f(p, base);
        m.validate(model)?;
        Ok(m)
    }
}

fn d() -> Params {
    Params::default()
}

/// Every parameter any method reads; defaults are [`Params::default`]'s.
pub fn params() -> [ParamSpec; 12] {
    let p = d();
    let r = p.rules;
    [
        ParamSpec {
            name: "epsilon",
            default: r.epsilon as f64,
            min: 1e-6,
            max: 10.0,
            log: true,
            integer: false,
            boolean: false,
            description: "LRP-eps stabilizer: absorbs weak or contradictory relevance",
        },
        ParamSpec {
            name: "gamma",
            default: r.gamma as f64,
            min: 1e-3,
            max: 10.0,
            log: true,
            integer: false,
            boolean: false,
            description: "LRP-gamma: weight of the positive contributions added",
        },
        ParamSpec {
            name: "alpha",
            default: r.alpha as f64,
            min: 1.0,
            max: 4.0,
            log: false,
            integer: false,
            boolean: false,
            description: "alpha-beta: weight of the positive contributions (alpha - beta = 1)",
        },
        ParamSpec {
            name: "beta",
            default: r.beta as f64,
            min: 0.0,
            max: 3.0,
            log: false,
            integer: false,
            boolean: false,
            description: "alpha-beta: weight of the negative contributions",
        },
        ParamSpec {
            name: "bias",
            default: if r.bias { 1.0 } else { 0.0 },
            min: 0.0,
            max: 1.0,
            log: false,
            integer: true,
            boolean: true,
            description: "LRP: count each layer's bias in z (true, the default: biases absorb relevance) or leave it out of every rule (false, Zennit's zero_params=['bias']: relevance is conserved through dense and conv layers)",
        },
        ParamSpec {
            name: "bias_factor",
            default: r.bias_factor as f64,
            min: 0.0,
            max: 1.0,
            log: false,
            integer: false,
            boolean: false,
            description: "LRP for LSTMs (Arras et al.): the share of what biases and epsilon absorb that goes back evenly to each step's inputs (0 absorbs; 1 conserves, the initial states keep a share)",
        },
        ParamSpec {
            name: "steps",
            default: p.steps as f64,
            min: 1.0,
            max: 128.0,
            log: false,
            integer: true,
            boolean: false,
            description: "Integrated Gradients: Riemann steps from the blank canvas",
        },
        ParamSpec {
            name: "samples",
            default: p.samples as f64,
            min: 1.0,
            max: 64.0,
            log: false,
            integer: true,
            boolean: false,
            description: "SmoothGrad: noisy samples averaged",
        },
        ParamSpec {
            name: "sigma",
            default: p.sigma as f64,
            min: 0.0,
            max: 0.5,
            log: false,
            integer: false,
            boolean: false,
            description: "SmoothGrad: noise standard deviation, a fraction of the pixel range",
        },
        ParamSpec {
            name: "seed",
            default: p.seed as f64,
            min: 0.0,
            max: u32::MAX as f64,
            log: false,
            integer: true,
            boolean: false,
            description: "SmoothGrad: seed of the noise",
        },
        ParamSpec {
            name: "patch",
            default: p.patch as f64,
            min: 1.0,
            max: 14.0,
            log: false,
            integer: true,
            boolean: false,
            description: "Occlusion: side of the square patch set to the blank canvas, in pixels",
        },
        ParamSpec {
            name: "stride",
            default: p.stride as f64,
            min: 1.0,
            max: 14.0,
            log: false,
            integer: true,
            boolean: false,
            description: "Occlusion: step between patch positions, in pixels",
        },
    ]
}

/// How a row makes its [`Method`]: a function of the parameters, or an LRP preset.
#[derive(Clone, Copy, Debug)]
enum Build {
    With(fn(&Params) -> Method),
    Preset(Preset),
    /// A wrapper of a base method.
    Wrap(fn(&Params, Method) -> Method),
}

const LRP_2015: &str = "Bach et al. 2015, On pixel-wise explanations for non-linear classifier decisions by layer-wise relevance propagation, PLoS ONE";
const LRP_2019: &str = "Montavon et al. 2019, Layer-wise relevance propagation: an overview, in Explainable AI (LNCS 11700)";
const DTD_2017: &str = "Montavon et al. 2017, Explaining nonlinear classification decisions with deep Taylor decomposition, Pattern Recognition";
const ARRAS_2017: &str = "Arras et al. 2017, Explaining recurrent neural network predictions in sentiment analysis, WASSA; Arras et al. 2019, Evaluating recurrent neural network explanations, BlackboxNLP";
const ZENNIT: &str = "Anders et al. 2021, Software for dataset-wide XAI: from local explanations to global insights with Zennit, CoRelAy, and ViRelAy";

/// The table, gradient methods first, then the LRP presets.
pub const METHODS: [MethodSpec; 19] = [
    MethodSpec {
        name: "gradient",
        family: Family::Gradient,
        params: &[],
        compare: true,
        wrapper: false,
        description: "the gradient of the logit with respect to the input",
        reference: "Simonyan et al. 2014, Deep inside convolutional networks, ICLR workshop",
        defaults: &[],
        build: Build::With(|_| Method::Gradient),
    },
    MethodSpec {
        name: "sensitivity",
        family: Family::Gradient,
        params: &[],
        compare: true,
        wrapper: false,
        description: "the squared gradient: how much each pixel could change the logit",
        reference: "Simonyan et al. 2014; Montavon et al. 2018, Methods for interpreting and understanding deep neural networks, DSP",
        defaults: &[],
        build: Build::With(|_| Method::Sensitivity),
    },
    MethodSpec {
        name: "gradient-x-input",
        family: Family::Gradient,
        params: &[],
        compare: true,
        wrapper: false,
        description: "input times gradient; equals LRP-0 on ReLU networks",
        reference: "Shrikumar et al. 2016, Not just a black box; Ancona et al. 2018, ICLR",
        defaults: &[],
        build: Build::With(|_| Method::GradientXInput),
    },
    MethodSpec {
        name: "simple-taylor",
        family: Family::Gradient,
        params: &[],
        compare: true,
        wrapper: false,
        description: "first-order Taylor expansion at a root point found along the gradient",
        reference: DTD_2017,
        defaults: &[],
        build: Build::With(|_| Method::SimpleTaylor),
    },
    MethodSpec {
        name: "integrated-gradients",
        family: Family::Gradient,
        params: &["steps"],
        compare: true,
        wrapper: true,
        description: "the gradient (or a base method) averaged on the straight path from the blank canvas, times the input",
        reference: "Sundararajan et al. 2017, Axiomatic attribution for deep networks, ICML",
        defaults: &[],
        build: Build::Wrap(|p, base| Method::IntegratedGradients { steps: p.steps, base: Box::new(base) }),
    },
    MethodSpec {
        name: "smoothgrad",
        family: Family::Gradient,
        params: &["samples", "sigma", "seed"],
        compare: true,
        wrapper: true,
        description: "the gradient (or a base method, e.g. smoothgrad:epsilon-plus) averaged over noisy copies of the input",
        reference: "Smilkov et al. 2017, SmoothGrad: removing noise by adding noise, arXiv:1706.03825",
        defaults: &[],
        build: Build::Wrap(|p, base| Method::SmoothGrad { samples: p.samples, sigma: p.sigma, seed: p.seed, base: Box::new(base) }),
    },
    MethodSpec {
        name: "occlusion",
        family: Family::Perturbation,
        params: &["patch", "stride"],
        compare: true,
        wrapper: false,
        description: "the mean drop of the logit when a sliding patch over the pixel is blanked: forward passes only, no backward pass",
        reference: "Zeiler and Fergus 2014, Visualizing and understanding convolutional networks, ECCV",
        defaults: &[],
        build: Build::With(|p| Method::Occlusion { patch: p.patch, stride: p.stride }),
    },
    MethodSpec {
        name: "lrp-0",
        family: Family::Lrp,
        params: &["bias"],
        compare: true,
        wrapper: false,
        description: "LRP-0 on every layer: relevance in proportion to each contribution",
        reference: LRP_2015,
        defaults: &[],
        build: Build::Preset(Preset::Lrp0),
    },
    MethodSpec {
        name: "lrp-eps",
        family: Family::Lrp,
        params: &["epsilon", "bias"],
        compare: true,
        wrapper: false,
        description: "LRP-eps on every layer: weak and contradictory contributions absorbed",
        reference: LRP_2015,
        defaults: &[],
        build: Build::Preset(Preset::LrpEps),
    },
    MethodSpec {
        name: "lrp-gamma",
        family: Family::Lrp,
        params: &["gamma", "bias"],
        compare: true,
        wrapper: false,
        description: "LRP-gamma on every layer: positive contributions favoured",
        reference: LRP_2019,
        defaults: &[],
        build: Build::Preset(Preset::LrpGamma),
    },
    MethodSpec {
        name: "lrp-alpha1-beta0",
        family: Family::Lrp,
        params: &["bias"],
        compare: false,
        wrapper: false,
        description: "alpha 1, beta 0 on every layer: positive contributions only",
        reference: LRP_2015,
        defaults: &[],
        build: Build::Preset(Preset::LrpAlpha1Beta0),
    },
    MethodSpec {
        name: "lrp-alpha2-beta1",
        family: Family::Lrp,
        params: &["alpha", "beta", "bias"],
        compare: true,
        wrapper: false,
        description: "alpha-beta on every layer: positive and negative contributions weighted separately",
        reference: LRP_2015,
        defaults: &[],
        build: Build::Preset(Preset::LrpAlpha2Beta1),
    },
    MethodSpec {
        name: "lrp-zplus",
        family: Family::Lrp,
        params: &["bias"],
        compare: false,
        wrapper: false,
        description: "z+ on every layer (the deep Taylor rule for ReLU layers)",
        reference: DTD_2017,
        defaults: &[],
        build: Build::Preset(Preset::LrpZPlus),
    },
    MethodSpec {
        name: "deep-taylor",
        family: Family::Lrp,
        params: &["bias"],
        compare: true,
        wrapper: false,
        description: "deep Taylor decomposition: z^B at the input, z+ above",
        reference: DTD_2017,
        defaults: &[],
        build: Build::Preset(Preset::DeepTaylor),
    },
    MethodSpec {
        name: "epsilon-plus",
        family: Family::Lrp,
        params: &["epsilon", "bias"],
        compare: true,
        wrapper: false,
        description: "z+ on convolutions, LRP-eps on dense layers (Zennit's EpsilonPlus)",
        reference: ZENNIT,
        defaults: &[],
        build: Build::Preset(Preset::EpsilonPlus),
    },
    MethodSpec {
        name: "epsilon-gamma-box",
        family: Family::Lrp,
        params: &["epsilon", "gamma", "bias"],
        compare: true,
        wrapper: false,
        description: "z^B at the input, LRP-gamma on convolutions, LRP-eps on dense layers (the recommended composite)",
        reference: LRP_2019,
        defaults: &[],
        build: Build::Preset(Preset::EpsilonGammaBox),
    },
    MethodSpec {
        name: "epsilon-alpha2-beta1",
        family: Family::Lrp,
        params: &["epsilon", "alpha", "beta", "bias"],
        compare: true,
        wrapper: false,
        description: "alpha-beta on convolutions, LRP-eps on dense layers (Zennit's EpsilonAlpha2Beta1)",
        reference: ZENNIT,
        defaults: &[],
        build: Build::Preset(Preset::EpsilonAlpha2Beta1),
    },
    MethodSpec {
        name: "epsilon-plus-flat",
        family: Family::Lrp,
        params: &["epsilon", "bias"],
        compare: true,
        wrapper: false,
        description: "flat at the input, z+ on convolutions, LRP-eps on dense layers (Zennit's EpsilonPlusFlat)",
        reference: ZENNIT,
        defaults: &[],
        build: Build::Preset(Preset::EpsilonPlusFlat),
    },
    MethodSpec {
        name: "lrp-lstm",
        family: Family::Lrp,
        params: &["epsilon", "bias_factor", "bias"],
        compare: true,
        wrapper: false,
        description: "LRP for LSTMs: epsilon on the linear steps, gates get nothing and pass all to the signal (signal-take-all)",
        reference: ARRAS_2017,
        defaults: &[("epsilon", 0.001)],
        build: Build::Preset(Preset::LrpLstm),
    },
];

/// The row named `name`.
pub fn find(name: &str) -> Result<&'static MethodSpec> {
    METHODS.iter().find(|m| m.name == name).ok_or_else(|| invalid_param(format!("unknown method `{name}`; known: {}", names().collect::<Vec<_>>().join(", "))))
}

/// The rows `model` can run (the LRP presets defined for its layers), in table order.
pub fn available(model: &Model) -> Vec<&'static str> {
    METHODS.iter().filter(|m| m.build(model, &Params::default()).is_ok()).map(|m| m.name).collect()
}

/// Every method name, in table order.
pub fn names() -> impl Iterator<Item = &'static str> {
    METHODS.iter().map(|m| m.name)
}

/// The table and the parameters as one JSON-ready value (for the page and `lrp methods`).
#[derive(Serialize)]
pub struct Registry {
    pub methods: &'static [MethodSpec],
    pub params: [ParamSpec; 12],
}

pub fn registry() -> Registry {
    Registry { methods: &METHODS, params: params() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_builds_and_names_known_parameters() {
        let cnn = crate::testing::tiny_cnn(1, true);
        let lstm = crate::testing::lstm_model(1, 4, 3, 2, true, 3, true, 0.5);
        let known: Vec<&str> = params().iter().map(|p| p.name).collect();
        for m in &METHODS {
            assert!(m.params.iter().all(|p| known.contains(p)), "{}: unknown parameter", m.name);
            assert!(m.defaults.iter().all(|(p, _)| m.params.contains(p)), "{}: a default for a parameter it does not read", m.name);
            let model = if m.name == "lrp-lstm" { &lstm } else { &cnn };
            let built = m.build(model, &Params::default()).unwrap();
            assert_eq!(built.is_lrp(), m.family == Family::Lrp, "{}", m.name);
        }
        assert_eq!(available(&cnn).len(), METHODS.len() - 1, "every method but lrp-lstm runs on a CNN");
        assert_eq!(find("lrp-lstm").unwrap().default_of("epsilon"), Some(0.001));
        assert_eq!(find("lrp-eps").unwrap().default_of("epsilon"), Some(Params::default().rules.epsilon as f64));
        let mut names: Vec<&str> = names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METHODS.len(), "names are unique");
        assert!(find("nope").is_err());
    }

    #[test]
    fn every_preset_has_its_row() {
        for (p, name) in Preset::ALL {
            let row = find(name).unwrap();
            let model = if p == Preset::LrpLstm { crate::testing::lstm_model(1, 4, 3, 2, true, 3, true, 0.5) } else { crate::testing::tiny_cnn(1, true) };
            assert_eq!(row.build(&model, &Params::default()).unwrap(), Method::Lrp(Composite::preset(p, &model, &Params::default().rules).unwrap()));
        }
    }

    #[test]
    fn bias_is_a_switch_that_every_lrp_method_reads() {
        let spec = params().into_iter().find(|p| p.name == "bias").unwrap();
        assert!(spec.boolean && spec.integer && (spec.default, spec.min, spec.max) == (1.0, 0.0, 1.0));
        assert_eq!(params().iter().filter(|p| p.boolean).count(), 1);
        // the bias factor: only lrp-lstm reads it, and its composite carries it
        assert_eq!(METHODS.iter().filter(|m| m.params.contains(&"bias_factor")).map(|m| m.name).collect::<Vec<_>>(), ["lrp-lstm"]);
        let one = Params { rules: crate::RuleParams { bias_factor: 1.0, ..crate::RuleParams::default() }, ..Params::default() };
        let Method::Lrp(c) = find("lrp-lstm").unwrap().build(&crate::testing::lstm_model(1, 4, 3, 2, true, 3, true, 0.5), &one).unwrap() else { panic!() };
        assert_eq!(c.bias_factor(), 1.0);
        let model = crate::testing::tiny_cnn(1, true);
        let off = Params { rules: crate::RuleParams { bias: false, ..crate::RuleParams::default() }, ..Params::default() };
        let lstm = crate::testing::lstm_model(1, 4, 3, 2, true, 3, true, 0.5);
        for m in &METHODS {
            assert_eq!(m.params.contains(&"bias"), m.family == Family::Lrp, "{}", m.name);
            let model = if m.name == "lrp-lstm" { &lstm } else { &model };
            for (p, bias) in [(Params::default(), true), (off, false)] {
                if let Method::Lrp(c) = m.build(model, &p).unwrap() {
                    assert_eq!(c.bias(), bias, "{}", m.name);
                }
            }
        }
        // a wrapper's LRP base and a rule list take it too
        let Method::SmoothGrad { base, .. } = Method::from_name("smoothgrad:epsilon-plus", &model, &off).unwrap() else { panic!() };
        assert!(matches!(*base, Method::Lrp(ref c) if !c.bias()));
        let Method::Lrp(c) = Method::from_rule_list("zb,gamma,eps,0", &model, &off).unwrap() else { panic!() };
        assert!(!c.bias());
    }

    #[test]
    fn defaults_lie_in_their_ranges() {
        for p in params() {
            assert!(p.min <= p.default && p.default <= p.max, "{}", p.name);
        }
    }
}
