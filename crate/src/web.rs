//! The only file that knows JavaScript: a thin `wasm-bindgen` façade over the pure Rust engine.
//!
//! The [`Engine`] holds what the page shares: the model, the input (the drawing, or a test digit) and
//! the MNIST test set. Everything else comes with each call: [`Engine::explain`] takes the method, its
//! parameters and the query as one request object and returns a typed report (the
//! [`crate::report::Summary`] the CLI prints, plus the maps as `Float32Array`s), so a teaching panel
//! that explains with other methods changes nothing the main view relies on. Requests are read with
//! serde (unknown fields are errors), results cross with `serde-wasm-bindgen`; every export validates its arguments and returns `Result<_, JsError>`;
//! nothing here can panic on input from the page (the panic hook only makes a bug readable). A failed
//! model load leaves the previous model in place.

use crate::attribution::{Explainer, Method, Params, Query};
use crate::composite::Composite;
use crate::heatmap::{colorize, max_abs, ColorMap};
#[cfg(feature = "onnx")]
use crate::model::OnnxOptions;
use crate::model::{InputStage, Model, ModelFormat, ToolboxOptions, PIXELS, SIDE};
use crate::preprocess::{preprocess_rgba_with, Transform};
use crate::report::{ModelInfo, Summary};
use crate::rules::Rule;
use crate::LrpError;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::Clamped;

/// Largest drawing side accepted (pixels).
pub const MAX_CANVAS: u32 = 4096;
/// Most methods one comparison runs.
pub const MAX_COMPARED: usize = 64;

pub(crate) fn js(e: LrpError) -> JsError {
    JsError::new(&e.to_string())
}
pub(crate) fn bad(msg: impl AsRef<str>) -> JsError {
    JsError::new(msg.as_ref())
}

pub(crate) fn now() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// A request object from the page (`undefined` or `null`: every field at its default). Read through
/// its JSON text, so that a misspelt field is an error naming it, not silently ignored.
pub(crate) fn request<T: for<'de> Deserialize<'de> + Default>(v: JsValue, what: &str) -> Result<T, JsError> {
    if v.is_undefined() || v.is_null() {
        return Ok(T::default());
    }
    let text = js_sys::JSON::stringify(&v).ok().and_then(|s| s.as_string()).ok_or_else(|| bad(format!("{what}: not a JSON object")))?;
    serde_json::from_str(&text).map_err(|e| bad(format!("{what}: {e}")))
}

/// A typed result as a JavaScript object (`None` as `null`, maps as plain objects).
pub(crate) fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| bad(format!("result: {e}")))
}

pub(crate) fn set(obj: &JsValue, key: &str, value: &JsValue) -> Result<(), JsError> {
    js_sys::Reflect::set(obj, &JsValue::from_str(key), value).map(|_| ()).map_err(|_| bad("result: cannot set a field"))
}

pub(crate) fn floats(v: &[f32]) -> JsValue {
    js_sys::Float32Array::from(v).into()
}

/// The method of a request: a name of the method table (`NAME:BASE` for a wrapper) with its
/// parameters, or `custom` with a rule per layer.
#[derive(Debug)]
pub(crate) struct MethodRequest {
    pub(crate) method: String,
    pub(crate) params: Params,
    /// `custom`: one entry per layer, a rule (`0`, `eps=0.1`, `gamma=0.25`, `alpha2-beta1`, `zplus`,
    /// `zb`, `w2`, `flat`) or null for layers that take none.
    pub(crate) rules: Option<Vec<Option<String>>>,
}

impl MethodRequest {
    pub(crate) fn build(&self, model: &Model) -> Result<Method, JsError> {
        match (&self.rules, self.method.as_str()) {
            (Some(names), "custom") => {
                if names.len() != model.layers().len() {
                    return Err(bad(format!("rules: {} entries for {} layers", names.len(), model.layers().len())));
                }
                let mut c = Composite::preset(crate::Preset::Lrp0, model, &self.params.rules).map_err(js)?;
                for (i, n) in names.iter().enumerate() {
                    if let Some(n) = n {
                        c.set(model, i, Rule::parse(n, &self.params.rules).map_err(js)?).map_err(js)?;
                    }
                }
                Ok(Method::Lrp(c))
            }
            (Some(_), m) => Err(bad(format!("rules are given with the method `custom`, not `{m}`"))),
            (None, "custom") => Err(bad("the method `custom` needs a rule per layer")),
            (None, name) => Method::from_name(name, model, &self.params).map_err(js),
        }
    }
}

