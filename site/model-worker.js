/* skinlens inference worker: TensorFlow.js off the page's main thread.
 *
 * Shaped like a tfjs-models model: `load` (from the model's metadata.json: model file, input
 * name and shape, the NAMED outputs to return), a warm-up, `predict` on a batch returning
 * every named output, `dispose`. The page talks to it through `SkinlensModel` in app.js.
 *
 * Messages in:  {id, op: "load", metadataUrl, vendorUrl, forced, only, threads} | {id, op: "predict", data, n, names}
 *               | {id, op: "memory"} | {id, op: "dispose"}
 * Messages out: {id, ok: true, result} | {id, ok: false, error} for each request, plus
 *               {op: "progress", stage, state, key, values, fraction, total} while loading
 *               (key, values: a wording-catalogue entry; the page words it in its language).
 * Reasons a backend was passed over are catalogue entries too: why = {key, engine, detail}.
 * Input and output buffers travel as transferables (moved, never copied).
 *
 * Backend choice is the automation contract's: `forced` first, else webgpu -> webgl -> wasm
 * -> cpu, taking the first that initialises; a GPU backend that is emulated in software
 * (SwiftShader, llvmpipe, a WebGPU fallback adapter) is demoted behind wasm because it is
 * 10-150x slower there (measured: webgl 1.1 s, webgpu 15 s, wasm 85 ms).
 *
 * Threads: tfjs-backend-wasm caps its pool at half of navigator.hardwareConcurrency (one
 * thread on a 2-core machine) even when setThreadsCount asks for more. Inference is the only
 * heavy work left and no longer shares the page's main thread, so the pool gets one thread
 * per logical core: while the backend starts, the worker reports twice the real core count
 * (see initBackend). The count obtained is reported as info.threads.
 */
"use strict";

const ORDER = ["webgpu", "webgl", "wasm", "cpu"];
const LABEL = { webgpu: "WebGPU", webgl: "WebGL", wasm: "WASM", cpu: "CPU" };
const unavailable = (name) => ({ key: "engine.unavailable", engine: LABEL[name], detail: "" });
const SOFTWARE_RE = /swiftshader|llvmpipe|softpipe|software|microsoft basic render/i;
// the TF.js files' directory (absolute), from the load message: this worker starts from a
// blob: URL (app.js, policedWorker), against which no relative URL resolves
let VENDOR = null;

let model = null; // tf.GraphModel
let spec = null; // {input, shape, outputs: {key: node name}}

// a load step for the page's progress list (`total`: bytes, when the step is a download)
function progress(stage, state, key, values, fraction, total) {
  self.postMessage({ op: "progress", stage, state, key, values, fraction, total });
}
// a load step done, for the page's timeline (absolute time: the page converts it to its clock)
function mark(name) {
  self.postMessage({ op: "mark", name, at: performance.timeOrigin + performance.now() });
}

/* ------------------------------------------------------------------ backends */
async function probe(name) {
  if (name === "webgpu") {
    if (!self.navigator.gpu) return { ok: false, why: unavailable("webgpu") };
    let adapter = null;
    try {
      adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    } catch (e) {
      return { ok: false, why: unavailable("webgpu"), detail: e.message };
    }
    if (!adapter) return { ok: false, why: unavailable("webgpu"), detail: "no GPU adapter" };
    const ai = adapter.info || {};
    const desc = [ai.vendor, ai.architecture, ai.device, ai.description].filter(Boolean).join(" ");
    const software = !!(adapter.isFallbackAdapter || ai.isFallbackAdapter || SOFTWARE_RE.test(desc));
    return { ok: true, software, device: desc || "unknown adapter" };
  }
  if (name === "webgl") {
    try {
      const gl = new OffscreenCanvas(1, 1).getContext("webgl2");
      if (!gl) return { ok: false, why: unavailable("webgl") };
      const ext = gl.getExtension("WEBGL_debug_renderer_info");
      const r = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) || "");
      const lose = gl.getExtension("WEBGL_lose_context");
      if (lose) lose.loseContext();
      return { ok: true, software: SOFTWARE_RE.test(r), device: r };
    } catch (e) {
      return { ok: false, why: unavailable("webgl") };
    }
  }
  if (name === "wasm") {
    return typeof WebAssembly === "object"
      ? { ok: true, software: false, device: "CPU (WebAssembly)" }
      : { ok: false, why: unavailable("wasm") };
  }
  return { ok: true, software: false, device: "CPU (JavaScript)" };
}

