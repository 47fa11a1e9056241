//! The only file that knows JavaScript: a thin `wasm-bindgen` façade over the pure Rust engine.
//!
//! One [`Engine`] holds the current model, method and drawing. Every export validates its arguments
//! and returns `Result<_, JsError>`; nothing here can panic on input from the page. A failed model
//! load or method change leaves the previous one in place. Buffers cross as typed arrays
//! (`&[u8]` in, `Vec<f32>` / `Clamped<Vec<u8>>` out), copied, so no view into wasm memory is kept.

use crate::attribution::{Explainer, Method, Params, Query};
use crate::composite::Composite;
use crate::heatmap::{colorize, max_abs, ColorMap};
use crate::model::{Model, PIXELS, SIDE};
use crate::preprocess::{preprocess_rgba_with, Transform};
use crate::rules::Rule;
use crate::LrpError;
use wasm_bindgen::prelude::*;
use wasm_bindgen::Clamped;

/// Largest drawing side accepted (pixels).
pub const MAX_CANVAS: u32 = 4096;

fn js(e: LrpError) -> JsError {
    JsError::new(&e.to_string())
}
fn bad(msg: impl AsRef<str>) -> JsError {
    JsError::new(msg.as_ref())
}

fn now() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

fn class_arg(v: i32, classes: usize, what: &str) -> Result<Option<usize>, JsError> {
    match v {
        v if v < 0 => Ok(None),
        v if (v as usize) < classes => Ok(Some(v as usize)),
        v => Err(bad(format!("{what} class {v} out of range: the model has {classes} classes"))),
    }
}

/// The engine behind the page.
#[wasm_bindgen]
pub struct Engine {
    model: Option<Model>,
    explainer: Explainer,
    method_name: String,
    params: Params,
    method: Option<Method>,
    pixels: Vec<f32>,
    transform: Option<Transform>,
    colormap: ColorMap,
    /// preprocess, forward, explain, colour (ms) of the last update
    timings: [f64; 4],
    all: Vec<f32>,
    images: Vec<u8>,
    labels: Vec<u8>,
    /// reused by `preprocess` (a drawing's worth of floats on every pointer move)
    ink: Vec<f32>,
    /// stamp the model's watermark on every input (Clever Hans lesson)
    watermark: bool,
}

#[wasm_bindgen]
impl Engine {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Engine {
        Engine {
            model: None,
            explainer: Explainer::default(),
            method_name: "epsilon-plus".into(),
            params: Params::default(),
            method: None,
            pixels: vec![0.0; PIXELS],
            transform: None,
            colormap: ColorMap::BlueWhiteRed,
            timings: [0.0; 4],
            all: Vec::new(),
            images: Vec::new(),
            labels: Vec::new(),
            ink: Vec::new(),
            watermark: false,
        }
    }

    /// Every method name, in the order of the CLI.
    pub fn method_names() -> Vec<String> {
        crate::registry::names().map(String::from).collect()
    }

    /// The method table (names, families, parameters with defaults and ranges, descriptions,
    /// references) as JSON: the page's menu, sliders and comparison grid read it.
    pub fn methods() -> String {
        serde_json::to_string(&crate::registry::registry()).expect("the registry serializes")
    }

    /// Loads a model from `.safetensors` bytes, or an LRP Toolbox text model when `toolbox` is true
    /// (input stage as JSON `{"scale":2,"shift":-1,"pad":2,"pad_value":-1}`). On error the current model
    /// stays. Returns the model's description as JSON.
    pub fn load_model(&mut self, bytes: &[u8], toolbox: bool, stage_json: &str) -> Result<String, JsError> {
        let model = if toolbox {
            let text = std::str::from_utf8(bytes).map_err(|_| bad("toolbox model: the file is not UTF-8 text"))?;
            #[derive(serde::Deserialize)]
            struct Stage {
                scale: f32,
                shift: f32,
                #[serde(default)]
                pad: usize,
                #[serde(default)]
                pad_value: f32,
            }
            let stage = if stage_json.trim().is_empty() {
                Default::default()
            } else {
                let s: Stage = serde_json::from_str(stage_json).map_err(|e| bad(format!("input stage: {e}")))?;
                crate::model::InputStage::mnist(s.scale, s.shift, s.pad, s.pad_value)
            };
            crate::model::import_toolbox(text, &crate::model::ToolboxOptions { stage, name: "uploaded".into() }).map_err(js)?
        } else {
            Model::try_from(bytes).map_err(js)?
        };
        let shape = model.input_stage().input_shape();
        if (shape.c, shape.h, shape.w) != (1, SIDE, SIDE) {
            return Err(bad(format!("this page draws 28x28 grey digits; the model takes {}x{}x{} inputs", shape.c, shape.h, shape.w)));
        }
        // the current method must make sense for the new model; fall back to the default if not
        let method = Method::from_name(&self.method_name, &model, &self.params)
            .or_else(|_| Method::from_name("epsilon-plus", &model, &Params::default()))
            .map_err(js)?;
        self.explainer = Explainer::new(&model);
        self.method = Some(method);
        self.watermark &= model.meta().watermark.is_some();
        self.model = Some(model);
        Ok(self.model_info())
    }

