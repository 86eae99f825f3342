/* skinlens service worker.
 *
 * This file is a template: build.py replaces the placeholder below with the build data
 * ({build, files: {path: [sha256, size]}, lazy: {...}, headers: {name: value}}) and writes
 * dist/sw.js. Any change to
 * any shipped file changes the build id, hence this file, hence the browser sees an update.
 *
 * - install: download every precached file into a NEW cache named after the build, verifying
 *   each file's sha256; files whose content did not change are copied from the previous cache
 *   instead of downloaded. If anything fails, install fails and the old version keeps serving
 *   (a half-finished download never breaks the app; the partial cache is reused on retry).
 * - activate: delete this app's older caches, claim the open pages.
 * - fetch: cache-first for shipped files (lazy ones are cached on first use), network for the
 *   rest; every response gets COOP/COEP/CORP so the page is cross-origin isolated even on hosts
 *   that cannot set headers (GitHub Pages), and the security headers of security.py
 *   (Content-Security-Policy, Permissions-Policy, Referrer-Policy, X-Content-Type-Options):
 *   BUILD.headers, written by build.py from that one definition.
 * - messages: page -> sw {type: "SKIP_WAITING"} | {type: "GET_STATUS"};
 *   sw -> pages {type: "skinlens-sw", event: "progress"|"installed"|"install-failed"|
 *   "activated"|"status", build, loaded, total, files, filesTotal, error}.
 */
/* eslint-env serviceworker */
"use strict";

const BUILD = /*__SKINLENS_BUILD__*/null;

const SCOPE = new URL(self.registration.scope); // ends with "/"
const PREFIX = "skinlens:" + SCOPE.pathname + ":";
const CACHE = PREFIX + BUILD.build;
const SHA_HEADER = "x-skinlens-sha256";
const ADDED_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
  ...BUILD.headers,
};
const TYPES = {
  html: "text/html; charset=utf-8", js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8",
  json: "application/json", webmanifest: "application/manifest+json",
  wasm: "application/wasm", whl: "application/zip", zip: "application/zip",
  bin: "application/octet-stream", py: "text/plain; charset=utf-8",
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", svg: "image/svg+xml",
  md: "text/plain; charset=utf-8", txt: "text/plain; charset=utf-8",
};
const PARALLEL = 4;

function urlOf(path) {
  return new URL(path, SCOPE).href;
}

/** dist-relative path for a url inside our scope ("" and "dir/" map to index.html). */
function pathOf(url) {
  const u = new URL(url);
  if (u.origin !== SCOPE.origin || !u.pathname.startsWith(SCOPE.pathname)) return null;
  let p = decodeURIComponent(u.pathname.slice(SCOPE.pathname.length));
  if (p === "" || p.endsWith("/")) p += "index.html";
  return p;
}

function typeOf(path) {
  const ext = path.split(".").pop().toLowerCase();
  return TYPES[ext] || "application/octet-stream";
}

async function broadcast(msg) {
  const all = await self.clients.matchAll({ includeUncontrolled: true, type: "window" });
  for (const c of all) c.postMessage({ type: "skinlens-sw", build: BUILD.build, ...msg });
}