async function initBackend(name, threads) {
  if (name === "webgpu") importScripts(VENDOR + "tf-backend-webgpu.min.js");
  const cores = threads || self.navigator.hardwareConcurrency || 1;
  if (name === "wasm") {
    importScripts(VENDOR + "tf-backend-wasm.min.js");
    tf.wasm.setWasmPaths(VENDOR);
    tf.wasm.setThreadsCount(cores);
    // The backend's native code caps its pool at half of the cores it is told about,
    // whatever setThreadsCount asks; tell it twice the real number while it starts.
    Object.defineProperty(self.navigator, "hardwareConcurrency", { value: 2 * cores, configurable: true });
  }
  let ok = false;
  try {
    ok = await tf.setBackend(name);
    await tf.ready();
  } catch (e) {
    throw new Error(LABEL[name] + " failed to start: " + e.message);
  } finally {
    delete self.navigator.hardwareConcurrency; // the real value again
  }
  if (!ok || tf.getBackend() !== name) throw new Error(LABEL[name] + " failed to start");
}

// only: the forced backend or an error (the speed test times each backend as it is)
async function chooseBackend(forced, threads, only) {
  const tried = [];
  const demoted = [];
  const probes = {};
  const plan = only ? [forced] : forced ? [forced].concat(ORDER.filter((b) => b !== forced)) : ORDER.slice();
  for (const name of plan) {
    progress("backend", "loading", "progress.trying", { engine: LABEL[name] });
    const p = (probes[name] = await probe(name));
    if (!p.ok) {
      tried.push({ name, ok: false, why: p.why, detail: p.detail });
      continue;
    }
    if (p.software && name !== forced) {
      demoted.push(name);
      tried.push({ name, ok: false, why: { key: "engine.software", engine: LABEL[name], detail: "" }, detail: p.device });
      continue;
    }
    try {
      await initBackend(name, threads);
      tried.push({ name, ok: true, device: p.device });
      return { name, tried, device: p.device, software: !!p.software };
    } catch (e) {
      tried.push({ name, ok: false, why: { key: "engine.failed", engine: LABEL[name], detail: e.message } });
    }
  }
  for (const name of demoted) {
    try {
      await initBackend(name, threads);
      tried.push({ name, ok: true, device: probes[name].device });
      return { name, tried, device: probes[name].device, software: true };
    } catch (e) {
      tried.push({ name, ok: false, why: { key: "engine.failed", engine: LABEL[name], detail: e.message } });
    }
  }
  const failures = tried.map((t) => `${LABEL[t.name]}: ${t.why.detail || t.detail || t.why.key}`);
  throw new Error("no TensorFlow.js backend could start: " + failures.join("; "));
}

function backendNote(choice, forced) {
  // Why the engine in use is not the one wanted ("WebGPU not available in this browser — using
  // WASM." in English): null, or {why, engine, others: [why...]} for the page to word.
  const wanted = forced || ORDER[0];
  if (choice.name === wanted) return null;
  const first = choice.tried.find((t) => t.name === wanted && !t.ok);
  const others = choice.tried.filter((t) => !t.ok && t.name !== wanted && t.name !== choice.name);
  return { why: first ? first.why : unavailable(wanted), engine: LABEL[choice.name], others: others.map((t) => t.why) };
}

/* ------------------------------------------------------------------ model */
function weightBytes(manifest) {
  const size = { float32: 4, int32: 4, bool: 1, float16: 2, uint8: 1, uint16: 2, int8: 1, int16: 2 };
  let total = 0;
  for (const group of manifest || []) {
    for (const w of group.weights || []) {
      const n = (w.shape || []).reduce((a, b) => a * b, 1);
      total += n * (size[(w.quantization && w.quantization.dtype) || w.dtype] || 4);
    }
  }
  return total;
}

// metadata names the input and the outputs; model.json's signature maps each name to its node.
function ioSpec(meta, json) {
  const sig = json.signature || {};
  const node = (entry, key, what) => {
    if (!entry) throw new Error(`model.json has no ${what} named "${key}" (metadata.json lists it)`);
    return String(entry.name).replace(/:0$/, "");
  };
  const outputs = {};
  for (const key of Object.keys(meta.outputs)) outputs[key] = node((sig.outputs || {})[key], key, "output");
  return {
    input: node((sig.inputs || {})[meta.input.name], meta.input.name, "input"),
    shape: meta.input.shape.slice(1),
    outputs,
  };
}

