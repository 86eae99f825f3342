/* skinlens: the page's small JavaScript part (the app logic is Python, see site/main.py).
 *
 *  1. starts the model in a Web Worker (model-worker.js: backend choice with
 *     `?backend=webgpu|webgl|wasm|cpu`, load from metadata.json, warm-up, predict) and
 *     exposes its handle as window.skinlens.model (a SkinlensModel, below);
 *  2. shows load progress for the stages that run before Python is up (Pyodide, packages,
 *     TF.js, model), because Python cannot report on its own download;
 *  3. window.skinlens = { ready, backend, model, metadataUrl, info, mark, setStage, nextPaint }.
 * The model's metadata URL is the page's <meta name="skinlens-model">; all URLs are relative
 * to this script, so the app works under any sub-path.
 */
(function () {
  "use strict";

  const ORDER = ["webgpu", "webgl", "wasm", "cpu"]; // for validating ?backend= (the worker decides)
  const BASE = new URL(".", (document.currentScript && document.currentScript.src) || location.href);
  const url = (p) => new URL(p, BASE).href;

  /* ---------------------------------------------------------------- progress */
  // performance.now() at each boot step (benchmarks read skinlens.info.marks)
  const marks = {};
  const mark = (name) => {
    if (!(name in marks)) marks[name] = Math.round(performance.now());
  };
  mark("app.js");
  const stages = {};
  const bytes = { python: 0, packages: 0, backend: 0, model: 0 };
  function fmtBytes(n) {
    if (!n) return "0 MB";
    return n >= 1e6 ? (n / 1e6).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1e3)) + " kB";
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
    if (text) text.textContent = s.text;
  }
  function setStage(id, state, text, fraction) {
    const s = (stages[id] = stages[id] || {});
    s.state = state;
    s.text = text != null ? String(text) : s.text || "";
    // waiting: empty bar; loading without a known fraction: indeterminate bar
    s.fraction = state === "done" ? 1 : state === "waiting" ? 0 : fraction == null ? null : Number(fraction);
    renderStage(id);
  }
  function renderAll() {
    Object.keys(stages).forEach(renderStage);
  }
  document.addEventListener("DOMContentLoaded", renderAll);

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
          setStage(k, "done", doneText(k));
        }
      }
    }).observe({ type: "resource", buffered: true });
  } catch (e) {
    /* old browser: no byte counts */
  }
  function doneText(k) {
    return bytes[k] ? `ready · ${fmtBytes(bytes[k])} downloaded` : "ready (cached)";
  }

  // PyScript reports its own boot steps as `py:progress` events.
  addEventListener("py:progress", (ev) => {
    const d = String(ev.detail || "");
    mark("py:" + d);
    if (d === "Loading Pyodide") setStage("python", "loading", "downloading…");
    else if (d === "Loaded Pyodide") setStage("python", "done", doneText("python"));
    else if (d === "Loading packages") setStage("packages", "loading", "downloading…");
    else if (d === "Loaded packages") setStage("packages", "done", doneText("packages"));
    else if (d === "Loading files") setStage("app", "loading", "loading Python modules…");
  });
  setStage("python", "loading", "starting…");
  setStage("packages", "waiting", "waiting");
  setStage("backend", "loading", "starting…");
  setStage("model", "waiting", "waiting");
  setStage("app", "waiting", "waiting");

  /* ---------------------------------------------------------------- model */
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
    //           quiet: true to keep its progress off the load panel}
    static async load(metadataUrl, options) {
      const m = new SkinlensModel(new Worker(url("model-worker.js")));
      m.quiet = !!options.quiet;
      m.info = await m.call({ op: "load", metadataUrl, forced: options.backend, threads: options.threads });
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
      if (msg.op === "progress") {
        if (this.quiet) return; // a second model: the load panel is long gone
        const text = msg.total ? `${fmtBytes(msg.fraction * msg.total)} of ${fmtBytes(msg.total)}` : msg.text;
        setStage(msg.stage, msg.state, text, msg.fraction);
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
  const params = new URLSearchParams(location.search);
  const forcedRaw = (params.get("backend") || "").toLowerCase();
  const forced = ORDER.includes(forcedRaw) ? forcedRaw : null;
  const METADATA = url(document.querySelector('meta[name="skinlens-model"]').content);

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
    setStage("model", "done", `${fmtBytes(model.info.modelBytes)} · ready`);
    return api;
  }

  api.ready = boot().catch((e) => {
    const msg = e && e.message ? e.message : String(e);
    api.info.error = msg;
    const s = stages.model && stages.model.state === "loading" ? "model" : "backend";
    setStage(s, "error", msg);
    throw e;
  });
  // keep an unhandled rejection out of the console; Python awaits `ready` and reports
  api.ready.catch(() => {});
})();