    /// The current model as JSON: name, classes, layers with shapes, watermark, provenance.
    pub fn model_info(&self) -> String {
        let Some(m) = &self.model else { return "null".into() };
        let layers: Vec<serde_json::Value> = m
            .layers()
            .iter()
            .enumerate()
            .map(
                |(i, l)| serde_json::json!({ "index": i, "type": l.kind(), "input": m.input_shape_of(i), "inputs": m.inputs(i), "output": m.shapes()[i + 1], "parameters": l.parameters() }),
            )
            .collect();
        serde_json::json!({
            "name": m.meta().name, "description": m.meta().description, "classes": m.meta().classes,
            "layers": layers, "parameters": m.parameters(), "watermark": m.meta().watermark,
            "provenance": m.meta().provenance, "input_stage": m.input_stage(),
        })
        .to_string()
    }

    /// Sets the method by name with parameters as JSON (`{"epsilon":0.1,"gamma":0.25,"alpha":2,"beta":1,
    /// "steps":32,"samples":32,"sigma":0.15,"seed":0}`, any subset). On error the previous method stays.
    pub fn set_method(&mut self, name: &str, params_json: &str) -> Result<(), JsError> {
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let params: Params =
            if params_json.trim().is_empty() { Params::default() } else { serde_json::from_str(params_json).map_err(|e| bad(format!("parameters: {e}")))? };
        let method = Method::from_name(name, model, &params).map_err(js)?;
        self.method = Some(method);
        self.method_name = name.into();
        self.params = params;
        Ok(())
    }

    /// LRP with a rule for each layer: `rules` is a JSON array with one entry per layer, a rule name
    /// (`0`, `eps=0.1`, `gamma=0.25`, `alpha2-beta1`, `zplus`, `zb`, `w2`, `flat`) or null for layers
    /// that take no rule.
    pub fn set_layer_rules(&mut self, rules_json: &str) -> Result<(), JsError> {
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let names: Vec<Option<String>> = serde_json::from_str(rules_json).map_err(|e| bad(format!("rules: {e}")))?;
        if names.len() != model.layers().len() {
            return Err(bad(format!("rules: {} entries for {} layers", names.len(), model.layers().len())));
        }
        let mut c = Composite::preset(crate::Preset::Lrp0, model, &self.params.rules).map_err(js)?;
        for (i, n) in names.iter().enumerate() {
            if let Some(n) = n {
                c.set(model, i, Rule::parse(n, &self.params.rules).map_err(js)?).map_err(js)?;
            }
        }
        self.method = Some(Method::Lrp(c));
        self.method_name = "custom".into();
        Ok(())
    }

    /// The current rule of every layer as a JSON array (null where a layer takes none or the method is not LRP).
    pub fn layer_rules(&self) -> String {
        match &self.method {
            Some(Method::Lrp(c)) => serde_json::to_string(&c.rules().iter().map(|r| r.map(|r| r.short_name())).collect::<Vec<_>>()).unwrap_or_default(),
            _ => "null".into(),
        }
    }

    /// `bwr` (blue-white-red) or `puor` (purple-orange, colour-blind safe).
    pub fn set_colormap(&mut self, name: &str) -> Result<(), JsError> {
        self.colormap = ColorMap::from_name(name).ok_or_else(|| bad(format!("unknown colour map `{name}`")))?;
        Ok(())
    }