/// What [`Engine::explain`] reads.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ExplainRequest {
    pub(crate) method: String,
    pub(crate) params: Params,
    pub(crate) rules: Option<Vec<Option<String>>>,
    /// Class to explain (null: the predicted one) and the contrast class (null: none).
    pub(crate) target: Option<usize>,
    pub(crate) contrast: Option<usize>,
    pub(crate) normalize: bool,
    /// Also return the relevance of every value of the graph (`layer_maps`).
    pub(crate) layers: bool,
    /// Also return every value of the forward pass (`layer_acts`).
    pub(crate) activations: bool,
    /// `[value, channel]`: only the relevance through that channel (Concept Relevance Propagation).
    pub(crate) condition: Option<[usize; 2]>,
}

impl Default for ExplainRequest {
    fn default() -> Self {
        ExplainRequest {
            method: "epsilon-plus".into(),
            params: Params::default(),
            rules: None,
            target: None,
            contrast: None,
            normalize: false,
            layers: false,
            activations: false,
            condition: None,
        }
    }
}

impl ExplainRequest {
    /// True if `m` is this request's method (compared in place: no copy per explanation).
    pub(crate) fn asks_for(&self, m: &MethodRequest) -> bool {
        m.method == self.method && m.params == self.params && m.rules == self.rules
    }
}

/// What [`Engine::compare`] reads.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CompareRequest {
    methods: Vec<String>,
    params: Params,
    target: Option<usize>,
    per_step: usize,
    steps: usize,
    random_repeats: usize,
}

impl Default for CompareRequest {
    fn default() -> Self {
        CompareRequest { methods: Vec::new(), params: Params::default(), target: None, per_step: 8, steps: 25, random_repeats: 4 }
    }
}

/// What [`Engine::sanity_check`] reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SanityRequest {
    methods: Vec<String>,
    params: Params,
    target: Option<usize>,
    seed: u64,
}

/// What [`Engine::load_model`] reads.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LoadRequest {
    /// `safetensors`, `toolbox` or `onnx`.
    format: String,
    /// An LRP Toolbox model's input stage: pixel `x` becomes `x * scale + shift`, then `pad` pixels of
    /// `pad_value` on every side.
    scale: f32,
    shift: f32,
    pad: usize,
    pad_value: f32,
    name: String,
    /// An ONNX model's input normalisation per channel, `(pixel - mean) / std` (else `scale`/`shift`).
    mean: Option<Vec<f32>>,
    std: Option<Vec<f32>>,
}

impl Default for LoadRequest {
    fn default() -> Self {
        LoadRequest { format: "safetensors".into(), scale: 1.0, shift: 0.0, pad: 0, pad_value: 0.0, name: "uploaded".into(), mean: None, std: None }
    }
}

impl LoadRequest {
    fn format(&self) -> Result<ModelFormat, JsError> {
        match self.format.as_str() {
            "safetensors" => Ok(ModelFormat::Safetensors),
            "toolbox" => {
                Ok(ModelFormat::Toolbox(ToolboxOptions { stage: InputStage::mnist(self.scale, self.shift, self.pad, self.pad_value), name: self.name.clone() }))
            }
            #[cfg(feature = "onnx")]
            "onnx" => {
                let base = OnnxOptions { name: self.name.clone(), scale: vec![self.scale], shift: vec![self.shift], classes: None };
                Ok(ModelFormat::Onnx(match (&self.mean, &self.std) {
                    (None, None) => base,
                    (Some(m), Some(s)) => base.with_mean_std(m, s).map_err(js)?,
                    _ => return Err(bad("ONNX input: give both mean and std, or neither")),
                }))
            }
            #[cfg(not(feature = "onnx"))]
            "onnx" => Err(bad("this engine is built without ONNX import: the page loads its ONNX build (pkg-onnx) for .onnx files")),
            f => Err(bad(format!("unknown model format `{f}` (safetensors, toolbox or onnx)"))),
        }
    }
}

#[derive(Serialize)]
struct Timings {
    forward: f64,
    explain: f64,
}

