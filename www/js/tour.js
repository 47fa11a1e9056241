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

export function tour(step) {
  const box = $('tour');
  if (step >= STEPS.length || step < 0) {
    box.hidden = true;
    try { localStorage.setItem('lrp-live-toured', '1'); } catch { /* fine */ }
    return;
  }
  const [id, text] = STEPS[step];
  const target = $(id);
  target.scrollIntoView({ block: 'center' });
  const r = target.getBoundingClientRect();
  box.hidden = false;
  box.style.left = `${Math.max(8, Math.min(window.innerWidth - 330, r.left + window.scrollX))}px`;
  box.style.top = `${r.bottom + window.scrollY + 8}px`;
  $('tour-text').textContent = `${step + 1}/${STEPS.length}: ${text}`;
  $('tour-next').textContent = step + 1 < STEPS.length ? 'Next' : 'Done';
  $('tour-next').onclick = () => tour(step + 1);
  $('tour-skip').onclick = () => tour(-1);
  box.dataset.step = String(step + 1);
  $('tour-next').focus();
}

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
