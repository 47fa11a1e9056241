// Teaching panel: class prototypes, a global view beside the local ones. The mean relevance map of each
// class over the 10,000 test digits the model classifies correctly, each explained for its class with
// the page's method; computed in a Web Worker of its own (the page keeps drawing) with a progress bar,
// once per model and method. Imported the first time the panel opens.
import { colorize } from './engine.js';
import { methodRequest } from './settings.js';
import { putRGBA } from './view.js';

const $ = (id) => document.getElementById(id);
const CHUNK = 250;

export class PrototypesPanel {
  constructor(ui) {
    this.ui = ui; // { info(), settings, modelBytes(), digitBytes(), showError }
    this.worker = null;
    this.key = null;
  }

  clear() {
    this.worker?.terminate();
    this.worker = null;
    this.key = null;
    $('proto-grid').replaceChildren();
    $('proto-progress').value = 0;
    $('proto-caption').textContent = '';
  }

  // Prototypes do not depend on the drawing: they are computed again only for another model or method.
  render() {
    const info = this.ui.info();
    const model = this.ui.modelBytes();
    if (!model) return;
    const request = methodRequest();
    const key = JSON.stringify([info.name, info.parameters, model.bytes.length, request]);
    if (key === this.key) return;
    this.key = key;
    this.start(model, request).catch((e) => { $('proto-caption').textContent = `The prototypes did not run: ${e.message}`; });
  }

  async start(model, request) {
    this.worker?.terminate();
    const info = this.ui.info();
    if (info.input[0] !== 1 || info.input[1] !== 28 || info.input[2] !== 28) {
      $('proto-caption').textContent = 'Prototypes are made from the MNIST test digits: they need a digit model (1 x 28 x 28).';
      return;
    }
    const digits = await this.ui.digitBytes();
    if (!digits) return;
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.worker = worker;
    const t0 = performance.now();
    $('proto-grid').replaceChildren();
    $('proto-progress').value = 0;
    $('proto-caption').textContent = `Explaining the test digits with ${request.method}…`;
    worker.onmessage = (e) => {
      if (this.worker !== worker) return;
      const m = e.data;
      if (m.type === 'error' || (m.type === 'digits' && m.error)) {
        $('proto-caption').textContent = m.error;
      } else if (m.type === 'progress') {
        $('proto-progress').value = m.done / m.total;
        $('proto-caption').textContent = `Explaining the test digits with ${request.method}: ${m.done} of ${m.total}…`;
      } else if (m.type === 'prototypes') {
        if (m.error) $('proto-caption').textContent = m.error;
        else this.show(m, request, performance.now() - t0);
        worker.terminate();
        if (this.worker === worker) this.worker = null;
      }
    };
    worker.postMessage({ type: 'model', ...model });
    worker.postMessage({ type: 'digits', images: digits.images, labels: digits.labels });
    worker.postMessage({ type: 'prototypes', request: { ...request, target: null, contrast: null }, total: digits.count, chunk: CHUNK });
  }

  show(m, request, ms) {
    const info = this.ui.info();
    const n = 28 * 28;
    const means = info.classes.map((_, c) => Float32Array.from(m.sums.subarray(c * n, (c + 1) * n), (v) => v / Math.max(1, m.counts[c])));
    let scale = 0;
    for (const mean of means) for (const v of mean) scale = Math.max(scale, Math.abs(v));
    $('proto-grid').replaceChildren(...means.map((mean, c) => {
      const fig = document.createElement('figure');
      fig.dataset.class = String(c);
      fig.dataset.count = String(m.counts[c]);
      fig.dataset.sum = String(mean.reduce((a, b) => a + b, 0));
      const canvas = Object.assign(document.createElement('canvas'), { width: 28, height: 28 });
      canvas.setAttribute('aria-label', `mean relevance map of class ${info.classes[c]}`);
      putRGBA(canvas, colorize(mean, scale, false, this.ui.settings.colormap), 28, 28);
      fig.append(canvas, Object.assign(document.createElement('figcaption'), { textContent: `${info.classes[c]}: ${m.counts[c]} digits` }));
      return fig;
    }));
    $('proto-progress').value = 1;
    const total = m.counts.reduce((a, b) => a + b, 0);
    $('proto-caption').textContent = `The mean ${request.method} map of each class over the ${total} test digits ${info.name} gets right, on one colour scale; ${(ms / 1000).toFixed(1)} s in a Web Worker.`;
    Object.assign($('proto-grid').dataset, { total: String(total), ready: String(Number($('proto-grid').dataset.ready || 0) + 1) });
  }
}
