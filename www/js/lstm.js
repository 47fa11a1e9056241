// The LSTM's panels, imported when an LSTM model is first chosen (the first load stays as it was):
// "relevance over time" beside the heatmap (per row, how much relevance each reading direction gave
// it) and a card that explains what the LSTM heatmap shows, with the three rules of Arras et al. 2017.
import { colorOf } from './engine.js';

const $ = (id) => document.getElementById(id);

const STRIP = `
<figure class="time-fig">
  <canvas id="time-strip" width="112" height="280" aria-label="relevance of each row from the top-down and the bottom-up reading"></canvas>
  <figcaption id="time-caption">rows: ↓ top-down, ↑ bottom-up</figcaption>
</figure>`;

// MathML pieces
const sub = (a, b) => `<msub><mi>${a}</mi><mi>${b}</mi></msub>`;
const stab = (z) => `<mrow>${z}<mo>+</mo><mi>ε</mi><mo>·</mo><mi>sign</mi><mo>(</mo>${z}<mo>)</mo></mrow>`;

const CARD = `
<section class="card wide" id="lstm-card" aria-labelledby="lstm-title">
  <h2 id="lstm-title">How LRP reads an LSTM</h2>
  <p>This model reads the digit one row at a time, top to bottom in one direction and bottom to top in the other; each direction keeps a memory cell <math>${sub('c', 't')}</math> and a hidden state <math>${sub('h', 't')}</math>, and the class scores are a linear map of both final hidden states. LRP (Arras et al. 2017) walks back through the 28 time steps with three rules:</p>
  <dl class="lstm-rules">
    <dt>Linear steps: the ε rule</dt>
    <dd><math><msub><mi>R</mi><mi>j</mi></msub><mo>=</mo><munder><mo>∑</mo><mi>k</mi></munder><mfrac><mrow>${sub('x', 'j')}${sub('w', 'jk')}<mo>+</mo><mi>β</mi><mfrac><mrow>${sub('b', 'k')}<mo>+</mo><mi>ε</mi><mo>·</mo><mi>sign</mi><mo>(</mo>${sub('z', 'k')}<mo>)</mo></mrow><mi>N</mi></mfrac></mrow>${stab(sub('z', 'k'))}</mfrac>${sub('R', 'k')}</math>: the output layer (over both directions' final states) and the candidate <math><msub><mi>z</mi><mi>g</mi></msub><mo>=</mo>${sub('W', 'g')}${sub('x', 't')}<mo>+</mo>${sub('U', 'g')}<msub><mi>h</mi><mrow><mi>t</mi><mo>−</mo><mn>1</mn></mrow></msub><mo>+</mo>${sub('b', 'g')}</math>, which hands its relevance to the row's pixels and to the previous hidden state. With the bias factor β = 0 the biases and ε absorb their share (the sum line says how much); with β = 1 it goes back evenly to the N inputs, relevance is conserved, and the zero initial states keep a little.</dd>
    <dt>The cell: the ε rule on a sum of two products</dt>
    <dd><math><msub><mi>c</mi><mi>t</mi></msub><mo>=</mo>${sub('f', 't')}<mo>⊙</mo><msub><mi>c</mi><mrow><mi>t</mi><mo>−</mo><mn>1</mn></mrow></msub><mo>+</mo>${sub('i', 't')}<mo>⊙</mo>${sub('g', 't')}</math>: <math><mi>R</mi><mo>(</mo><msub><mi>c</mi><mrow><mi>t</mi><mo>−</mo><mn>1</mn></mrow></msub><mo>)</mo><mo>=</mo><mfrac><mrow>${sub('f', 't')}<msub><mi>c</mi><mrow><mi>t</mi><mo>−</mo><mn>1</mn></mrow></msub></mrow>${stab(sub('c', 't'))}</mfrac><mi>R</mi><mo>(</mo>${sub('c', 't')}<mo>)</mo></math> and <math><mi>R</mi><mo>(</mo>${sub('g', 't')}<mo>)</mo><mo>=</mo><mfrac><mrow>${sub('i', 't')}${sub('g', 't')}</mrow>${stab(sub('c', 't'))}</mfrac><mi>R</mi><mo>(</mo>${sub('c', 't')}<mo>)</mo></math>.</dd>
    <dt>Gates: signal-take-all</dt>
    <dd><math><mi>R</mi><mo>(</mo>${sub('i', 't')}<mo>)</mo><mo>=</mo><mi>R</mi><mo>(</mo>${sub('f', 't')}<mo>)</mo><mo>=</mo><mi>R</mi><mo>(</mo>${sub('o', 't')}<mo>)</mo><mo>=</mo><mn>0</mn></math>, and all of <math><mi>R</mi><mo>(</mo>${sub('h', 't')}<mo>)</mo></math> goes to <math>${sub('c', 't')}</math> through <math>${sub('h', 't')}<mo>=</mo>${sub('o', 't')}<mo>⊙</mo><mi>tanh</mi><mo>(</mo>${sub('c', 't')}<mo>)</mo></math>. A gate decides how much of the signal passes, but it is not the signal, so it gets no relevance.</dd>
  </dl>
  <h3>What is different from the CNN</h3>
  <ul class="small">
    <li><b>Gates route relevance but never receive it.</b> A pixel that only opens or closes a gate gets nothing in LRP, although the gradient sees it (compare with the <i>gradient</i> method).</li>
    <li><b>The order of the rows matters.</b> The strip beside the heatmap (a bar per row, level with the heatmap's rows; red for, blue against) splits each row's relevance by the reading that gave it: the top-down reading (↓) sees the bottom of the digit last, the bottom-up one (↑) the top. What one direction forgot (its forget gate closed), the other may still remember.</li>
    <li><b>No receptive field.</b> The CNN sees a pixel through small windows; the LSTM sees a whole row at once and carries what it saw in its memory cell, so relevance can travel from the last rows back to the first.</li>
  </ul>
  <p id="lstm-state" class="small"></p>
</section>`;

