// Bulwark: the scan page's service worker (served at /scan-sw.js, scope /scan, by pages/scan.rs,
// which puts `const VERSION = '…';` in front of this file).
//
// It only makes the scan page loadable without a network: the page's HTML (network first, the
// cached copy when the network fails) and the assets it uses (from the cache). It never touches
// the API: uploads go from the page straight to the network, and the outbox lives in IndexedDB.
/* global VERSION */
'use strict';

const CACHE = `bulwark-scan-${VERSION}`;
const ASSETS = [
  '/static/app.css',
  '/static/scan.css',
  '/static/scan.js',
  '/static/htmx.min.js',
  '/static/vendor/zxing-wasm-reader.iife.js',
  '/static/vendor/zxing_reader.wasm',
];
/** How long a page load waits for the network before the cached copy is shown. */
const PATIENCE_MS = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      // Past the browser's HTTP cache (assets are served with max-age): this version's files.
      .then((cache) => cache.addAll(ASSETS.map((a) => new Request(a, { cache: 'reload' }))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      for (const name of await caches.keys()) {
        if (!name.startsWith('bulwark-scan-') || name === CACHE) continue;
        // The pages kept by the previous version stay available offline.
        const old = await caches.open(name);
        for (const request of await old.keys()) {
          if (new URL(request.url).pathname === '/scan' && !(await cache.match(request))) {
            const response = await old.match(request);
            if (response) await cache.put(request, response);
          }
        }
        await caches.delete(name);
      }
      await self.clients.claim();
    })()
  );
});

function isShell(url) {
  return url.origin === self.location.origin && url.pathname === '/scan';
}

async function keep(url, response) {
  if (response.ok && response.type === 'basic' && !response.redirected) {
    const cache = await caches.open(CACHE);
    await cache.put(url, response);
  }
}

/** The page: from the network when it answers in time, else the copy kept for this address. */
async function shell(request) {
  const url = new URL(request.url);
  url.hash = '';
  const network = fetch(request).then(async (response) => {
    await keep(url.href, response.clone());
    return response;
  });
  const cached = async () => {
    const cache = await caches.open(CACHE);
    // The same address first; else any scan page (the script reads round, site and lane from the
    // address, so one copy of the page serves them all).
    const hit = (await cache.match(url.href)) || (await cache.match(url.href, { ignoreSearch: true }));
    return hit && fromDevice(hit);
  };
  try {
    return await Promise.race([
      network,
      new Promise((resolve, reject) => {
        setTimeout(async () => {
          const hit = await cached();
          if (hit) resolve(hit);
          else network.then(resolve, reject);
        }, PATIENCE_MS);
      }),
    ]);
  } catch (e) {
    const hit = await cached();
    if (hit) return hit;
    throw e;
  }
}

/** The kept page, marked so that it can tell it was loaded from this device. */
async function fromDevice(response) {
  const html = (await response.text()).replace('data-state="loading"', 'data-state="loading" data-from-device="1"');
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  return new Response(html, { status: response.status, statusText: response.statusText, headers });
}

async function asset(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request, { ignoreSearch: true });
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (isShell(url)) {
    event.respondWith(shell(request));
  } else if (url.origin === self.location.origin && ASSETS.includes(url.pathname)) {
    event.respondWith(asset(request));
  }
  // Everything else, the API first of all, goes to the network untouched.
});

/** The page asks for its own address to be kept (it was loaded before this worker ran). */
self.addEventListener('message', (event) => {
  const data = event.data || {};
  const port = event.ports && event.ports[0];
  if (data.type !== 'cache-shell' || !port) return;
  event.waitUntil(
    (async () => {
      try {
        const url = new URL(data.url);
        url.hash = '';
        if (!isShell(url)) throw new Error('not the scan page');
        const cache = await caches.open(CACHE);
        const missing = [];
        for (const a of ASSETS) if (!(await cache.match(a))) missing.push(a);
        if (missing.length) await cache.addAll(missing.map((a) => new Request(a, { cache: 'reload' })));
        const response = await fetch(url.href, { credentials: 'same-origin', cache: 'no-store' });
        if (!response.ok || response.redirected) throw new Error(`status ${response.status}`);
        await cache.put(url.href, response);
        port.postMessage({ ok: true });
      } catch (e) {
        port.postMessage({ ok: false, error: String(e) });
      }
    })()
  );
});
