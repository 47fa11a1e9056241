// Offline support: network first (so a rebuilt page is never stale), the cache when the network is
// gone. The page's own files and the default model are cached at install; everything else the page
// fetches (other models, the test digits) is cached when first used. Same-origin GET requests only.
const CACHE = 'lrp-live-v6';
const CORE = ['./', 'index.html', 'style.css', 'js/main.js', 'js/engine.js', 'js/pad.js', 'js/view.js', 'js/settings.js', 'js/compare.js', 'js/equivalences.js', 'js/exports.js', 'js/tour.js', 'js/worker.js', 'js/photos.js', 'js/photo-worker.js', 'js/lstm.js', 'js/lessons.js', 'js/netview.js', 'js/prototypes.js', 'js/sanity.js', 'js/ab.js', 'js/cleverhans.js', 'js/qr.js', 'vendor/qrcode.js', 'lessons/index.json', 'photos.css', 'pkg/lrp.js', 'pkg/lrp_bg.wasm', 'models/index.json', 'models/cnn.safetensors'];

self.addEventListener('install', (event) => {
  self.skipWaiting();
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(CORE)));
});

self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(req, copy));
        }
        return res;
      })
      .catch(() => caches.match(req, { ignoreSearch: true }).then((hit) => hit || Response.error())),
  );
});