async function sha256hex(buf) {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

function stored(buf, path, sha) {
  return new Response(buf, {
    status: 200,
    headers: { "Content-Type": typeOf(path), [SHA_HEADER]: sha, ...ADDED_HEADERS },
  });
}

async function oldCaches() {
  const keys = (await caches.keys()).filter((k) => k.startsWith(PREFIX) && k !== CACHE);
  return Promise.all(keys.map((k) => caches.open(k)));
}

/** Copy an entry with the same content from an older cache; true when found. An entry stored
 * with other added headers (the security policy changed) keeps its body and gets this
 * version's headers: a new policy must not wait for the files to change. */
async function reuse(cache, olds, url, sha) {
  for (const c of olds) {
    const r = await c.match(url);
    if (r && r.headers.get(SHA_HEADER) === sha) {
      const same = Object.entries(ADDED_HEADERS).every(([k, v]) => r.headers.get(k) === v);
      await cache.put(url, same ? r : stored(await r.arrayBuffer(), pathOf(url), sha));
      return true;
    }
  }
  return false;
}

/** Download one file, reporting bytes as they arrive; verify its sha256. */
async function download(path, sha, size, onBytes) {
  const resp = await fetch(urlOf(path), { cache: "no-cache", credentials: "same-origin" });
  if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}`);
  let buf;
  if (resp.body && resp.body.getReader) {
    const reader = resp.body.getReader();
    const parts = [];
    let n = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      n += value.byteLength;
      onBytes(value.byteLength);
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.byteLength; }
    buf = out.buffer;
  } else {
    buf = await resp.arrayBuffer();
    onBytes(buf.byteLength);
  }
  const got = await sha256hex(buf);
  if (got !== sha) throw new Error(`${path}: sha256 ${got} != ${sha} (deployment in progress?)`);
  if (buf.byteLength !== size) throw new Error(`${path}: ${buf.byteLength} bytes != ${size}`);
  return buf;
}

async function precache() {
  const cache = await caches.open(CACHE);
  const olds = await oldCaches();
  const entries = Object.entries(BUILD.files);
  const total = entries.reduce((s, [, [, size]]) => s + size, 0);
  let loaded = 0;
  let files = 0;
  let lastPost = 0;
  // Once one file fails the install is over: the other downloads stop, and no progress
  // message may follow the failure (the page would show "downloading" again, for ever).
  let failed = false;
  const progress = (force) => {
    const now = Date.now();
    if (failed || (!force && now - lastPost < 200)) return;
    lastPost = now;
    broadcast({ event: "progress", loaded, total, files, filesTotal: entries.length });
  };
  progress(true);
  const queue = entries.slice();
  async function worker() {
    while (queue.length && !failed) {
      const [path, [sha, size]] = queue.shift();
      const url = urlOf(path);
      const have = await cache.match(url);
      if (!(have && have.headers.get(SHA_HEADER) === sha) && !(await reuse(cache, olds, url, sha))) {
        let got = 0;
        const buf = await download(path, sha, size, (n) => { got += n; loaded += n; progress(); });
        loaded += size - got;
        await cache.put(url, stored(buf, path, sha));
      } else {
        loaded += size;
      }
      files += 1;
      progress();
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker)).catch((err) => {
    failed = true;
    throw err;
  });
  // Lazy files used by an older version: carry them over (no download).
  for (const [path, [sha]] of Object.entries(BUILD.lazy || {})) {
    await reuse(cache, olds, urlOf(path), sha);
  }
  progress(true);
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    precache().then(
      () => broadcast({ event: "installed" }),
      async (err) => {
        await broadcast({ event: "install-failed", error: String(err && err.message || err) });
        throw err;
      },
    ),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const k of await caches.keys()) {
      if (k.startsWith(PREFIX) && k !== CACHE) await caches.delete(k);
    }
    await self.clients.claim();
    await broadcast({ event: "activated" });
  })());
});

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "SKIP_WAITING") {
    self.skipWaiting();
  } else if (data.type === "GET_STATUS" && event.source) {
    event.source.postMessage({
      type: "skinlens-sw", event: "status", build: BUILD.build,
      state: self.registration.active === self ? "active" : "waiting",
    });
  }
});

function withAddedHeaders(resp) {
  if (!resp || resp.status === 0 || resp.type === "opaque") return resp;
  const headers = new Headers(resp.headers);
  for (const [k, v] of Object.entries(ADDED_HEADERS)) headers.set(k, v);
  return new Response(resp.body, { status: resp.status, statusText: resp.statusText, headers });
}

// One handle for every fetch (opening the cache per request costs a storage round trip).
let cacheHandle = null;
function openCache() {
  if (!cacheHandle) cacheHandle = caches.open(CACHE).catch((e) => { cacheHandle = null; throw e; });
  return cacheHandle;
}

async function respond(request, path) {
  const cache = await openCache();
  const url = urlOf(path);
  if (path in BUILD.files) {
    // stored at install WITH the added headers: served as is (no body copy), which keeps
    // V8's streaming compilation and code caching for the big .wasm/.js files
    const hit = await cache.match(url);
    if (hit) return hit;
  } else if (BUILD.lazy && path in BUILD.lazy) {
    const hit = await cache.match(url);
    if (hit) return hit;
    const [sha, size] = BUILD.lazy[path];
    try {
      const buf = await download(path, sha, size, () => {});
      await cache.put(url, stored(buf, path, sha));
      return cache.match(url);
    } catch (e) {
      // fall through to a plain network request
    }
  }
  try {
    return withAddedHeaders(await fetch(request));
  } catch (err) {
    if (request.mode === "navigate") {
      const index = await cache.match(urlOf("index.html"));
      if (index) return index;
    }
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const path = pathOf(req.url);
  if (path === null || path === "sw.js") return;
  if (req.headers.has("range")) return; // let the network handle partial requests
  event.respondWith(respond(req, path));
});
