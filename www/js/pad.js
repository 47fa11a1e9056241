// The drawing pad: pointer events (mouse, touch, pen), smooth round strokes, undo history.
// Strokes are kept as point lists (and example digits as 28x28 images), so undo redraws from history.

const INK = '#111';
const WIDTH_FRACTION = 0.065; // stroke width relative to the pad side: about MNIST's stroke after scaling

export class Pad {
  constructor(canvas, onChange) {
    this.canvas = canvas;
    // strokes live in logical pad coordinates (the canvas's width attribute, 280); on a high-density
    // screen the canvas has devicePixelRatio times as many pixels (up to 2x), see fitToScreen
    this.side = canvas.width;
    this.scale = 1;
    this.ctx = canvas.getContext('2d', { willReadFrequently: true });
    this.history = [];
    // drawings removed by Clear, most recent last: Undo on an empty pad brings the last one back
    this.cleared = [];
    this.current = null;
    this.onChange = onChange;
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('pointercancel', (e) => this.up(e));
    // keyboard drawing: arrows move a cursor, Space or Enter lifts or lowers the pen
    this.cursor = [this.side / 2, this.side / 2];
    this.penDown = false;
    this.cursorEl = document.getElementById('pad-cursor');
    canvas.addEventListener('keydown', (e) => this.key(e));
    canvas.addEventListener('focus', () => this.showCursor());
    canvas.addEventListener('blur', () => { if (this.penDown) this.key({ key: ' ', preventDefault() {} }); if (this.cursorEl) this.cursorEl.hidden = true; });
    this.redraw();
  }

