/* skinlens: the thin JavaScript bridge to TensorFlow.js.
 *
 * It does four things and nothing else (the app logic is Python, see py/skinlens/web_app.py):
 *  1. picks the TF.js backend: `?backend=webgpu|webgl|wasm|cpu` forces one; otherwise the
 *     contract order webgpu -> webgl -> wasm -> cpu, taking the first that initialises.
 *     Refinement (allowed by the contract): a GPU backend that is software-emulated
 *     (SwiftShader, llvmpipe, a WebGPU "fallback adapter") is demoted behind WASM, because
 *     there it is 10-150x slower than WASM (measured: webgl 1.1 s, webgpu 15 s, wasm 85 ms).
 *     A forced backend is always tried first, software or not; if it fails the page falls
 *     back along the default order and says so.
 *  2. loads the graph model (with byte progress) and warms it up;
 *  3. exposes window.skinlens = { ready, backend, predict(Float32Array), info, ... };
 *  4. shows load progress for the stages that run before Python is up (Pyodide, packages,
 *     TF.js, model), because Python cannot report on its own download.
 * All URLs are relative to this script, so the app works under any sub-path.
 */
(function () {
  "use strict";

  const ORDER = ["webgpu", "webgl", "wasm", "cpu"];
  const LABEL = { webgpu: "WebGPU", webgl: "WebGL", wasm: "WASM", cpu: "CPU" };
  const BASE = new URL(".", (document.currentScript && document.currentScript.src) || location.href);
  const url = (p) => new URL(p, BASE).href;
  const PATHS = {
    tf: url("vendor/tfjs/tf.min.js"),
    webgpu: url("vendor/tfjs/tf-backend-webgpu.min.js"),
    wasm: url("vendor/tfjs/tf-backend-wasm.min.js"),
    wasmDir: url("vendor/tfjs/"),
    model: url("models/skinlens-lite0/model.json"),
  };
  const INPUT_SIZE = 224;
  const N_CLASSES = 7;
  const SOFTWARE_RE = /swiftshader|llvmpipe|softpipe|software|microsoft basic render/i;

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

  /* ---------------------------------------------------------------- backends */
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const found = document.querySelector(`script[data-src="${src}"]`);
      if (found) return found.dataset.loaded ? resolve() : found.addEventListener("load", () => resolve());
      const el = document.createElement("script");
      el.src = src;
      el.dataset.src = src;
      el.onload = () => {
        el.dataset.loaded = "1";
        resolve();
      };
      el.onerror = () => reject(new Error("could not load " + src.split("/").pop()));
      document.head.appendChild(el);
    });
  }

  // Cheap availability probes: no TF.js work, no big download for a backend that cannot run.
  async function probe(name) {
    if (name === "webgpu") {
      if (!window.isSecureContext) return { ok: false, why: "WebGPU needs a secure context (https or localhost)" };
      if (!navigator.gpu) return { ok: false, why: "WebGPU not available in this browser" };
      let adapter = null;
      try {
        adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
      } catch (e) {
        return { ok: false, why: "WebGPU not available in this browser", detail: e.message };
      }
      if (!adapter) return { ok: false, why: "WebGPU not available in this browser", detail: "no GPU adapter" };
      const ai = adapter.info || {};
      const desc = [ai.vendor, ai.architecture, ai.device, ai.description].filter(Boolean).join(" ");
      const software = !!(adapter.isFallbackAdapter || ai.isFallbackAdapter || SOFTWARE_RE.test(desc));
      return { ok: true, software, device: desc || "unknown adapter" };
    }
    if (name === "webgl") {
      try {
        const c = document.createElement("canvas");
        const gl = c.getContext("webgl2") || c.getContext("webgl");
        if (!gl) return { ok: false, why: "WebGL not available in this browser" };
        const ext = gl.getExtension("WEBGL_debug_renderer_info");
        const r = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) || "");
        const lose = gl.getExtension("WEBGL_lose_context");
        if (lose) lose.loseContext();
        return { ok: true, software: SOFTWARE_RE.test(r), device: r };
      } catch (e) {
        return { ok: false, why: "WebGL not available in this browser" };
      }
    }
    if (name === "wasm") {
      return typeof WebAssembly === "object"
        ? { ok: true, software: false, device: "CPU (WebAssembly)" }
        : { ok: false, why: "WebAssembly not available in this browser" };
    }
    return { ok: true, software: false, device: "CPU (JavaScript)" };
  }

  async function initBackend(name) {
    if (name === "webgpu") await loadScript(PATHS.webgpu);
    if (name === "wasm") {
      await loadScript(PATHS.wasm);
      tf.wasm.setWasmPaths(PATHS.wasmDir);
      // TF.js defaults to half the cores; ?threads=N overrides (experiments, benchmarks)
      const threads = parseInt(new URLSearchParams(location.search).get("threads") || "", 10);
      if (threads > 0 && tf.wasm.setThreadsCount) tf.wasm.setThreadsCount(threads);
    }
    let ok = false;
    try {
      ok = await tf.setBackend(name);
      await tf.ready();
    } catch (e) {
      throw new Error(LABEL[name] + " failed to start: " + e.message);
    }
    if (!ok || tf.getBackend() !== name) throw new Error(LABEL[name] + " failed to start");
  }

  async function chooseBackend(forced) {
    const tried = [];
    const notes = [];
    const demoted = [];
    const probes = {};
    let plan = ORDER.slice();
    if (forced) plan = [forced].concat(ORDER.filter((b) => b !== forced));
    for (const name of plan) {
      setStage("backend", "loading", "trying " + LABEL[name] + "…");
      const p = (probes[name] = await probe(name));
      if (!p.ok) {
        tried.push({ name, ok: false, why: p.why, detail: p.detail });
        continue;
      }
      if (p.software && name !== forced) {
        // software GPU: keep as a late fallback, behind wasm
        demoted.push(name);
        tried.push({ name, ok: false, why: LABEL[name] + " runs in software here, slower than WASM", detail: p.device });
        continue;
      }
      try {
        await initBackend(name);
        tried.push({ name, ok: true, device: p.device });
        return { name, tried, notes, device: p.device, software: !!p.software };
      } catch (e) {
        tried.push({ name, ok: false, why: e.message });
      }
    }
    for (const name of demoted) {
      try {
        await initBackend(name);
        tried.push({ name, ok: true, device: probes[name].device });
        return { name, tried, notes, device: probes[name].device, software: true };
      } catch (e) {
        tried.push({ name, ok: false, why: e.message });
      }
    }
    throw new Error("no TensorFlow.js backend could start: " + tried.map((t) => t.why).join("; "));
  }

  function backendNote(choice, forced) {
    // Say why the engine in use is not the one wanted (the forced one, or WebGPU by default),
    // e.g. "WebGPU not available in this browser — using WASM."
    const wanted = forced || ORDER[0];
    if (choice.name === wanted) return "";
    const first = choice.tried.find((t) => t.name === wanted && !t.ok);
    let note = `${first ? first.why : LABEL[wanted] + " not available"} — using ${LABEL[choice.name]}.`;
    const others = choice.tried.filter((t) => !t.ok && t.name !== wanted && t.name !== choice.name);
    if (others.length) note += " (" + others.map((t) => t.why).join("; ") + ".)";
    return note;
  }

  /* ---------------------------------------------------------------- model */
  function weightBytes(manifest) {
    const size = { float32: 4, int32: 4, bool: 1, float16: 2, uint8: 1, uint16: 2, int8: 1, int16: 2, complex64: 8 };
    let total = 0;
    for (const group of manifest || []) {
      for (const w of group.weights || []) {
        const n = (w.shape || []).reduce((a, b) => a * b, 1);
        const dt = (w.quantization && w.quantization.dtype) || w.dtype;
        total += n * (size[dt] || 4);
      }
    }
    return total;
  }

  function resolveIO(json, model) {
    const sig = (json && (json.signature || (json.userDefinedMetadata || {}).signature)) || {};
    const ins = sig.inputs || {};
    const outs = sig.outputs || {};
    const strip = (n) => String(n).replace(/:0$/, "");
    const inKey = ins.image ? "image" : Object.keys(ins)[0];
    const input = inKey ? strip(ins[inKey].name || inKey) : model.inputs[0].name;
    const lastDim = (o) => {
      const d = (o.tensorShape && o.tensorShape.dim) || [];
      return d.length ? Number(d[d.length - 1].size) : NaN;
    };
    let logits = outs.logits ? strip(outs.logits.name) : null;
    let ood = outs.ood_score ? strip(outs.ood_score.name) : null;
    for (const [k, o] of Object.entries(outs)) {
      if (!logits && lastDim(o) === N_CLASSES) logits = strip(o.name || k);
      else if (!ood && lastDim(o) === 1) ood = strip(o.name || k);
    }
    if (!logits) {
      const names = model.outputs.map((o) => o.name);
      logits = names[0];
      ood = ood || names[1] || null;
    }
    return { input, logits, ood };
  }

  let model = null;
  let io = null;

  function runSync(data) {
    return tf.tidy(() => {
      const x = tf.tensor4d(data, [1, INPUT_SIZE, INPUT_SIZE, 3], "float32");
      const names = io.ood ? [io.logits, io.ood] : [io.logits];
      const out = model.execute({ [io.input]: x }, names);
      return Array.isArray(out) ? out : [out];
    });
  }
  let useAsync = false;
  async function run(data) {
    let outs;
    if (!useAsync) {
      try {
        outs = runSync(data);
      } catch (e) {
        if (!/executeAsync|dynamic/i.test(String(e.message))) throw e;
        useAsync = true;
      }
    }
    if (useAsync) {
      const x = tf.tensor4d(data, [1, INPUT_SIZE, INPUT_SIZE, 3], "float32");
      try {
        const names = io.ood ? [io.logits, io.ood] : [io.logits];
        const out = await model.executeAsync({ [io.input]: x }, names);
        outs = Array.isArray(out) ? out : [out];
      } finally {
        x.dispose();
      }
    }
    try {
      const logits = await outs[0].data();
      const ood = outs[1] ? (await outs[1].data())[0] : NaN;
      return { logits: Float32Array.from(logits), ood };
    } finally {
      outs.forEach((t) => t.dispose());
    }
  }

  // Predictions are serialised: the file path and the live camera loop share one model.
  let queue = Promise.resolve();
  function predict(input) {
    let data = input;
    if (data && typeof data.getBuffer === "function") {
      // a PyProxy of a numpy array: read it through the buffer protocol (no conversion)
      const buf = data.getBuffer("f32");
      try {
        data = new Float32Array(buf.data);
      } finally {
        buf.release();
      }
    } else if (!(data instanceof Float32Array)) {
      data = Float32Array.from(data);
    } else {
      // copy: the caller's buffer may be a view into Python's memory that moves or is freed
      data = new Float32Array(data);
    }
    const expected = INPUT_SIZE * INPUT_SIZE * 3;
    if (data.length !== expected) {
      return Promise.reject(new Error(`predict expects ${expected} floats (1x224x224x3), got ${data.length}`));
    }
    const job = queue.then(async () => {
      if (!model) throw new Error("the model is not loaded");
      const t0 = performance.now();
      const r = await run(data);
      r.ms = performance.now() - t0;
      return r;
    });
    queue = job.catch(() => {});
    return job;
  }

  /* ---------------------------------------------------------------- boot */
  const params = new URLSearchParams(location.search);
  const forcedRaw = (params.get("backend") || "").toLowerCase();
  const forced = ORDER.includes(forcedRaw) ? forcedRaw : null;

  const api = {
    backend: null,
    info: {
      requested: forced || "auto",
      order: ORDER.slice(),
      crossOriginIsolated: !!window.crossOriginIsolated,
      marks,
    },
    mark,
    predict,
    setStage,
    fmtBytes,
    inputSize: INPUT_SIZE,
    memory: () => (window.tf ? tf.memory() : null),
    // resolves after the browser has painted (or 50 ms, e.g. in a background tab)
    nextPaint: () =>
      new Promise((resolve) => {
        requestAnimationFrame(() => setTimeout(resolve, 0));
        setTimeout(resolve, 50);
      }),
    ready: null,
  };
  window.skinlens = api;

  async function boot() {
    const t0 = performance.now();
    if (forcedRaw && !forced) api.info.badParam = `unknown backend "${forcedRaw}" ignored`;
    await loadScript(PATHS.tf);
    mark("tf.min.js");
    tf.enableProdMode(); // no debug checks / console noise
    const choice = await chooseBackend(forced);
    api.backend = choice.name;
    Object.assign(api.info, {
      backend: choice.name,
      backendLabel: LABEL[choice.name],
      device: choice.device,
      software: choice.software,
      tried: choice.tried,
      note: backendNote(choice, forced),
      backendMs: Math.round(performance.now() - t0),
      tfjs: tf.version && tf.version.tfjs,
    });
    if (choice.name === "wasm") {
      api.info.wasmThreads = !!tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT");
      api.info.wasmSimd = !!tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
    }
    mark("backend");
    setStage("backend", "done", LABEL[choice.name] + (bytes.backend ? " · " + fmtBytes(bytes.backend) : ""));

    // model.json is fetched once here (for the signature and the byte total) and handed to TF.js.
    setStage("model", "loading", "downloading…", 0);
    const res = await fetch(PATHS.model);
    if (!res.ok) throw new Error(`model not found (${res.status} for model.json)`);
    const json = await res.json();
    const total = weightBytes(json.weightsManifest);
    api.info.modelBytes = total;
    const fetchFunc = (u, init) =>
      String(u).split("?")[0] === PATHS.model
        ? Promise.resolve(new Response(JSON.stringify(json), { headers: { "Content-Type": "application/json" } }))
        : fetch(u, init);
    const tm = performance.now();
    model = await tf.loadGraphModel(PATHS.model, {
      fetchFunc,
      onProgress: (f) =>
        setStage("model", "loading", `${fmtBytes(f * total)} of ${fmtBytes(total)}`, f),
    });
    mark("model loaded");
    io = resolveIO(json, model);
    api.info.io = io;
    api.info.modelLoadMs = Math.round(performance.now() - tm);

    setStage("model", "loading", "warming up…", 1);
    const tw = performance.now();
    await predict(new Float32Array(INPUT_SIZE * INPUT_SIZE * 3));
    api.info.warmupMs = Math.round(performance.now() - tw);
    mark("model warm");
    setStage("model", "done", `${fmtBytes(total)} · ready`);
    api.info.readyMs = Math.round(performance.now() - t0);
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