    /// MNIST-style preprocessing of an RGBA drawing. Returns false when there is no ink.
    pub fn preprocess(&mut self, rgba: &[u8], width: u32, height: u32) -> Result<bool, JsError> {
        if width == 0 || height == 0 || width > MAX_CANVAS || height > MAX_CANVAS {
            return Err(bad(format!("canvas {width}x{height}: each side must be 1..={MAX_CANVAS}")));
        }
        let need = width as usize * height as usize * 4;
        if rgba.len() != need {
            return Err(bad(format!("canvas {width}x{height} needs {need} RGBA bytes, got {}", rgba.len())));
        }
        let t0 = now();
        let p = preprocess_rgba_with(rgba, width as usize, height as usize, &mut self.ink);
        self.pixels = p.pixels;
        self.transform = p.transform;
        if self.transform.is_some() {
            self.stamp();
        }
        self.timings[0] = now() - t0;
        Ok(self.transform.is_some())
    }

    /// Sets the 28x28 input directly (values in [0, 1]); the transform becomes the identity at 10x.
    pub fn set_pixels(&mut self, pixels: &[f32]) -> Result<(), JsError> {
        crate::attribution::validate_pixels(pixels, PIXELS).map_err(js)?;
        if pixels.len() != PIXELS {
            return Err(bad(format!("expected {PIXELS} pixels, got {}", pixels.len())));
        }
        self.pixels.copy_from_slice(pixels);
        self.transform = None;
        self.stamp();
        Ok(())
    }

    /// Forward pass and explanation of the current input. `target`/`contrast` < 0 mean predicted / none.
    pub fn explain(&mut self, target: i32, contrast: i32, normalize: bool) -> Result<(), JsError> {
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let method = self.method.as_ref().ok_or_else(|| bad("no method set"))?;
        let classes = model.classes();
        let query = Query { target: class_arg(target, classes, "target")?, contrast: class_arg(contrast, classes, "contrast")?, normalize };
        let t0 = now();
        self.explainer.predict(model, &self.pixels).map_err(js)?;
        let t1 = now();
        self.explainer.explain(model, &self.pixels, method, &query).map_err(js)?;
        self.timings[1] = t1 - t0;
        self.timings[2] = now() - t1;
        Ok(())
    }

    /// Explains every class with the current method; returns `classes * 784` values (class-major).
    pub fn explain_all_classes(&mut self, normalize: bool) -> Result<Vec<f32>, JsError> {
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let method = self.method.as_ref().ok_or_else(|| bad("no method set"))?;
        self.all.clear();
        for c in 0..model.classes() {
            let e = self.explainer.explain(model, &self.pixels, method, &Query { target: Some(c), contrast: None, normalize }).map_err(js)?;
            self.all.extend_from_slice(&e.heatmap);
        }
        Ok(self.all.clone())
    }

    /// RGBA (28x28) of any values with the current colour map, scaled by `scale` (<= 0: their own max |v|).
    pub fn colorize(&mut self, values: &[f32], scale: f32, alpha_by_magnitude: bool) -> Clamped<Vec<u8>> {
        let t0 = now();
        let s = if scale > 0.0 && scale.is_finite() { scale } else { max_abs(values) };
        let mut out = Vec::with_capacity(values.len() * 4);
        colorize(values, s, self.colormap, alpha_by_magnitude, &mut out);
        self.timings[3] = now() - t0;
        Clamped(out)
    }

    /// A colour of the current map for `t` in [-1, 1] (the colour bar).
    pub fn color_of(&self, t: f32) -> Vec<u8> {
        self.colormap.rgb(t).to_vec()
    }

    /// The 28x28 input as grey RGBA ("what the network sees": ink white on black).
    pub fn input_rgba(&self) -> Clamped<Vec<u8>> {
        Clamped(
            self.pixels
                .iter()
                .flat_map(|&p| {
                    let v = (p.clamp(0.0, 1.0) * 255.0).round() as u8;
                    [v, v, v, 255]
                })
                .collect(),
        )
    }

