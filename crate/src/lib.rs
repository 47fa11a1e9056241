//! # lrp: Layer-wise Relevance Propagation for small image classifiers, native and in the browser
//!
//! A network is a chain of layers; layer `l` maps activations `a` (its input) to `z` (its output). For a
//! linear layer (dense, convolution, sum/average pooling) `z_k = sum_j a_j w_jk + b_k`, and
//! `z_jk = a_j w_jk` is the contribution of input `j` to output `k`. `R_k` is the relevance of output
//! `k`; a rule computes the relevance `R_j` of every input. The relevance of the input is the heatmap.
//!
//! The explained quantity is the logit of the target class: `R_L = onehot(target) * logit[target]`.
//! Every number follows `shared/docs/lrp-conventions.md`; where it is silent we follow Zennit.
//!
//! | module | what |
//! |---|---|
//! | [`model`] | layers with `forward`/`backward`, the model file (safetensors), LRP Toolbox import |
//! | [`rules`] | the [`Rule`] enum, the stabilizer, the generic four-step rule |
//! | [`composite`] | a rule per layer; the named presets |
//! | [`attribution`] | [`Explainer`]: LRP, Gradient, Sensitivity, Gradient x Input, Simple Taylor, IG, SmoothGrad, occlusion |
//! | [`preprocess`] | a drawing (RGBA/grey, any size) to a 28x28 MNIST-style input |
//! | [`photo`] | a photo to an ImageNet model's input: the evaluation crop, decoding with size limits |
//! | [`heatmap`] | relevance to RGBA colours |
//! | [`evaluate`] | pixel flipping and AOPC |
//! | [`sanity`] | the sanity check: cascading randomisation, Spearman and SSIM |
//! | [`report`] | the typed results the CLI prints and the page receives |
//! | [`train`] | training (cross-entropy, Adam, augmentation) and evaluation |
//!
//! ```
//! use lrp::{Explainer, Method, Model, Params, Query};
//! # let model = lrp::testing::tiny_cnn(1, true);
//! let pixels = vec![0.5f32; 28 * 28];
//! let method = Method::from_name("epsilon-plus", &model, &Params::default())?;
//! let mut explainer = Explainer::new(&model);
//! let e = explainer.explain(&model, &pixels, &method, &Query::default())?;
//! assert_eq!(e.heatmap.len(), 28 * 28);
//! # Ok::<(), lrp::LrpError>(())
//! ```

pub mod attribution;
pub mod composite;
pub mod error;
pub mod evaluate;
pub mod heatmap;
pub mod model;
pub mod ops;
pub mod photo;
pub mod preprocess;
pub mod report;
pub mod rules;
pub mod sanity;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod train;
#[cfg(target_arch = "wasm32")]
pub mod web;
#[cfg(target_arch = "wasm32")]
pub mod web_photo;

pub use attribution::registry::{self, METHODS};
pub use attribution::{Explainer, Explanation, LayerTotal, Method, Params, Query};
pub use composite::{Composite, Preset};
pub use error::{LrpError, Result};
pub use model::{Layer, Model, ModelFormat};
pub use rules::{Rule, RuleParams};
