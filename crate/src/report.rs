//! The results that leave the engine, as typed structs: the CLI prints them as JSON and the page gets
//! them as JavaScript objects (serde-wasm-bindgen), from the same definitions.

use crate::attribution::{Explanation, LayerTotal};
use crate::composite::Composite;
use crate::model::{InputStage, LstmRelevance, Model, Provenance, Shape, Watermark};
use crate::Method;
use serde::Serialize;

/// One node of a model.
#[derive(Clone, Debug, Serialize)]
pub struct LayerInfo {
    pub index: usize,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The shape of its (first) input, and the values it reads (0: the model input, k + 1: node k).
    pub input: Shape,
    pub inputs: Vec<usize>,
    pub output: Shape,
    pub parameters: usize,
}

/// A model's description: what `lrp info` prints and the page shows.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub description: String,
    pub classes: Vec<String>,
    pub input_stage: InputStage,
    /// `[channels, height, width]` of one input.
    pub input: [usize; 3],
    pub multiply_adds: usize,
    pub layers: Vec<LayerInfo>,
    pub parameters: usize,
    /// The methods of the table this model can run (the LRP presets defined for its layers).
    pub methods: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Watermark>,
    pub provenance: Provenance,
}

impl ModelInfo {
    pub fn of(m: &Model) -> ModelInfo {
        let layers = m
            .layers()
            .iter()
            .enumerate()
            .map(|(i, l)| LayerInfo {
                index: i,
                kind: l.kind(),
                input: m.input_shape_of(i),
                inputs: m.inputs(i).to_vec(),
                output: m.shapes()[i + 1],
                parameters: l.parameters(),
            })
            .collect();
        let s = m.input_stage().input_shape();
        let meta = m.meta();
        ModelInfo {
            name: meta.name.clone(),
            description: meta.description.clone(),
            classes: meta.classes.clone(),
            input_stage: m.input_stage().clone(),
            input: [s.c, s.h, s.w],
            multiply_adds: m.multiply_adds(),
            layers,
            parameters: m.parameters(),
            methods: crate::attribution::registry::available(m),
            watermark: meta.watermark.clone(),
            provenance: meta.provenance.clone(),
        }
    }
}

/// One prediction.
#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    pub logits: Vec<f32>,
    pub probabilities: Vec<f32>,
    pub prediction: usize,
}

impl Prediction {
    pub fn of(e: &Explanation) -> Prediction {
        Prediction { logits: e.logits.clone(), probabilities: e.probabilities.clone(), prediction: e.prediction }
    }
}

/// One explanation without its maps (they travel as typed arrays to the page, as nested rows in the
/// CLI's JSON): a view of the [`Explanation`], nothing copied.
#[derive(Clone, Debug, Serialize)]
pub struct Summary<'a> {
    pub method: &'a str,
    pub target: usize,
    pub contrast: Option<usize>,
    pub prediction: usize,
    pub logits: &'a [f32],
    pub probabilities: &'a [f32],
    /// The quantity decomposed: `logit[target]` (1 when normalized), minus the contrast's.
    pub explained: f32,
    /// Sum of the heatmap.
    pub sum: f32,
    /// Relevance that fell on the input stage's constant padding.
    pub padding: f32,
    /// `[channels, height, width]` of the heatmap.
    pub shape: [usize; 3],
    /// LRP: per layer, the relevance in and out.
    pub layers: &'a [LayerTotal],
    /// LRP: the rule of every layer (null where a layer takes none), when asked for ([`Summary::with_rules`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<Option<String>>>,
    /// LRP, with the rules: whether they count the layers' biases in `z` ([`crate::RuleParams::bias`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<bool>,
    /// Simple Taylor: the logit at the root point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_value: Option<f32>,
    /// LRP of an LSTM model: per direction the relevance of each input row, and the initial states' share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lstm: Option<&'a LstmRelevance>,
}

impl<'a> Summary<'a> {
    pub fn of(e: &'a Explanation, method_name: &'a str, model: &Model) -> Summary<'a> {
        let s = model.input_stage().input_shape();
        Summary {
            method: method_name,
            target: e.target,
            contrast: e.contrast,
            prediction: e.prediction,
            logits: &e.logits,
            probabilities: &e.probabilities,
            explained: e.explained,
            sum: e.total(),
            padding: e.padding,
            shape: [s.c, s.h, s.w],
            layers: &e.layers,
            rules: None,
            bias: None,
            root_value: e.root_value,
            lstm: e.lstm.as_ref(),
        }
    }

    /// With the rule of every layer of `method`'s composite (LRP, also inside a wrapper) and whether
    /// they count the biases.
    pub fn with_rules(mut self, method: &Method) -> Summary<'a> {
        self.rules = rule_names(method);
        self.bias = match method.innermost() {
            Method::Lrp(c) => Some(c.bias()),
            _ => None,
        };
        self
    }
}

/// The rule of every layer of the method's composite (LRP, also inside a wrapper), as text.
pub fn rule_names(method: &Method) -> Option<Vec<Option<String>>> {
    match method.innermost() {
        Method::Lrp(c) => Some(composite_names(c)),
        _ => None,
    }
}

fn composite_names(c: &Composite) -> Vec<Option<String>> {
    c.rules().iter().map(|r| r.map(|r| r.short_name())).collect()
}
