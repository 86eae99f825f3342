/* skinlens: the page's small JavaScript part (the app logic is Python, see site/main.py).
 *
 *  1. starts the model in a Web Worker (model-worker.js: backend choice with
 *     `?backend=webgpu|webgl|wasm|cpu`, load from metadata.json, warm-up, predict) and
 *     exposes its handle as window.skinlens.model (a SkinlensModel, below);
 *  2. shows load progress for the stages that run before Python is up (Pyodide, packages,
 *     TF.js, model), because Python cannot report on its own download;
 *  3. chooses the language (?lang=en|zh|ru, else the one picked in the page, else the browser's)
 *     and fetches its wording catalogue (py/skinlens/wording_<lang>.json, the one Python uses)
 *     once: the static page text and the load progress need it before Python is up;
 *  4. window.skinlens = { ready, backend, model, metadataUrl, info, mark, setStage, nextPaint,
 *     lang, locale, words (resolves to the catalogue's text once the page is translated), t,
 *     view, loadModel, deviceFacts, loadScript, history (site/history-db.js, once loaded) }.
 * With ?view=speed (the speed test) no model is started here: the test loads one per backend
 * (loadModel) and <html data-view="speed"> switches the page to that view (style.css).
 * The model's metadata URL is the page's <meta name="skinlens-model">; all URLs are relative
 * to this script, so the app works under any sub-path.
 */