  key(e) {
    // the shortcuts act only here, where the pad has focus (a button or field keeps its keys)
    if (e.key === 'Escape' || e.key === 'Delete') { this.clear(); e.preventDefault(); return; }
    if ((e.key === 'z' && (e.ctrlKey || e.metaKey)) || e.key === 'u') { this.undo(); e.preventDefault(); return; }
    const step = e.shiftKey ? 2 : 10;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[e.key]) {
      e.preventDefault();
      const [dx, dy] = moves[e.key];
      this.cursor = [Math.min(this.side, Math.max(0, this.cursor[0] + dx)), Math.min(this.side, Math.max(0, this.cursor[1] + dy))];
      if (this.penDown && this.current) {
        this.current.points.push([...this.cursor]);
        this.redraw();
        this.onChange('draw');
      }
      this.showCursor();
    } else if (e.key === ' ' || e.key === 'Enter') {
      e.preventDefault();
      this.penDown = !this.penDown;
      if (this.penDown) {
        this.current = { type: 'stroke', points: [[...this.cursor]] };
        this.history.push(this.current);
        this.redraw();
        this.onChange('draw');
      } else {
        this.current = null;
        this.onChange('end');
      }
      this.showCursor();
    }
  }

  showCursor() {
    if (!this.cursorEl) return;
    const r = this.canvas.getBoundingClientRect();
    this.cursorEl.hidden = false;
    this.cursorEl.classList.toggle('down', this.penDown);
    this.cursorEl.style.left = `${this.cursor[0] * r.width / this.side}px`;
    this.cursorEl.style.top = `${this.cursor[1] * r.height / this.side}px`;
  }

  // Pad coordinates, rounded to 0.1 px as they are stored: a saved or shared drawing is the same drawing.
  point(e) {
    const r = this.canvas.getBoundingClientRect();
    const round = (v) => Math.round(v * 10) / 10;
    return [round((e.clientX - r.left) * this.side / r.width), round((e.clientY - r.top) * this.side / r.height)];
  }

  down(e) {
    if (e.button !== undefined && e.button > 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.current = { type: 'stroke', points: [this.point(e)] };
    this.history.push(this.current);
    this.redraw();
    this.onChange('draw');
  }

  move(e) {
    if (!this.current) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of (events.length ? events : [e])) this.current.points.push(this.point(ev));
    this.redraw();
    this.onChange('draw');
  }

  up(e) {
    if (!this.current) return;
    this.current = null;
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    this.onChange('end');
  }

  // On a high-density screen, gives the canvas (and `others`, e.g. the overlay) devicePixelRatio times
  // the logical pixels, up to 2x; returns true if that changed (the drawing is redrawn). On a 1x screen
  // the canvas keeps its 280 pixels (more would cost every update a larger preprocessing).
  fitToScreen(others = []) {
    const scale = Math.min(2, Math.max(1, Math.round((window.devicePixelRatio || 1) * 4) / 4));
    if (scale === this.scale) return false;
    this.scale = scale;
    for (const c of [this.canvas, ...others]) c.width = c.height = Math.round(this.side * scale);
    this.redraw();
    return true;
  }

  clear() {
    if (this.history.length) this.cleared.push(this.history);
    this.history = [];
    this.current = null;
    this.redraw();
    this.onChange('clear');
  }

  undo() {
    if (this.history.length) this.history.pop();
    else if (this.cleared.length) this.history = this.cleared.pop();
    this.current = null;
    this.redraw();
    this.onChange('undo');
  }

  // Puts a 28x28 digit (values in [0, 1]) on the pad as an image entry of the history.
  setDigit(pixels, info) {
    this.history = [{ type: 'image', pixels: Array.from(pixels), info }];
    this.redraw();
    this.onChange('example');
  }

  // The 28x28 image when the pad holds only an example digit (used as is, without re-preprocessing).
  onlyDigit() {
    return this.history.length === 1 && this.history[0].type === 'image' ? this.history[0] : null;
  }

  isEmpty() {
    return this.history.length === 0;
  }

  redraw() {
    const { ctx, canvas } = this;
    ctx.fillStyle = '#fff';
    ctx.setTransform(this.scale, 0, 0, this.scale, 0, 0);
    ctx.fillRect(0, 0, this.side, this.side);
    for (const item of this.history) {
      if (item.type === 'image') this.drawDigit(item.pixels);
      else this.drawStroke(item.points);
    }
  }

  drawDigit(pixels) {
    const img = new ImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = Math.round(255 * (1 - pixels[i]));
      img.data.set([v, v, v, 255], i * 4);
    }
    const tmp = document.createElement('canvas');
    tmp.width = 28;
    tmp.height = 28;
    tmp.getContext('2d').putImageData(img, 0, 0);
    this.ctx.imageSmoothingEnabled = true;
    this.ctx.drawImage(tmp, 0, 0, this.side, this.side);
  }

  drawStroke(points) {
    const ctx = this.ctx;
    const w = WIDTH_FRACTION * this.side;
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineWidth = w;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    if (points.length === 1) {
      ctx.beginPath();
      ctx.arc(points[0][0], points[0][1], w / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    // quadratic curves through the midpoints: smooth strokes from jittery pointer samples
    ctx.beginPath();
    ctx.moveTo(points[0][0], points[0][1]);
    for (let i = 1; i < points.length - 1; i++) {
      const mx = (points[i][0] + points[i + 1][0]) / 2;
      const my = (points[i][1] + points[i + 1][1]) / 2;
      ctx.quadraticCurveTo(points[i][0], points[i][1], mx, my);
    }
    const last = points[points.length - 1];
    ctx.lineTo(last[0], last[1]);
    ctx.stroke();
  }

  // Serializable history (for local storage and share links): strokes rounded to 0.1 px.
  toJSON() {
    return this.history.map((h) => h.type === 'image'
      ? { type: 'image', pixels: h.pixels.map((v) => Math.round(v * 255)), info: h.info }
      : { type: 'stroke', points: h.points.map(([x, y]) => [Math.round(x * 10) / 10, Math.round(y * 10) / 10]) });
  }

  fromJSON(items) {
    const ok = Array.isArray(items) ? items.filter((h) => h && (h.type === 'stroke' ? Array.isArray(h.points) && h.points.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite)) : h.type === 'image' && Array.isArray(h.pixels) && h.pixels.length === 784)) : [];
    this.history = ok.map((h) => h.type === 'image' ? { type: 'image', pixels: h.pixels.map((v) => Math.min(1, Math.max(0, v / 255))), info: h.info } : { type: 'stroke', points: h.points });
    this.redraw();
  }
}
