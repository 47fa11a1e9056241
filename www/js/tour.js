// The guided tour: six steps, each pointing at a part of the page. Shown once (remembered in
// localStorage), and again from the "Take the tour" button.
const $ = (id) => document.getElementById(id);

const STEPS = [
  ['pad', 'Draw a digit here with the mouse, a finger or a pen. Everything that follows is recomputed while you draw.'],
  ['bars', "The network's answer: one bar per class. Click a bar to explain that class; Shift-click picks a contrast class (why this and not that)."],
  ['heatmap', 'Relevance per pixel: red pixels speak for the explained class, blue ones against it. LRP hands the logit back layer by layer until each pixel has its share.'],
  ['method', 'Try other methods: gradients, Integrated Gradients, and the LRP rules and presets. Their parameters appear below the list.'],
  ['layers-title', 'Open the layer view: relevance at every layer. LRP conserves it, so each bar matches the explained logit, except where biases and ε absorb some.'],
  ['compare-title', 'Compare every method on your drawing and see which one finds what the model uses: pixel flipping removes the most relevant pixels first.'],
];

let current = -1;

// Places the box beside the target (right, left, below or above: the first side with room) so that it
// never covers what it describes; the target gets a highlight ring.
function place(box, target) {
  const r = target.getBoundingClientRect();
  const b = box.getBoundingClientRect();
  const gap = 12;
  const vw = document.documentElement.clientWidth;
  const vh = window.innerHeight;
  const clampX = (x) => Math.max(8, Math.min(vw - b.width - 8, x));
  const clampY = (y) => Math.max(8, Math.min(vh - b.height - 8, y));
  const sides = [
    [r.right + gap + b.width <= vw, r.right + gap, clampY(r.top)],
    [r.left - gap - b.width >= 0, r.left - gap - b.width, clampY(r.top)],
    [r.bottom + gap + b.height <= vh, clampX(r.left), r.bottom + gap],
    [r.top - gap - b.height >= 0, clampX(r.left), r.top - gap - b.height],
  ];
  const [, x, y] = sides.find((s) => s[0]) || [true, clampX(r.left), clampY(r.bottom + gap)];
  box.style.left = `${x + window.scrollX}px`;
  box.style.top = `${y + window.scrollY}px`;
}

export function tour(step) {
  const box = $('tour');
  document.querySelectorAll('.tour-target').forEach((e) => e.classList.remove('tour-target'));
  if (step >= STEPS.length || step < 0) {
    box.hidden = true;
    current = -1;
    try { localStorage.setItem('lrp-live-toured', '1'); } catch { /* fine */ }
    return;
  }
  current = step;
  const [id, text] = STEPS[step];
  const target = $(id);
  target.scrollIntoView({ block: 'center' });
  target.classList.add('tour-target');
  box.hidden = false;
  $('tour-text').textContent = `${step + 1}/${STEPS.length}: ${text}`;
  $('tour-next').textContent = step + 1 < STEPS.length ? 'Next' : 'Done';
  $('tour-next').onclick = () => tour(step + 1);
  $('tour-skip').onclick = () => tour(-1);
  box.dataset.step = String(step + 1);
  place(box, target);
  $('tour-next').focus({ preventScroll: true });
}

// the box follows its target when the window changes size
window.addEventListener('resize', () => { if (current >= 0) place($('tour'), $(STEPS[current][0])); });

// Esc closes an open tour, and nothing else sees that key press (not the pad's "Esc clears").
window.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !$('tour').hidden) {
    e.preventDefault();
    e.stopImmediatePropagation();
    tour(-1);
  }
}, true);

export function toured() {
  try { return localStorage.getItem('lrp-live-toured') === '1'; } catch { return false; }
}
