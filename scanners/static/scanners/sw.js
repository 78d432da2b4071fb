// Keeps the handheld pages usable across a reload while offline. Pages are fetched from the
// network first and kept; without a network the kept copy answers. The API is never cached:
// confirmations wait in the page's IndexedDB outbox instead.
const CACHE = "wms-handheld-v1";
const SHELL = [
  "/scanners/offline",
  "/scanners/static/scanners/scanner.js",
  "/scanners/static/scanners/scanner.css",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const answer = await fetch(request);
    if (answer.ok && answer.type === "basic" && !answer.redirected) cache.put(request, answer.clone());
    return answer;
  } catch (error) {
    const kept = await cache.match(request);
    if (kept) return kept;
    if (request.mode === "navigate") return (await cache.match("/scanners/offline")) || Response.error();
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (!url.pathname.startsWith("/scanners/")) return; // the API and everything else: network only
  if (url.pathname === "/scanners/session" || url.pathname === "/scanners/sw.js") return;
  event.respondWith(networkFirst(event.request));
});