#[derive(Serialize)]
struct Compared {
    name: String,
    values: Vec<f32>,
    aopc: f32,
}

/// The last request's method, built for the current model (rebuilt when the model or the request
/// changes: building one prepares every layer's rule). Shared by [`Engine`] and the photo engine.
#[derive(Default)]
pub(crate) struct MethodCache(Option<(u64, MethodRequest, Method)>);

impl MethodCache {
    /// The method `req` asks for on `model`, built only if it is not the cached one.
    pub(crate) fn get(&mut self, model: &Model, req: &ExplainRequest) -> Result<&Method, JsError> {
        if !matches!(&self.0, Some((id, r, _)) if *id == model.id() && req.asks_for(r)) {
            let r = MethodRequest { method: req.method.clone(), params: req.params, rules: req.rules.clone() };
            let m = r.build(model)?;
            self.0 = Some((model.id(), r, m));
        }
        self.0.as_ref().map(|(_, _, m)| m).ok_or_else(|| bad("no method"))
    }

    pub(crate) fn clear(&mut self) {
        self.0 = None;
    }
}

/// The engine behind the page.
#[wasm_bindgen]
pub struct Engine {
    model: Option<Model>,
    explainer: Explainer,
    cached: MethodCache,
    pixels: Vec<f32>,
    transform: Option<Transform>,
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
        console_error_panic_hook::set_once();
        Engine {
            model: None,
            explainer: Explainer::default(),
            cached: MethodCache::default(),
            pixels: vec![0.0; PIXELS],
            transform: None,
            images: Vec::new(),
            labels: Vec::new(),
            ink: Vec::new(),
            watermark: false,
        }
    }

    /// The method table: `{ methods: [{ name, family, params, compare, wrapper, description,
    /// reference }], params: [{ name, default, min, max, log, integer, description }] }`.
    pub fn methods() -> Result<JsValue, JsError> {
        to_js(&crate::registry::registry())
    }

    /// Loads a model from its bytes; `options` `{ format: "safetensors" | "toolbox" | "onnx", scale,
    /// shift, pad, pad_value, name, mean, std }` (the input stage a toolbox or ONNX file does not carry;
    /// all optional). On error the current model stays.
    /// Returns the model's description ([`ModelInfo`]).
    pub fn load_model(&mut self, bytes: &[u8], options: JsValue) -> Result<JsValue, JsError> {
        let req: LoadRequest = request(options, "model options")?;
        let model = req.format()?.load(bytes).map_err(js)?;
        let shape = model.input_stage().input_shape();
        if (shape.c, shape.h, shape.w) != (1, SIDE, SIDE) {
            return Err(bad(format!("this page draws 28x28 grey digits; the model takes {}x{}x{} inputs", shape.c, shape.h, shape.w)));
        }
        self.explainer = Explainer::new(&model);
        self.cached.clear();
        self.watermark &= model.meta().watermark.is_some();
        self.model = Some(model);
        self.model_info()
    }

    /// The current model as this project's `.safetensors` bytes (the page's ONNX build converts a
    /// dropped `.onnx` file with it, for the main engine to load; the main build leaves it out, 35 KiB).
    #[cfg(feature = "onnx")]
    pub fn export_model(&self) -> Result<Vec<u8>, JsError> {
        self.model.as_ref().ok_or_else(|| bad("no model is loaded"))?.to_safetensors().map_err(js)
    }

    /// The current model's description, or null.
    pub fn model_info(&self) -> Result<JsValue, JsError> {
        self.model.as_ref().map_or(Ok(JsValue::NULL), |m| to_js(&ModelInfo::of(m)))
    }

    /// MNIST-style preprocessing of an RGBA drawing into the input. Returns false when there is no ink.
    pub fn preprocess(&mut self, rgba: &[u8], width: u32, height: u32) -> Result<bool, JsError> {
        if width == 0 || height == 0 || width > MAX_CANVAS || height > MAX_CANVAS {
            return Err(bad(format!("canvas {width}x{height}: each side must be 1..={MAX_CANVAS}")));
        }
        let need = width as usize * height as usize * 4;
        if rgba.len() != need {
            return Err(bad(format!("canvas {width}x{height} needs {need} RGBA bytes, got {}", rgba.len())));
        }
        let p = preprocess_rgba_with(rgba, width as usize, height as usize, &mut self.ink);
        self.pixels = p.pixels;
        self.transform = p.transform;
        if self.transform.is_some() {
            self.stamp();
        }
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

    /// Explains the current input. `request`: `{ method, params, rules, target, contrast, normalize,
    /// layers }` (all optional: EpsilonPlus of the predicted class). Returns the [`Summary`] with
    /// `heatmap` (Float32Array), `root` (Simple Taylor's root point or null) and `timings` (ms); with
    /// `layers: true` also `layer_maps` (the relevance of every value, Float32Arrays) and `rules`.
    pub fn explain(&mut self, request: JsValue) -> Result<JsValue, JsError> {
        let req: ExplainRequest = self::request(request, "explain")?;
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let method = self.cached.get(model, &req)?;
        let ex = &mut self.explainer;
        let query = Query { target: req.target, contrast: req.contrast, normalize: req.normalize };
        let t0 = now();
        ex.predict(model, &self.pixels).map_err(js)?;
        let t1 = now();
        let e = match req.condition {
            Some([value, channel]) => ex.explain_conditional(model, &self.pixels, method, &query, value, channel),
            None => ex.explain(model, &self.pixels, method, &query),
        }
        .map_err(js)?;
        let t2 = now();
        let summary = Summary::of(e, &req.method, model);
        // the rules are for the layer view (their strings cost more to hand over than the numbers)
        let out = to_js(&if req.layers { summary.with_rules(method) } else { summary })?;
        set(&out, "heatmap", &floats(&e.heatmap))?;
        set(&out, "root", &e.root.as_deref().map_or(JsValue::NULL, floats))?;
        set(&out, "timings", &to_js(&Timings { forward: t1 - t0, explain: t2 - t1 })?)?;
        if req.layers {
            let maps = js_sys::Array::new();
            for i in 0..model.shapes().len() {
                maps.push(&floats(ex.layer_relevance(i).unwrap_or(&[])));
            }
            set(&out, "layer_maps", &maps)?;
        }
        if req.activations {
            let acts = js_sys::Array::new();
            for i in 0..model.shapes().len() {
                acts.push(&floats(ex.activation(i).unwrap_or(&[])));
            }
            set(&out, "layer_acts", &acts)?;
        }
        Ok(out)
    }

    /// Explains every class with the request's method; returns `classes * 784` values (class-major).
    pub fn explain_all_classes(&mut self, request: JsValue) -> Result<Vec<f32>, JsError> {
        let req: ExplainRequest = self::request(request, "explain")?;
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let method = self.cached.get(model, &req)?;
        let mut all = Vec::with_capacity(model.classes() * PIXELS);
        for c in 0..model.classes() {
            let e = self.explainer.explain(model, &self.pixels, method, &Query { target: Some(c), contrast: None, normalize: req.normalize }).map_err(js)?;
            all.extend_from_slice(&e.heatmap);
        }
        Ok(all)
    }

    /// Every method of `request.methods` (names of the table) on the current input with `params`, and
    /// each heatmap's pixel-flipping curve (`steps` steps of `per_step` pixels) with its AOPC, and the
    /// random-order baseline (mean of `random_repeats` orders, seed 0): `{ methods: [{ name, heatmap,
    /// values, aopc }], random: { values, aopc } | null, target }`.
    pub fn compare(&mut self, request: JsValue) -> Result<JsValue, JsError> {
        let req: CompareRequest = self::request(request, "compare")?;
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        if req.methods.len() > MAX_COMPARED {
            return Err(bad(format!("at most {MAX_COMPARED} methods")));
        }
        let methods = js_sys::Array::new();
        let mut class = req.target.unwrap_or(0);
        for name in &req.methods {
            let method = Method::from_name(name, model, &req.params).map_err(js)?;
            let e = self.explainer.explain(model, &self.pixels, &method, &Query { target: req.target, contrast: None, normalize: false }).map_err(js)?;
            let (heat, t) = (e.heatmap.clone(), e.target);
            class = t;
            let c = crate::evaluate::pixel_flipping(&mut self.explainer, model, &self.pixels, &heat, t, req.per_step, req.steps).map_err(js)?;
            let row = to_js(&Compared { name: name.clone(), values: c.values, aopc: c.aopc })?;
            set(&row, "heatmap", &floats(&heat))?;
            methods.push(&row);
        }
        let random = if req.random_repeats > 0 {
            let r = crate::evaluate::random_flipping(&mut self.explainer, model, &self.pixels, class, req.per_step, req.steps, req.random_repeats, 0)
                .map_err(js)?;
            to_js(&r)?
        } else {
            JsValue::NULL
        };
        let out = js_sys::Object::new().into();
        set(&out, "methods", &methods)?;
        set(&out, "random", &random)?;
        set(&out, "target", &JsValue::from(class as u32))?;
        Ok(out)
    }

    /// The sanity check (Adebayo et al. 2018, see [`crate::sanity`]) on the current input: `methods`
    /// (names of the table, at most as many as the comparison) with `params`, the cascade of randomised
    /// layers from the top down with `seed`. Returns `{ methods, target, steps: [{ randomized, spearman,
    /// ssim, maps }] }`, `maps` one Float32Array per method.
    pub fn sanity_check(&mut self, request: JsValue) -> Result<JsValue, JsError> {
        let req: SanityRequest = self::request(request, "sanity_check")?;
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        if req.methods.len() > MAX_COMPARED {
            return Err(bad(format!("at most {MAX_COMPARED} methods")));
        }
        let methods =
            req.methods.iter().map(|n| Method::from_name(n, model, &req.params).map(|m| (n.clone(), m))).collect::<Result<Vec<_>, _>>().map_err(js)?;
        let report = crate::sanity::cascade(model, &self.pixels, &methods, req.target, req.seed).map_err(js)?;
        let out = to_js(&report)?;
        let steps = js_sys::Array::new();
        for step in &report.steps {
            let row = to_js(step)?;
            let maps = js_sys::Array::new();
            step.maps.iter().for_each(|m| {
                maps.push(&floats(m));
            });
            set(&row, "maps", &maps)?;
            steps.push(&row);
        }
        set(&out, "steps", &steps)?;
        Ok(out)
    }

    /// RGBA of any values with the colour map `colormap` (`bwr` blue-white-red, `puor` purple-orange,
    /// colour-blind safe), scaled by `scale` (<= 0: their own max |v|).
    pub fn colorize(values: &[f32], scale: f32, alpha_by_magnitude: bool, colormap: &str) -> Result<Clamped<Vec<u8>>, JsError> {
        let map = color_map(colormap)?;
        let s = if scale > 0.0 && scale.is_finite() { scale } else { max_abs(values) };
        let mut out = Vec::with_capacity(values.len() * 4);
        colorize(values, s, map, alpha_by_magnitude, &mut out);
        Ok(Clamped(out))
    }

    /// A colour of `colormap` for `t` in [-1, 1] (the colour bar).
    pub fn color_of(t: f32, colormap: &str) -> Result<Vec<u8>, JsError> {
        Ok(color_map(colormap)?.rgb(t).to_vec())
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

    /// Stamps (or stops stamping) the model's watermark onto every input after preprocessing: the Clever
    /// Hans lesson. An error if the model has none.
    pub fn set_watermark(&mut self, on: bool) -> Result<(), JsError> {
        if on && self.model.as_ref().and_then(|m| m.meta().watermark.as_ref()).is_none() {
            return Err(bad("this model has no watermark (choose clever-hans)"));
        }
        self.watermark = on;
        Ok(())
    }

    /// Gradient x Input of the softmax probability of `target` (null: predicted) instead of the logit.
    pub fn softmax_explanation(&mut self, target: Option<u32>) -> Result<Vec<f32>, JsError> {
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let t = match target {
            Some(t) => t as usize,
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

    /// Class prototypes, a chunk at a time: of the loaded test digits `start..start + count`, those the
    /// model classifies as labelled, each explained for its class with the request's method (LRP or
    /// not); returns `{ sums: Float32Array (classes x input, the maps added per class), counts: [digits
    /// per class], looked_at }`. Added up over all chunks and divided by the counts: the mean relevance
    /// map of each class (a global view beside the local ones).
    pub fn prototype_chunk(&mut self, request: JsValue, start: u32, count: u32) -> Result<JsValue, JsError> {
        let req: ExplainRequest = self::request(request, "prototype_chunk")?;
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let method = self.cached.get(model, &req)?;
        if self.labels.is_empty() {
            return Err(bad("no test digits loaded"));
        }
        if model.input_len() != PIXELS {
            return Err(bad("prototypes need a digit model (28x28 input)"));
        }
        let classes = model.classes();
        let (start, end) = (start as usize, (start as usize).saturating_add(count as usize).min(self.labels.len()));
        let mut sums = vec![0.0f32; classes * PIXELS];
        let mut counts = vec![0u32; classes];
        let mut x = vec![0.0f32; PIXELS];
        for i in start.min(end)..end {
            let label = self.labels[i] as usize;
            x.iter_mut().zip(&self.images[i * PIXELS..(i + 1) * PIXELS]).for_each(|(p, &b)| *p = b as f32 / 255.0);
            if label >= classes || self.explainer.predict(model, &x).map_err(js)?.prediction != label {
                continue;
            }
            let e = self.explainer.explain(model, &x, method, &Query { target: Some(label), contrast: None, normalize: req.normalize }).map_err(js)?;
            sums[label * PIXELS..(label + 1) * PIXELS].iter_mut().zip(&e.heatmap).for_each(|(s, v)| *s += v);
            counts[label] += 1;
        }
        let out = js_sys::Object::new().into();
        set(&out, "sums", &floats(&sums))?;
        set(&out, "counts", &to_js(&counts)?)?;
        set(&out, "looked_at", &JsValue::from((end.saturating_sub(start)) as u32))?;
        Ok(out)
    }

    /// For every channel of value `value` (as in `layer_maps`), the `count` test digits among the first
    /// `limit` loaded whose largest activation in that channel is highest, highest first: `[[index]]`.
    pub fn top_digits(&mut self, value: usize, count: usize, limit: usize) -> Result<JsValue, JsError> {
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        if self.labels.is_empty() {
            return Err(bad("no test digits loaded"));
        }
        if model.input_len() != PIXELS {
            return Err(bad("top digits need a digit model (28x28 input)"));
        }
        let shape = *model.shapes().get(value).ok_or_else(|| bad(format!("value {value}: the model has {}", model.shapes().len())))?;
        if count == 0 || count > 64 {
            return Err(bad(format!("count must be 1..=64, got {count}")));
        }
        let plane = shape.h * shape.w;
        let mut best: Vec<Vec<(f32, usize)>> = vec![Vec::with_capacity(count + 1); shape.c];
        let mut x = vec![0.0f32; PIXELS];
        for i in 0..limit.min(self.labels.len()) {
            x.iter_mut().zip(&self.images[i * PIXELS..(i + 1) * PIXELS]).for_each(|(p, &b)| *p = b as f32 / 255.0);
            self.explainer.predict(model, &x).map_err(js)?;
            let a = self.explainer.activation(value).unwrap_or(&[]);
            for (c, top) in best.iter_mut().enumerate() {
                let m = a[c * plane..(c + 1) * plane].iter().copied().fold(f32::NEG_INFINITY, f32::max);
                if top.len() < count || m > top[top.len() - 1].0 {
                    let at = top.partition_point(|(v, _)| *v >= m);
                    top.insert(at, (m, i));
                    top.truncate(count);
                }
            }
        }
        to_js(&best.iter().map(|t| t.iter().map(|(_, i)| *i).collect::<Vec<_>>()).collect::<Vec<_>>())
    }

    pub fn label(&self, i: u32) -> Result<u32, JsError> {
        self.labels.get(i as usize).map(|&l| l as u32).ok_or_else(|| bad(format!("digit {i} out of range")))
    }

    /// The first test digit from `start` on (wrapping) that the current model gets wrong, or -1.
    pub fn find_misclassified(&mut self, start: u32) -> Result<i32, JsError> {
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let n = self.labels.len();
        let mut x = vec![0.0; PIXELS];
        for k in 0..n {
            let i = (start as usize + k) % n;
            x.iter_mut().zip(&self.images[i * PIXELS..(i + 1) * PIXELS]).for_each(|(p, &b)| *p = b as f32 / 255.0);
            if self.explainer.predict(model, &x).map_err(js)?.prediction != self.labels[i] as usize {
                return Ok(i as i32);
            }
        }
        Ok(-1)
    }
}

pub(crate) fn color_map(name: &str) -> Result<ColorMap, JsError> {
    ColorMap::from_name(name).ok_or_else(|| bad(format!("unknown colour map `{name}` (bwr or puor)")))
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
