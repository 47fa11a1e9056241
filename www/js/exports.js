// Share links and downloads: the settings and drawing as a URL, the heatmap as a PNG, the whole
// explanation (settings, input, heatmap, per-layer relevance) as JSON.
import { shareUrl, snapshot } from './settings.js';

const $ = (id) => document.getElementById(id);

export class Exports {
  constructor(ui) {
    this.ui = ui; // { engine, pad, info(), result() }
    $('share').addEventListener('click', () => this.share());
    $('download-png').addEventListener('click', () => this.downloadPng());
    $('download-json').addEventListener('click', () => this.downloadJson());
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

  downloadPng() {
    const src = $('heatmap');
    const c = document.createElement('canvas');
    c.width = src.width * 10;
    c.height = src.height * 10;
    const ctx = c.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(src, 0, 0, c.width, c.height);
    c.toBlob((b) => this.download('lrp-live-heatmap.png', b), 'image/png');
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