async function load({ metadataUrl, vendorUrl, forced, only, threads }) {
  const t0 = performance.now();
  VENDOR = vendorUrl;
  progress("backend", "loading", "progress.starting");
  mark("start");
  importScripts(VENDOR + "tf.min.js");
  tf.enableProdMode();
  mark("tf.js");
  const choice = await chooseBackend(forced, threads, only);
  mark("backend");
  const info = {
    backend: choice.name,
    backendLabel: LABEL[choice.name],
    device: choice.device,
    software: choice.software,
    tried: choice.tried,
    note: backendNote(choice, forced),
    backendMs: Math.round(performance.now() - t0),
    tfjs: tf.version && tf.version.tfjs,
    cores: self.navigator.hardwareConcurrency || 1,
  };
  if (choice.name === "wasm") {
    info.wasmThreads = !!tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT");
    info.wasmSimd = !!tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
    info.threads = tf.wasm.getThreadsCount();
  }
  progress("backend", "done", "progress.ready-engine", { engine: LABEL[choice.name] });

  const metaRes = await fetch(metadataUrl);
  if (!metaRes.ok) throw new Error(`model description not found (${metaRes.status} for metadata.json)`);
  const meta = await metaRes.json();
  const modelUrl = new URL(meta.model_file, metadataUrl).href;
  progress("model", "loading", "progress.downloading", {}, 0);
  const res = await fetch(modelUrl);
  if (!res.ok) throw new Error(`model not found (${res.status} for ${meta.model_file})`);
  const json = await res.json();
  mark("model.json");
  spec = ioSpec(meta, json);
  const total = weightBytes(json.weightsManifest);
  // model.json is handed over as fetched (no second download)
  const fetchFunc = (u, init) =>
    String(u).split("?")[0] === modelUrl
      ? Promise.resolve(new Response(JSON.stringify(json), { headers: { "Content-Type": "application/json" } }))
      : fetch(u, init);
  const tm = performance.now();
  model = await tf.loadGraphModel(modelUrl, {
    fetchFunc,
    onProgress: (f) => progress("model", "loading", null, null, f, total),
  });
  info.modelBytes = total;
  info.modelLoadMs = Math.round(performance.now() - tm);
  mark("weights");

  progress("model", "loading", "progress.warming-up", {}, 1);
  const tw = performance.now();
  await predict({ data: new Float32Array(spec.shape.reduce((a, b) => a * b, 1)).buffer, n: 1 });
  info.warmupMs = Math.round(performance.now() - tw);
  mark("warm-up");
  info.readyMs = Math.round(performance.now() - t0);
  info.inputShape = spec.shape;
  info.outputs = Object.keys(spec.outputs);
  return info;
}

// One batch: named outputs as Float32Arrays (transferred back) with their shapes.
async function predict({ data, n, names }) {
  if (!model) throw new Error("the model is not loaded");
  const keys = names || Object.keys(spec.outputs);
  const t0 = performance.now();
  const outs = tf.tidy(() => {
    const x = tf.tensor(new Float32Array(data), [n, ...spec.shape], "float32");
    const out = model.execute({ [spec.input]: x }, keys.map((k) => spec.outputs[k]));
    return Array.isArray(out) ? out : [out];
  });
  try {
    const outputs = {};
    const shapes = {};
    const values = await Promise.all(outs.map((t) => t.data()));
    keys.forEach((k, i) => {
      outputs[k] = values[i]; // a fresh array per output (read out of the backend's memory)
      shapes[k] = outs[i].shape;
    });
    return { outputs, shapes, ms: performance.now() - t0 };
  } finally {
    outs.forEach((t) => t.dispose());
  }
}

const OPS = {
  load,
  predict,
  memory: () => tf.memory(),
  dispose: () => {
    if (model) model.dispose();
    model = null;
    return true;
  },
};

self.onmessage = async (ev) => {
  const { id, op } = ev.data;
  try {
    const result = await OPS[op](ev.data);
    const transfer = op === "predict" ? Object.values(result.outputs).map((a) => a.buffer) : [];
    self.postMessage({ id, ok: true, result }, transfer);
  } catch (e) {
    self.postMessage({ id, ok: false, error: e && e.message ? e.message : String(e) });
  }
};
