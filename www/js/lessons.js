// Lesson mode (#lesson=N): chapters written as data, one JSON file each in lessons/ (listed in order in
// lessons/index.json; the format is in lessons/README.md). A chapter prepares the page (`ui.prepare`:
// the share-link settings, a test digit or a drawing, the open panels, the view), gives the students a
// task, asks one question whose answers reveal why they are right or wrong, and links to the next. The
// card has a QR code of the chapter's link and prints as a worksheet. Imported when a lesson first opens.
import { showQr } from './qr.js';

const $ = (id) => document.getElementById(id);
// a chapter file is text for one page: anything larger is not one
const MAX_BYTES = 64 * 1024;
const PANELS = ['compare', 'equiv', 'net', 'proto', 'sanity', 'ab', 'hans'];

const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

async function fetchJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  const bytes = await r.arrayBuffer();
  if (bytes.byteLength > MAX_BYTES) throw new Error(`${url}: ${bytes.byteLength} bytes, more than a chapter's ${MAX_BYTES}`);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${url}: not JSON (${e.message})`);
  }
}

const isText = (v) => typeof v === 'string' && v.trim().length > 0;

// Checks a chapter against the format (lessons/README.md); returns a list of problems, empty when valid.
export function problems(ch) {
  const out = [];
  if (!ch || typeof ch !== 'object' || Array.isArray(ch)) return ['a chapter is a JSON object'];
  if (!isText(ch.title)) out.push('"title" must be a text');
  if (!Array.isArray(ch.text) || !ch.text.length || !ch.text.every(isText)) out.push('"text" must be a list of paragraphs');
  if (!isText(ch.task)) out.push('"task" must be a text');
  if (!isText(ch.question)) out.push('"question" must be a text');
  const answers = Array.isArray(ch.answers) ? ch.answers : [];
  if (answers.length < 2 || !answers.every((a) => a && isText(a.text) && isText(a.why))) out.push('"answers" must list 2 or more answers, each with "text" and "why"');
  else if (!answers.some((a) => a.correct === true)) out.push('one answer must be "correct": true');
  if (ch.state != null && (typeof ch.state !== 'object' || Array.isArray(ch.state))) out.push('"state" must be an object');
  const panels = ch.state && ch.state.panels;
  if (panels != null && !(Array.isArray(panels) && panels.every((p) => PANELS.includes(p)))) out.push(`"state.panels" may list ${PANELS.join(', ')}`);
  if (ch.digit != null && !(Number.isInteger(ch.digit) && ch.digit >= 0 && ch.digit < 10000)) out.push('"digit" must be a test digit number, 0 to 9999');
  if (ch.minutes != null && !(Number.isFinite(ch.minutes) && ch.minutes > 0)) out.push('"minutes" must be a positive number');
  return out;
}

export class Lessons {
  // ui: { prepare(chapter) -> Promise, shareable() -> Promise<url>, showError(msg) }
  constructor(ui) {
    this.ui = ui;
    this.files = null;
    this.n = 0;
    this.chapter = null;
    this.card = this.build();
  }

  build() {
    const card = el('section', { id: 'lesson', className: 'card lesson', hidden: true });
    card.setAttribute('aria-labelledby', 'lesson-title');
    const pick = el('select', { id: 'lesson-chapter' });
    pick.setAttribute('aria-label', 'chapter');
    pick.addEventListener('change', () => { location.hash = `lesson=${pick.value}`; });
    const close = el('button', { type: 'button', id: 'lesson-close', className: 'small-btn', textContent: 'Leave the lesson' });
    close.addEventListener('click', () => this.close());
    const again = el('button', { type: 'button', id: 'lesson-reset', textContent: 'Start the chapter again' });
    again.addEventListener('click', () => this.prepare());
    const qr = el('button', { type: 'button', id: 'lesson-qr', textContent: 'QR code for phones' });
    qr.addEventListener('click', () => showQr(this.link(), `Chapter ${this.n}: ${this.chapter.title}. Scan to open it on your phone.`).catch((e) => this.ui.showError(`QR code: ${e.message}`)));
    const print = el('button', { type: 'button', id: 'lesson-print', textContent: 'Print a worksheet' });
    print.addEventListener('click', () => window.print());
    const reveal = el('button', { type: 'button', id: 'lesson-reveal', className: 'small-btn', textContent: 'Show the answer' });
    reveal.addEventListener('click', () => this.answer(this.chapter.answers.findIndex((a) => a.correct === true), true));
    card.append(
      el('div', { className: 'lesson-head' }, el('span', { id: 'lesson-where', className: 'small' }), pick, close),
      el('h2', { id: 'lesson-title' }),
      el('details', { id: 'lesson-more', open: true }, el('summary', { textContent: 'the chapter\'s text' }), el('div', { id: 'lesson-text' })),
      el('p', { id: 'lesson-task', className: 'lesson-task' }),
      el('div', { className: 'lesson-question' },
        el('p', { id: 'lesson-question' }),
        el('ol', { id: 'lesson-answers' }),
        el('p', { id: 'lesson-feedback', className: 'small' }),
        reveal),
      el('p', { className: 'lesson-answer-lines print-only' }, 'Your answer and why:'),
      el('p', { id: 'lesson-link', className: 'print-only small' }),
      el('div', { className: 'row lesson-nav' },
        el('a', { id: 'lesson-prev', textContent: '← previous chapter' }),
        again, qr, print,
        el('a', { id: 'lesson-next', textContent: 'next chapter →' })),
    );
    card.querySelector('#lesson-feedback').setAttribute('role', 'status');
    document.querySelector('header').after(card);
    // the worksheet prints the whole text
    window.addEventListener('beforeprint', () => { $('lesson-more').open = true; });
    return card;
  }

  // The chapter's link, as a QR code and in the worksheet: this page with #lesson=N.
  link() {
    const u = new URL(location.href);
    u.search = '';
    u.hash = `lesson=${this.n}`;
    return u.toString();
  }

  async index() {
    if (this.files) return this.files;
    const list = await fetchJson('lessons/index.json');
    if (!Array.isArray(list) || !list.length || !list.every((f) => typeof f === 'string' && /^[\w-]+\.json$/.test(f))) throw new Error('lessons/index.json must list the chapters\' file names');
    this.files = list;
    return list;
  }

  // Opens chapter n (1-based). A chapter that does not load or is not valid leaves the page as it is.
  async open(n) {
    try {
      const files = await this.index();
      if (!Number.isInteger(n) || n < 1 || n > files.length) throw new Error(`there is no chapter ${n}; the lesson has ${files.length}`);
      const ch = await fetchJson(`lessons/${files[n - 1]}`);
      const bad = problems(ch);
      if (bad.length) throw new Error(`lessons/${files[n - 1]}: ${bad.join('; ')}`);
      if (this.files.length !== $('lesson-chapter').options.length) await this.fillChapters();
      this.n = n;
      this.chapter = ch;
      this.render();
      await this.prepare();
    } catch (e) {
      this.ui.showError(`Lesson: ${e.message}`);
    }
  }

  // The chapter menu: every chapter's title (read once).
  async fillChapters() {
    const titles = await Promise.all(this.files.map((f) => fetchJson(`lessons/${f}`).then((c) => c.title, () => f)));
    $('lesson-chapter').replaceChildren(...titles.map((t, i) => new Option(`${i + 1}. ${t}`, String(i + 1))));
  }

  async prepare() {
    $('lesson-feedback').textContent = '';
    for (const b of $('lesson-answers').querySelectorAll('button')) delete b.dataset.verdict;
    await this.ui.prepare(this.chapter);
    this.card.dataset.chapter = String(this.n);
  }

  render() {
    const ch = this.chapter;
    const total = this.files.length;
    this.card.hidden = false;
    document.documentElement.classList.add('lesson-on');
    $('lesson-where').textContent = `Lesson · chapter ${this.n} of ${total}${ch.minutes ? ` · about ${ch.minutes} minutes` : ''}`;
    $('lesson-chapter').value = String(this.n);
    $('lesson-title').textContent = ch.title;
    $('lesson-text').replaceChildren(...ch.text.map((t) => el('p', { textContent: t })));
    // below the wide layout (a projector, a phone) the text starts folded, so that the task, the
    // question and the pad share the first screen
    $('lesson-more').open = window.innerWidth >= 1200;
    $('lesson-task').replaceChildren(el('strong', { textContent: 'Task. ' }), ch.task);
    $('lesson-question').replaceChildren(el('strong', { textContent: 'Question. ' }), ch.question);
    $('lesson-answers').replaceChildren(...ch.answers.map((a, i) => {
      const b = el('button', { type: 'button', textContent: a.text });
      b.addEventListener('click', () => this.answer(i, false));
      return el('li', {}, b);
    }));
    for (const [id, m] of [['lesson-prev', this.n - 1], ['lesson-next', this.n + 1]]) {
      const a = $(id);
      a.hidden = m < 1 || m > total;
      a.href = `#lesson=${m}`;
    }
    $('lesson-link').textContent = `LRP Live, lesson chapter ${this.n} of ${total}: ${this.link()}`;
    document.title = `Lesson ${this.n}: ${ch.title} · LRP Live`;
  }

  // An answer picked (or revealed): marks it right or wrong and says why.
  answer(i, revealed) {
    const a = this.chapter.answers[i];
    const b = $('lesson-answers').querySelectorAll('button')[i];
    b.dataset.verdict = a.correct === true ? 'right' : 'wrong';
    $('lesson-feedback').textContent = `${a.correct === true ? (revealed ? 'The answer: ' : 'Right. ') : 'Not quite. '}${a.why}`;
  }

  close() {
    this.card.hidden = true;
    document.documentElement.classList.remove('lesson-on');
    document.title = 'LRP Live: see how a network decides';
    history.replaceState(null, '', location.pathname + location.search);
  }
}