    pub fn pixels(&self) -> Vec<f32> {
        self.pixels.clone()
    }
    /// `[scale, src_x, src_y, dst_x, dst_y]` of the last preprocessing (empty if none).
    pub fn transform(&self) -> Vec<f32> {
        self.transform.map_or(Vec::new(), |t| vec![t.scale, t.src_x, t.src_y, t.dst_x, t.dst_y])
    }
    /// The last explanation as JSON: target, contrast, prediction, logits, probabilities, explained,
    /// sum, padding, per-layer totals, Taylor root value.
    pub fn result_json(&self) -> String {
        let e = self.explainer.last();
        serde_json::json!({
            "target": e.target, "contrast": e.contrast, "prediction": e.prediction, "logits": e.logits,
            "probabilities": e.probabilities, "explained": e.explained, "sum": e.total(), "padding": e.padding,
            "layers": e.layers, "root_value": e.root_value,
        })
        .to_string()
    }
    pub fn heatmap(&self) -> Vec<f32> {
        self.explainer.last().heatmap.clone()
    }
    pub fn probabilities(&self) -> Vec<f32> {
        self.explainer.last().probabilities.clone()
    }
    pub fn prediction(&self) -> u32 {
        self.explainer.last().prediction as u32
    }
    /// Simple Taylor's root point (28x28 pixels), empty for other methods.
    pub fn root(&self) -> Vec<f32> {
        self.explainer.last().root.clone().unwrap_or_default()
    }
    /// Relevance of value `i` (in a chain: at the input of layer `i`; `i = layers` for the output) from
    /// the last explanation.
    pub fn layer_relevance(&self, i: u32) -> Result<Vec<f32>, JsError> {
        self.explainer.layer_relevance(i as usize).map(<[f32]>::to_vec).ok_or_else(|| bad(format!("layer {i} does not exist")))
    }
    /// preprocess, forward, explain, colour (ms) of the last update.
    pub fn timings(&self) -> Vec<f64> {
        self.timings.to_vec()
    }

    /// Pixel flipping of the last explanation's heatmap (its target class): `steps` steps of `per_step`
    /// pixels, and the mean of `random_repeats` random orders (seed 0) as the baseline. JSON
    /// `{"values": [...], "aopc": x, "random_values": [...], "random_aopc": y}`.
    pub fn pixel_flipping(&mut self, per_step: u32, steps: u32, random_repeats: u32) -> Result<String, JsError> {
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let (heat, target) = {
            let e = self.explainer.last();
            if e.heatmap.len() != PIXELS {
                return Err(bad("explain first"));
            }
            (e.heatmap.clone(), e.target)
        };
        let c = crate::evaluate::pixel_flipping(&mut self.explainer, model, &self.pixels, &heat, target, per_step as usize, steps as usize).map_err(js)?;
        let r = if random_repeats > 0 {
            Some(
                crate::evaluate::random_flipping(
                    &mut self.explainer,
                    model,
                    &self.pixels,
                    target,
                    per_step as usize,
                    steps as usize,
                    random_repeats as usize,
                    0,
                )
                .map_err(js)?,
            )
        } else {
            None
        };
        Ok(serde_json::json!({ "values": c.values, "aopc": c.aopc, "random_values": r.as_ref().map(|r| &r.values), "random_aopc": r.map(|r| r.aopc) })
            .to_string())
    }

    /// Every method in `names_json` (a JSON array of method names) on the current input, with the current
    /// parameters and the given target (< 0: predicted), and each heatmap's pixel-flipping curve
    /// (`steps` steps of `per_step` pixels) with its AOPC, and the random-order baseline (mean of
    /// `random_repeats` orders). JSON `{"methods": [{"name", "heatmap", "values", "aopc"}], "random": {...}}`.
    pub fn compare(&mut self, names_json: &str, target: i32, per_step: u32, steps: u32, random_repeats: u32) -> Result<String, JsError> {
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let names: Vec<String> = serde_json::from_str(names_json).map_err(|e| bad(format!("method names: {e}")))?;
        if names.len() > 64 {
            return Err(bad("at most 64 methods"));
        }
        let target = class_arg(target, model.classes(), "target")?;
        let mut out = Vec::with_capacity(names.len());
        let mut class = 0;
        for name in &names {
            let method = Method::from_name(name, model, &self.params).map_err(js)?;
            let e = self.explainer.explain(model, &self.pixels, &method, &Query { target, contrast: None, normalize: false }).map_err(js)?;
            let (heat, t) = (e.heatmap.clone(), e.target);
            class = t;
            let c = crate::evaluate::pixel_flipping(&mut self.explainer, model, &self.pixels, &heat, t, per_step as usize, steps as usize).map_err(js)?;
            out.push(serde_json::json!({ "name": name, "heatmap": heat, "values": c.values, "aopc": c.aopc }));
        }
        let random = if random_repeats > 0 {
            let r = crate::evaluate::random_flipping(
                &mut self.explainer,
                model,
                &self.pixels,
                target.unwrap_or(class),
                per_step as usize,
                steps as usize,
                random_repeats as usize,
                0,
            )
            .map_err(js)?;
            serde_json::json!({ "values": r.values, "aopc": r.aopc })
        } else {
            serde_json::Value::Null
        };
        Ok(serde_json::json!({ "methods": out, "random": random, "target": target.unwrap_or(class) }).to_string())
    }