(function () {
  "use strict";

  const ORDER = ["webgpu", "webgl", "wasm", "cpu"]; // for validating ?backend= (the worker decides)
  const BASE = new URL(".", (document.currentScript && document.currentScript.src) || location.href);
  const url = (p) => new URL(p, BASE).href;
  const params = new URLSearchParams(location.search);

  /* ---------------------------------------------------------------- words */
  const LOCALES = { en: "en", zh: "zh-Hans", ru: "ru" }; // catalogue -> BCP 47 (html lang, Intl)
  const LANG_KEY = "skinlens-lang";
  function chooseLang() {
    const forcedLang = (params.get("lang") || "").toLowerCase();
    if (forcedLang in LOCALES) return forcedLang;
    const picked = localStorage.getItem(LANG_KEY);
    if (picked in LOCALES) return picked;
    for (const tag of navigator.languages || []) {
      const base = String(tag).toLowerCase().split("-")[0];
      if (base in LOCALES) return base;
    }
    return "en";
  }
  const lang = chooseLang();
  const locale = LOCALES[lang];
  document.documentElement.lang = locale;
  let words = null; // the catalogue, once fetched
  // A catalogue entry's text with {placeholders} filled ("" until the catalogue is here:
  // everything rendered before is rendered again when it arrives).
  function t(key, values) {
    if (!words) return "";
    return words[key].text.replace(/\{(\w+)\}/g, (m, k) => (values && k in values ? String(values[k]) : m));
  }
  // Static text: [data-i18n] elements get the entry's text (a {name} in it places the child
  // element with data-slot="name": links, emphasis); [data-i18n-attr="attr=key ..."] sets
  // attributes; <template> contents too.
  function translate(root) {
    for (const node of root.querySelectorAll("[data-i18n]")) {
      const slots = {};
      for (const child of node.querySelectorAll(":scope > [data-slot]")) slots[child.dataset.slot] = child;
      const parts = t(node.dataset.i18n).split(/\{(\w+)\}/);
      node.replaceChildren(...parts.map((part, i) => (i % 2 ? slots[part] : part)));
    }
    for (const node of root.querySelectorAll("[data-i18n-attr]")) {
      for (const pair of node.dataset.i18nAttr.split(" ")) {
        const [attr, key] = pair.split("=");
        node.setAttribute(attr, t(key));
      }
    }
    for (const tpl of root.querySelectorAll("template")) translate(tpl.content);
  }
  // The language picker: remembered, and the page reloads in the new language.
  function bindLanguagePicker() {
    const picker = document.getElementById("lang-select");
    picker.value = lang;
    picker.addEventListener("change", () => {
      localStorage.setItem(LANG_KEY, picker.value);
      const next = new URL(location.href);
      next.searchParams.delete("lang");
      location.assign(next.href);
    });
  }
  const domReady = new Promise((resolve) => document.addEventListener("DOMContentLoaded", resolve));
  const wordsReady = Promise.all([
    fetch(url(`py/skinlens/wording_${lang}.json`)).then((r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status} for wording_${lang}.json`);
      return r.text();
    }),
    domReady,
  ]).then(([text]) => {
    words = JSON.parse(text);
    translate(document);
    bindLanguagePicker();
    renderAll();
    return text;
  });

  /* ---------------------------------------------------------------- progress */
  // Each boot step, once: a performance.mark("skinlens:" + name) (DevTools' timeline) and
  // its time since navigation start in skinlens.info.marks (bench.startup reads them).
  // `at`: a time already on this page's clock (the model worker's steps, converted).
  const marks = {};
  const mark = (name, at) => {
    if (name in marks) return;
    const t = at == null ? performance.now() : at;
    marks[name] = Math.round(t * 10) / 10;
    try {
      performance.mark("skinlens:" + name, { startTime: t });
    } catch (e) {
      /* old browser: the marks object is enough */
    }
  };
  mark("app.js");
  const stages = {};
  const bytes = { python: 0, packages: 0, backend: 0, model: 0 };
  const oneDecimal = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const whole = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  function fmtBytes(n) {
    if (n >= 1e6) return t("unit.mb", { n: oneDecimal.format(n / 1e6) });
    return t("unit.kb", { n: whole.format(n ? Math.max(1, Math.round(n / 1e3)) : 0) });
  }
  function renderStage(id) {
    const s = stages[id];
    if (!s) return;
    const li = document.querySelector(`#progress-list li[data-stage="${id}"]`);
    if (!li) return;
    li.dataset.state = s.state;
    const bar = document.getElementById("progress-" + id);
    if (bar) {
      if (s.fraction == null) bar.removeAttribute("value");
      else bar.value = Math.max(0, Math.min(1, s.fraction));
    }
    const text = document.getElementById("progress-" + id + "-text");
    if (text) text.textContent = t(s.key, s.values);
  }
  // key, values: the catalogue entry for the stage's text (the last one stays when key is null)
  function setStage(id, state, key, values, fraction) {
    const s = (stages[id] = stages[id] || {});
    s.state = state;
    if (key != null) {
      s.key = key;
      s.values = values || {};
    }
    // waiting: empty bar; loading without a known fraction: indeterminate bar
    s.fraction = state === "done" ? 1 : state === "waiting" ? 0 : fraction == null ? null : Number(fraction);
    renderStage(id);
  }
  function renderAll() {
    Object.keys(stages).forEach(renderStage);
  }

  // Bytes per stage from the page's own resource timings (a cache hit counts as 0 B).
  function classify(name) {
    if (name.includes("/vendor/tfjs/")) return "backend";
    if (name.includes("/models/")) return "model";
    if (/\.whl(\?|$)/.test(name)) return "packages";
    if (name.includes("/vendor/pyodide/") || name.includes("/vendor/pyscript/")) return "python";
    return null;
  }
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const k = classify(e.name);
        if (!k) continue;
        bytes[k] += e.transferSize || 0;
        const s = stages[k];
        if (s && s.state === "done" && (k === "python" || k === "packages")) {
          setStage(k, "done", ...doneText(k));
        }
      }
    }).observe({ type: "resource", buffered: true });
  } catch (e) {
    /* old browser: no byte counts */
  }
  function doneText(k) {
    return bytes[k] ? ["progress.ready-downloaded", { size: fmtBytes(bytes[k]) }] : ["progress.ready-cached"];
  }

  // PyScript reports its own boot steps as `py:progress` events.
  addEventListener("py:progress", (ev) => {
    const d = String(ev.detail || "");
    mark("py:" + d);
    if (d === "Loading Pyodide") setStage("python", "loading", "progress.downloading");
    else if (d === "Loaded Pyodide") setStage("python", "done", ...doneText("python"));
    else if (d === "Loading packages") setStage("packages", "loading", "progress.downloading");
    else if (d === "Loaded packages") setStage("packages", "done", ...doneText("packages"));
    else if (d === "Loading files") setStage("app", "loading", "progress.modules");
  });
  setStage("python", "loading", "progress.starting");
  setStage("packages", "waiting", "progress.waiting");
  setStage("backend", "loading", "progress.starting");
  setStage("model", "waiting", "progress.waiting");
  setStage("app", "waiting", "progress.waiting");

  /* ---------------------------------------------------------------- model */
  /* A worker started from its own URL runs under the policy of that response's headers only:
   * where the page's <meta> tag is all there is (GitHub Pages before the service worker
   * serves the app), it would run with no policy at all (measured: the <meta> policy did not
   * reach it). A worker started from a blob: URL inherits the page's policy wherever it came
   * from, so the model worker (TF.js, which sees every image) starts from a one-line blob. */
  function policedWorker(scriptUrl) {
    const boot = new Blob([`importScripts(${JSON.stringify(scriptUrl)});`], { type: "text/javascript" });
    return new Worker(URL.createObjectURL(boot)); // a few bytes per worker (two at most)
  }

  /* The model runs in a Web Worker (model-worker.js); this is its page-side handle, shaped
   * like a tfjs-models model: SkinlensModel.load(metadataUrl, {backend}) resolves once the
   * worker has chosen a backend, loaded and warmed up the graph; predict(batch, n, names)
   * resolves to {outputs: {name: Float32Array}, shapes: {name: [n, ...]}, ms}; dispose().
   * The batch buffer is transferred to the worker (the caller's array is emptied). */
  class SkinlensModel {
    constructor(worker) {
      this.worker = worker;
      this.pending = new Map();
      this.nextId = 1;
      this.info = null;
      worker.onmessage = (ev) => this.receive(ev.data);
      worker.onerror = (ev) => this.failAll(new Error(ev.message || "the model worker failed"));
    }
    // options: {backend: forced backend or null, threads: wasm pool size or null (all cores),
    //           quiet: true to keep its progress off the load panel,
    //           only: true to fail rather than fall back to another backend}
    static async load(metadataUrl, options) {
      const m = new SkinlensModel(policedWorker(url("model-worker.js")));
      m.quiet = !!options.quiet;
      try {
        m.info = await m.call({
          op: "load",
          metadataUrl,
          vendorUrl: url("vendor/tfjs/"),
          forced: options.backend,
          only: !!options.only,
          threads: options.threads,
        });
      } catch (e) {
        m.worker.terminate();
        throw e;
      }
      return m;
    }
    call(message, transfer) {
      const id = this.nextId++;
      return new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.worker.postMessage(Object.assign({ id }, message), transfer || []);
      });
    }
    receive(msg) {
      if (msg.op === "mark") {
        // a step of the worker's load, on the page's clock (both clocks are wall-clock based)
        if (!this.quiet) mark("worker:" + msg.name, msg.at - performance.timeOrigin);
        return;
      }
      if (msg.op === "progress") {
        if (this.quiet) return; // a second model: the load panel is long gone
        if (msg.total) {
          const sizes = { done: fmtBytes(msg.fraction * msg.total), total: fmtBytes(msg.total) };
          setStage(msg.stage, msg.state, "progress.of", sizes, msg.fraction);
        } else {
          setStage(msg.stage, msg.state, msg.key, msg.values, msg.fraction);
        }
        return;
      }
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error));
    }
    failAll(error) {
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    }
    predict(batch, n, names) {
      return this.call({ op: "predict", data: batch.buffer, n, names }, [batch.buffer]);
    }
    memory() {
      return this.call({ op: "memory" });
    }
    dispose() {
      const done = this.call({ op: "dispose" });
      return done.then(() => this.worker.terminate());
    }
  }

  /* ---------------------------------------------------------------- boot */
  const forcedRaw = (params.get("backend") || "").toLowerCase();
  const forced = ORDER.includes(forcedRaw) ? forcedRaw : null;
  const METADATA = url(document.querySelector('meta[name="skinlens-model"]').content);
  // ?view=speed: the speed test; ?view=history: my lesions (the model still starts: checks
  // saved with an older model are re-scored with this one)
  const view = ["speed", "history"].includes(params.get("view")) ? params.get("view") : "app";
  document.documentElement.dataset.view = view;

  // Facts about this device for the speed test (WebGPU: the adapter the browser offers).
  async function deviceFacts() {
    let webgpu = "not available";
    if (navigator.gpu) {
      try {
        const a = await navigator.gpu.requestAdapter();
        const i = (a && a.info) || {};
        webgpu = a ? [i.vendor, i.architecture, i.description].filter(Boolean).join(" ") || "adapter (no details)" : "no adapter";
        if (a && a.isFallbackAdapter) webgpu += " (software fallback)";
      } catch (e) {
        webgpu = "error: " + e.message;
      }
    }
    return {
      cores: navigator.hardwareConcurrency || 1,
      crossOriginIsolated: !!window.crossOriginIsolated,
      webgpu,
      userAgent: navigator.userAgent,
    };
  }

  const api = {
    backend: null,
    model: null, // SkinlensModel once ready (photos, batches: every core on wasm)
    liveModel, // () => Promise<SkinlensModel> for the live camera (see below)
    metadataUrl: METADATA,
    info: {
      requested: forced || "auto",
      order: ORDER.slice(),
      crossOriginIsolated: !!window.crossOriginIsolated,
      worker: true,
      marks,
    },
    mark,
    setStage,
    lang,
    locale,
    words: wordsReady,
    t,
    view,
    // the speed test: a model on exactly this backend (no fallback), its own worker
    loadModel: (backend) => SkinlensModel.load(METADATA, { backend, only: true, quiet: true }),
    deviceFacts,
    // a script of this app loaded on first use (history-db.js): resolves once it has run
    loadScript: (path) =>
      new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = url(path);
        s.onload = () => resolve();
        s.onerror = () => reject(new Error("could not load " + path));
        document.head.appendChild(s);
      }),
    // resolves after the browser has painted (or 50 ms, e.g. in a background tab)
    nextPaint: () =>
      new Promise((resolve) => {
        requestAnimationFrame(() => setTimeout(resolve, 0));
        setTimeout(resolve, 50);
      }),
    ready: null,
  };
  window.skinlens = api;

  /* The live camera shares the CPU with video capture, decoding and compositing: a wasm pool
   * on every core then waits for threads the browser has taken (measured here, 2 cores:
   * 60 ms per frame with 2 threads against 25 ms with 1). So on wasm the camera gets a model
   * of its own, started with the camera, whose pool leaves one core to the page. */
  let live = null;
  function liveModel() {
    const cores = navigator.hardwareConcurrency || 1;
    if (api.backend !== "wasm" || cores < 2) return api.ready.then(() => api.model);
    if (!live) live = SkinlensModel.load(METADATA, { backend: "wasm", threads: cores - 1, quiet: true });
    return live;
  }

  async function boot() {
    if (forcedRaw && !forced) api.info.badParam = `unknown backend "${forcedRaw}" ignored`;
    // ?threads=N: the wasm thread pool's size (experiments, benchmarks); default all cores
    const threads = parseInt(params.get("threads") || "", 10) || null;
    const model = await SkinlensModel.load(METADATA, { backend: forced, threads });
    mark("model warm");
    api.model = model;
    api.backend = model.info.backend;
    Object.assign(api.info, model.info);
    setStage("model", "done", "progress.model-ready", { size: fmtBytes(model.info.modelBytes) });
    return api;
  }

  if (view === "speed") {
    // no page model: the speed test loads one per backend
    setStage("backend", "done", "speed.per-backend");
    setStage("model", "done", "speed.per-backend");
    api.ready = new Promise(() => {});
    return;
  }
  api.ready = boot().catch((e) => {
    const msg = e && e.message ? e.message : String(e);
    api.info.error = msg;
    const s = stages.model && stages.model.state === "loading" ? "model" : "backend";
    setStage(s, "error", "progress.failed-because", { cause: msg });
    throw e;
  });
  // keep an unhandled rejection out of the console; Python awaits `ready` and reports
  api.ready.catch(() => {});
})();
