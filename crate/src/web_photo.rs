//! The Photos view's engine: an ImageNet-style RGB model (the page's EfficientNet-Lite0) and one photo
//! crop, explained with any method of the table. It runs in the photo Web Worker
//! (`www/js/photo-worker.js`); the page crops and resizes the photo with a canvas and hands over the
//! crop's RGBA. Requests are those of [`crate::web::Engine::explain`]; the heatmap comes back summed
//! over the colour channels. A failed model load keeps the previous model; a failed input keeps the
//! previous input.

use crate::attribution::{Explainer, Query};
use crate::model::{Model, ModelFormat};
use crate::report::{ModelInfo, Summary};
use crate::web::{bad, floats, js, request, set, to_js, ExplainRequest, MethodCache};
use wasm_bindgen::prelude::*;

/// The threaded build (`www/pkg-threads`, feature `web-threads`): `initThreadPool(n)` starts the rayon
/// pool of `n` Web Workers sharing the engine's memory; the kernels then share large layers among them.
#[cfg(feature = "web-threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

#[wasm_bindgen]
pub struct PhotoEngine {
    model: Option<Model>,
    explainer: Explainer,
    cached: MethodCache,
    /// the crop as the model's `[3, H, W]` planes in [0, 1]
    pixels: Vec<f32>,
}

#[wasm_bindgen]
impl PhotoEngine {
    #[wasm_bindgen(constructor)]
    pub fn new() -> PhotoEngine {
        console_error_panic_hook::set_once();
        PhotoEngine { model: None, explainer: Explainer::default(), cached: MethodCache::default(), pixels: Vec::new() }
    }

    /// Loads a `.safetensors` model of `3 x S x S` inputs; returns its description. On error the
    /// current model stays.
    pub fn load_model(&mut self, bytes: &[u8]) -> Result<JsValue, JsError> {
        let model = ModelFormat::Safetensors.load(bytes).map_err(js)?;
        let s = model.input_stage().input_shape();
        if s.c != 3 || s.h != s.w {
            return Err(bad(format!("the Photos view takes square RGB models; this one takes {}x{}x{} inputs", s.c, s.h, s.w)));
        }
        self.explainer = Explainer::new(&model);
        self.cached.clear();
        self.pixels = vec![0.5; model.input_len()];
        let info = to_js(&ModelInfo::of(&model))?;
        self.model = Some(model);
        Ok(info)
    }

    /// The threads the kernels share their work among (1 in the single-threaded build).
    pub fn threads(&self) -> usize {
        crate::ops::threads()
    }

    /// The side of the square crop the model takes (0 without a model).
    pub fn side(&self) -> u32 {
        self.model.as_ref().map_or(0, |m| m.input_stage().input_shape().w as u32)
    }

    /// The model's class names.
    pub fn classes(&self) -> Result<Vec<String>, JsError> {
        Ok(self.model.as_ref().ok_or_else(|| bad("no model loaded"))?.meta().classes.clone())
    }

    /// Sets the input from the crop's RGBA (side x side, as [`PhotoEngine::side`]).
    pub fn set_rgba(&mut self, rgba: &[u8], width: u32, height: u32) -> Result<(), JsError> {
        let side = self.side();
        if side == 0 {
            return Err(bad("no model loaded"));
        }
        if (width, height) != (side, side) {
            return Err(bad(format!("the crop is {width}x{height}; the model takes {side}x{side}")));
        }
        self.pixels = crate::photo::rgba_planes(rgba, width as usize, height as usize).map_err(js)?;
        Ok(())
    }

    /// Explains the current input (`request` as for the digits' `explain`). Returns the [`Summary`]
    /// (with the per-layer totals of LRP: what reached each layer and what its biases and stabilizers
    /// absorbed), `heatmap` (Float32Array of `H x W`, the relevance summed over the colour channels) (the worker adds `ms`, the time of the
    /// prediction and the explanation).
    pub fn explain(&mut self, request: JsValue) -> Result<JsValue, JsError> {
        let req: ExplainRequest = self::request(request, "explain")?;
        let model = self.model.as_ref().ok_or_else(|| bad("no model loaded"))?;
        let method = self.cached.get(model, &req)?;
        let query = Query { target: req.target, contrast: req.contrast, normalize: req.normalize };
        let (explainer, pixels) = (&mut self.explainer, &self.pixels);
        let e = crate::ops::on_pool(|| explainer.explain(model, pixels, method, &query)).map_err(js)?;
        let plane = e.heatmap.len() / 3;
        let summed: Vec<f32> = (0..plane).map(|i| e.heatmap[i] + e.heatmap[plane + i] + e.heatmap[2 * plane + i]).collect();
        let out = to_js(&Summary::of(e, &req.method, model))?;
        set(&out, "heatmap", &floats(&summed))?;
        Ok(out)
    }
}

impl Default for PhotoEngine {
    fn default() -> Self {
        PhotoEngine::new()
    }
}