let mounted = false;

// Adds the strip and the card (once).
function mount() {
  if (mounted) return;
  mounted = true;
  $('heatmap').closest('.heat-fig').insertAdjacentHTML('afterend', STRIP);
  document.querySelector('section[aria-labelledby="rules-title"]').insertAdjacentHTML('beforebegin', CARD);
}

// Shows or hides the LSTM's panels (an LSTM model is loaded, or not).
export function show(on) {
  if (on) mount();
  if (!mounted) return;
  $('time-strip').closest('figure').hidden = !on;
  $('heatmap').closest('.heat-card').classList.toggle('lstm-on', on);
  $('lstm-card').hidden = !on;
}

// Draws the rows' relevance: two columns (top-down, bottom-up) of horizontal bars around a zero line,
// from the explanation's per-direction report (LRP); for other methods one column of the heatmap's
// row sums. `shape` is [channels, height, width].
export function render(res, shape, colormap) {
  if (!mounted || $('lstm-card').hidden) return;
  const [, h, w] = shape;
  const cols = res.lstm ? res.lstm.rows : [Array.from({ length: h }, (_, t) => res.heatmap.slice(t * w, (t + 1) * w).reduce((a, b) => a + b, 0))];
  const canvas = $('time-strip');
  const ctx = canvas.getContext('2d');
  const { width: W, height: H } = canvas;
  ctx.clearRect(0, 0, W, H);
  const scale = Math.max(1e-12, ...cols.flat().map(Math.abs));
  const colW = W / cols.length;
  const rowH = H / h;
  const style = getComputedStyle(document.documentElement);
  ctx.strokeStyle = style.getPropertyValue('--muted') || '#888';
  ctx.font = '11px sans-serif';
  ctx.textAlign = 'center';
  for (const [d, rows] of cols.entries()) {
    const mid = d * colW + colW / 2;
    ctx.fillStyle = style.getPropertyValue('--muted') || '#888';
    if (cols.length === 2) ctx.fillText(d === 0 ? '↓' : '↑', d * colW + 8, 11);
    ctx.beginPath();
    ctx.moveTo(mid, 0);
    ctx.lineTo(mid, H);
    ctx.stroke();
    for (let t = 0; t < h; t++) {
      const v = rows[t];
      const len = (v / scale) * (colW / 2 - 3);
      const rgb = colorOf(v >= 0 ? 1 : -1, colormap);
      ctx.fillStyle = `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
      ctx.fillRect(Math.min(mid, mid + len), t * rowH + 1, Math.abs(len), Math.max(1, rowH - 2));
    }
  }
  const total = (rows) => rows.reduce((a, b) => a + b, 0);
  const f = (v) => (Math.abs(v) < 0.0005 ? 0 : v).toFixed(3);
  canvas.dataset.rows = String(h);
  canvas.dataset.columns = String(cols.length);
  if (res.lstm) {
    const [down, up] = res.lstm.rows.map(total);
    const init = res.lstm.initial_state.reduce((a, b) => a + b, 0);
    $('time-caption').textContent = `rows: ↓ ${f(down)} · ↑ ${f(up ?? 0)}`;
    $('time-caption').title = `relevance per row: the top-down reading (left column) gave ${f(down)}, the bottom-up one (right) ${f(up ?? 0)}`;
    $('lstm-state').textContent = Math.abs(init) > 0 ? `With the bias factor, the zero initial states h₀ and c₀ of both directions keep ${f(init)} of the relevance; the pixels get ${f(res.sum)}, together the explained ${f(res.explained)}.` : 'With the bias factor 0 the initial states get nothing: what the heatmap does not sum to was absorbed by the biases and ε.';
  } else {
    $('time-caption').textContent = 'rows (LRP splits ↓ and ↑)';
    $('time-caption').title = 'relevance per row of the heatmap, both readings together: only LRP splits it by reading direction';
    $('lstm-state').textContent = '';
  }
}
