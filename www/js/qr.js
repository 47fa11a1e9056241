// QR codes for share links and lessons, so that students on phones join in one scan of the projected
// page. The encoder is npm's qrcode-generator (MIT, pinned in scripts/package.json), which `make web`
// copies to vendor/: served from our own origin and imported the first time a code is shown.
const $ = (id) => document.getElementById(id);
let encoder = null;

// The QR code of `text` on a canvas: error correction level M, the 4-module quiet zone the standard asks
// for, `px` pixels per module. Its module count is in `dataset.modules`.
export async function qrCanvas(text, px = 8) {
  encoder ??= import('../vendor/qrcode.js').then((m) => m.default);
  const qrcode = await encoder;
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  const quiet = 4;
  const c = document.createElement('canvas');
  c.width = c.height = (n + 2 * quiet) * px;
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.fillStyle = '#000';
  for (let r = 0; r < n; r++) for (let k = 0; k < n; k++) if (qr.isDark(r, k)) ctx.fillRect((k + quiet) * px, (r + quiet) * px, px, px);
  c.dataset.modules = String(n);
  c.setAttribute('role', 'img');
  c.setAttribute('aria-label', `QR code of ${text}`);
  return c;
}

// A dialog with the QR code of `url`, large enough to scan from the back of a room, its caption and the
// link as text.
export async function showQr(url, caption) {
  let dlg = $('qr-dialog');
  if (!dlg) {
    dlg = document.createElement('dialog');
    dlg.id = 'qr-dialog';
    dlg.setAttribute('aria-label', 'QR code');
    const close = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Close', id: 'qr-close' });
    close.addEventListener('click', () => dlg.close());
    dlg.append(Object.assign(document.createElement('p'), { id: 'qr-caption' }), Object.assign(document.createElement('div'), { id: 'qr-code' }), Object.assign(document.createElement('p'), { id: 'qr-url', className: 'small' }), close);
    dlg.addEventListener('click', (e) => { if (e.target === dlg) dlg.close(); });
    document.body.appendChild(dlg);
  }
  const canvas = await qrCanvas(url);
  $('qr-code').replaceChildren(canvas);
  $('qr-caption').textContent = caption;
  $('qr-url').textContent = url;
  if (!dlg.open) dlg.showModal();
  return canvas;
}
