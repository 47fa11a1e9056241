// Share links and downloads: the settings and drawing as a URL, the heatmap as a PNG, the whole
// explanation (settings, input, heatmap, per-layer relevance) as JSON.
import { shareUrl, compactUrl, snapshot, params, usedParams, methodLabel } from './settings.js';

const $ = (id) => document.getElementById(id);

export class Exports {
  constructor(ui) {
    this.ui = ui; // { engine, pad, info(), result() }
    $('share').addEventListener('click', () => this.share());
    $('download-png').addEventListener('click', () => this.downloadPng());
    $('download-json').addEventListener('click', () => this.downloadJson());
    $('share-qr').addEventListener('click', () => this.shareQr());
    $('print').addEventListener('click', () => window.print());
    window.addEventListener('beforeprint', () => this.worksheet());
  }

  // The drawing and settings as a QR code (the deflated link, short enough to scan), for phones.
  async shareQr() {
    try {
      const url = await compactUrl(this.ui.pad.toJSON());
      const { showQr } = await import('./qr.js');
      await showQr(url, 'Scan to open this drawing with these settings on a phone.');
    } catch (e) {
      this.ui.showError(`QR code: ${e.message}`);
    }
  }

  // The printed worksheet (print CSS in style.css: the drawing, heatmap, colour bar, prediction, the
  // lesson's task and question): what was explained, in words, under the heatmap.
  worksheet() {
    $('print-info').replaceChildren(...this.captionLines().map((t) => Object.assign(document.createElement('p'), { textContent: t })));
  }

  share() {
    const url = shareUrl(this.ui.pad.toJSON());
    $('share-url').value = url;
    $('share-url').hidden = false;
    $('share-url').select();
    const status = (text) => {
      $('share-status').textContent = text;
      clearTimeout(this.statusTimer);
      this.statusTimer = setTimeout(() => { $('share-status').textContent = ''; }, 4000);
    };
    const manual = () => status('copy the link from the field below');
    if (navigator.clipboard) navigator.clipboard.writeText(url).then(() => status('link copied'), manual);
    else manual();
  }

  download(name, blob) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  // A worksheet's picture: the drawing with its heatmap, the heatmap alone, the colour bar, and what was
  // explained (class, prediction, model, method and its parameters) in words.
  pngCanvas() {
    const side = 336;
    const pad = 16;
    const c = document.createElement('canvas');
    c.width = 2 * side + 3 * pad;
    c.height = side + 2 * pad + 96;
    const ctx = c.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, c.width, c.height);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage($('pad'), pad, pad, side, side);
    ctx.drawImage($('overlay'), pad, pad, side, side);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage($('heatmap'), 2 * pad + side, pad, side, side);
    ctx.strokeStyle = '#c8cdd3';
    ctx.strokeRect(pad, pad, side, side);
    ctx.strokeRect(2 * pad + side, pad, side, side);
    const y0 = side + 2 * pad;
    ctx.drawImage($('colorbar'), 2 * pad + side + 20, y0, side - 40, 12);
    ctx.fillStyle = '#1b1f24';
    ctx.font = '13px system-ui, sans-serif';
    ctx.textBaseline = 'top';
    ctx.fillText('−', 2 * pad + side + 4, y0 - 2);
    ctx.fillText('+', 2 * pad + 2 * side - 12, y0 - 2);
    const lines = this.captionLines();
    for (const [i, line] of lines.entries()) ctx.fillText(line, pad, y0 + 20 + 18 * i);
    $('download-png').dataset.caption = lines.join('\n');
    return c;
  }

  captionLines() {
    const info = this.ui.info();
    const res = this.ui.result();
    if (!info || !res) return ['LRP Live: no explanation yet'];
    const names = info.classes;
    const p = params();
    const shown = { epsilon: `ε = ${p.epsilon.toPrecision(2)}`, gamma: `γ = ${p.gamma.toPrecision(2)}`, alpha: `α = ${p.alpha}, β = ${p.beta}`, steps: `${p.steps} steps`, samples: `${p.samples} samples`, sigma: `σ = ${p.sigma}`, bias_factor: `bias factor ${p.bias_factor}`, patch: `patch ${p.patch} px`, stride: `stride ${p.stride} px` };
    const used = usedParams().filter((k) => shown[k]).map((k) => shown[k]);
    const what = res.contrast != null ? `why ${names[res.target]} and not ${names[res.contrast]}` : `class ${names[res.target]}`;
    return [
      `Relevance for ${what}; the network predicts ${names[res.prediction]} (${(100 * res.probabilities[res.prediction]).toFixed(1)} %).`,
      `Method: ${methodLabel()}${used.length ? ` (${used.join(', ')})` : ''}. Model: ${info.name}.`,
      `${this.ui.colours()}: for the class / against it; colour scale symmetric around zero. LRP Live.`,
    ];
  }

  downloadPng() {
    this.pngCanvas().toBlob((b) => this.download('lrp-live-heatmap.png', b), 'image/png');
  }

  explanationJson() {
    const info = this.ui.info();
    const res = this.ui.result();
    if (!info || !res) return null;
    const { heatmap, root, layer_maps: maps, timings, ...summary } = res;
    const layers = info.layers.map((l, i) => ({ ...l, relevance: res.layers[i] || null, map: maps ? Array.from(maps[l.inputs[0]]) : null }));
    return { settings: snapshot(this.ui.pad.toJSON()), model: info.name, input: Array.from(this.ui.engine.pixels()), ...summary, heatmap: Array.from(heatmap), root: root ? Array.from(root) : null, layers };
  }

  downloadJson() {
    const data = this.explanationJson();
    if (data) this.download('lrp-live-explanation.json', new Blob([JSON.stringify(data)], { type: 'application/json' }));
  }
}