    /// Stamps (or stops stamping) the model's watermark onto every input after preprocessing: the Clever
    /// Hans lesson. An error if the model has none.
    pub fn set_watermark(&mut self, on: bool) -> Result<(), JsError> {
        if on && self.model.as_ref().and_then(|m| m.meta().watermark.as_ref()).is_none() {
            return Err(bad("this model has no watermark (choose clever-hans)"));
        }
        self.watermark = on;
        Ok(())
    }

    /// Gradient x Input of the softmax probability of `target` (< 0: predicted) instead of the logit.
    pub fn softmax_explanation(&mut self, target: i32) -> Result<Vec<f32>, JsError> {
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let t = match class_arg(target, model.classes(), "target")? {
            Some(t) => t,
            None => self.explainer.predict(model, &self.pixels).map_err(js)?.prediction,
        };
        self.explainer.softmax_gradient_x_input(model, &self.pixels, t).map_err(js)
    }

    /// Loads the MNIST test set (decompressed IDX images and labels) for the example buttons.
    pub fn load_digits(&mut self, images: &[u8], labels: &[u8]) -> Result<u32, JsError> {
        let be = |b: &[u8], i: usize| b.get(i..i + 4).map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]) as usize);
        if be(images, 0) != Some(0x803) || be(labels, 0) != Some(0x801) {
            return Err(bad("not MNIST IDX files"));
        }
        let n = be(labels, 4).unwrap_or(0);
        if be(images, 4) != Some(n) || be(images, 8) != Some(SIDE) || be(images, 12) != Some(SIDE) || images.len() != 16 + n * PIXELS || labels.len() != 8 + n {
            return Err(bad("MNIST IDX files with inconsistent sizes"));
        }
        self.images = images[16..].to_vec();
        self.labels = labels[8..].to_vec();
        Ok(n as u32)
    }

    /// Test digit `i` as 28x28 pixels in [0, 1].
    pub fn digit(&self, i: u32) -> Result<Vec<f32>, JsError> {
        let i = i as usize;
        if i >= self.labels.len() {
            return Err(bad(format!("digit {i} out of range ({} loaded)", self.labels.len())));
        }
        Ok(self.images[i * PIXELS..(i + 1) * PIXELS].iter().map(|&b| b as f32 / 255.0).collect())
    }

    pub fn label(&self, i: u32) -> Result<u32, JsError> {
        self.labels.get(i as usize).map(|&l| l as u32).ok_or_else(|| bad(format!("digit {i} out of range")))
    }

    /// The first test digit from `start` on (wrapping) that the current model gets wrong, or -1.
    pub fn find_misclassified(&mut self, start: u32) -> Result<i32, JsError> {
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let n = self.labels.len();
        for k in 0..n {
            let i = (start as usize + k) % n;
            let x: Vec<f32> = self.images[i * PIXELS..(i + 1) * PIXELS].iter().map(|&b| b as f32 / 255.0).collect();
            if self.explainer.predict(model, &x).map_err(js)?.prediction != self.labels[i] as usize {
                return Ok(i as i32);
            }
        }
        Ok(-1)
    }
}

impl Engine {
    fn stamp(&mut self) {
        if let (true, Some(w)) = (self.watermark, self.model.as_ref().and_then(|m| m.meta().watermark.as_ref())) {
            w.stamp(&mut self.pixels);
        }
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}
