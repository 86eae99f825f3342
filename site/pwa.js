/* skinlens PWA glue: service-worker registration, update banner, offline and isolation status.
 *
 * Include once, as a classic or module script:  <script src="./pwa.js" defer></script>
 * DOM hooks (created at the end of <body> when the page does not provide them):
 *   #pwa-status        text + data-state="online|offline|offline-uncached|downloading|
 *                      offline-ready|update-downloading|update-ready|unsupported|error", data-build
 *   #isolation-status  text + data-isolated="true|false"
 *   #update-banner     [hidden] until an update is ready; contains button#update-reload
 *                      (filled in by pwa.js when the page gives an empty container)
 * <html data-coi-reload="off"> disables the one-time reload that enables cross-origin isolation.
 * window.skinlensPWA: {state, build, isolated, applyUpdate(), checkForUpdate()}.
 * Words come from the page language's catalogue through app.js (window.skinlens.t); this
 * script starts once it is loaded (window.skinlens.words).
 */
(() => {
  "use strict";
  const RELOAD_KEY = "skinlens-coi-reload";
  const api = (window.skinlensPWA = {
    state: "online", build: null, isolated: !!window.crossOriginIsolated,
    applyUpdate, checkForUpdate,
  });
  let registration = null;
  let hadController = false;
  let updateRequested = false;
  let reloading = false;
  const t = (key, values) => window.skinlens.t(key, values);

  function el(id, make) {
    let node = document.getElementById(id);
    if (!node && document.body) {
      node = make();
      node.id = id;
      document.body.appendChild(node);
    }
    return node;
  }

  function statusEl() {
    return el("pwa-status", () => {
      const p = document.createElement("p");
      p.className = "pwa-status";
      p.setAttribute("role", "status");
      p.setAttribute("aria-live", "polite");
      return p;
    });
  }

  function bannerEl() {
    const banner = el("update-banner", () => {
      const d = document.createElement("div");
      d.className = "update-banner";
      d.setAttribute("role", "alert");
      d.hidden = true;
      d.append(t("pwa.update"));
      const b = document.createElement("button");
      b.type = "button";
      b.id = "update-reload";
      b.textContent = t("pwa.reload");
      d.appendChild(b);
      return d;
    });
    if (banner && !banner.querySelector("#update-reload")) {
      // the page gave an empty container: fill it
      banner.textContent = t("pwa.update");
      const b = document.createElement("button");
      b.type = "button";
      b.id = "update-reload";
      b.textContent = t("pwa.reload");
      banner.appendChild(b);
    }
    const button = banner && banner.querySelector("#update-reload");
    if (button && !button.dataset.bound) {
      button.dataset.bound = "true";
      button.addEventListener("click", applyUpdate);
    }
    return banner;
  }

  function setStatus(state, text) {
    api.state = state;
    const node = statusEl();
    if (!node) return;
    node.hidden = false;
    node.dataset.state = state;
    if (api.build) node.dataset.build = api.build;
    node.textContent = text;
  }

  function mb(n) {
    const fmt = new Intl.NumberFormat(window.skinlens.locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
    return t("unit.mb", { n: fmt.format(n / 1e6) });
  }

  function showIsolation(note) {
    const node = el("isolation-status", () => {
      const p = document.createElement("p");
      p.className = "isolation-status";
      return p;
    });
    if (!node) return;
    api.isolated = !!window.crossOriginIsolated;
    node.dataset.isolated = String(api.isolated);
    // note: the catalogue key of why it is not isolated
    node.textContent = api.isolated
      ? t("pwa.isolated")
      : note ? t("pwa.not-isolated-why", { why: t(note) }) : t("pwa.not-isolated");
  }

  function idleStatus() {
    const controlled = !!navigator.serviceWorker && !!navigator.serviceWorker.controller;
    if (navigator.onLine === false) {
      if (controlled) setStatus("offline", t("pwa.offline-installed"));
      else setStatus("offline-uncached", t("pwa.offline-uncached"));
    } else if (controlled) {
      setStatus("offline-ready", t("pwa.offline-ready"));
    } else {
      setStatus("online", t("pwa.online"));
    }
  }

  function userBusy() {
    const active = (sel) => {
      const node = document.querySelector(sel);
      const st = node && node.dataset.state;
      return !!st && !["idle", "off", "stopped", "none"].includes(st);
    };
    const input = document.getElementById("file-input");
    const cameraOn = Array.from(document.querySelectorAll("video")).some(
      (v) => v.srcObject && v.srcObject.active);
    return (
      active("#result") || cameraOn ||
      !!(input && input.files && input.files.length) ||
      document.body.dataset.busy === "true"
    );
  }

  /** Reload once so the page is served by the SW with COOP/COEP (GitHub Pages). */
  function maybeIsolationReload() {
    if (window.crossOriginIsolated) {
      sessionStorage.removeItem(RELOAD_KEY);
      return;
    }
    if (!navigator.serviceWorker.controller) return;
    if (document.documentElement.dataset.coiReload === "off") {
      showIsolation("pwa.reload-to-enable");
      return;
    }
    if (sessionStorage.getItem(RELOAD_KEY)) {
      showIsolation("pwa.not-in-browser");
      return;
    }
    if (userBusy()) {
      showIsolation("pwa.reload-to-enable");
      return;
    }
    sessionStorage.setItem(RELOAD_KEY, "1");
    reloading = true;
    window.location.reload();
  }

  function showUpdate() {
    const banner = bannerEl();
    if (banner) banner.hidden = false;
    setStatus("update-ready", t("pwa.update-ready"));
  }

  function applyUpdate() {
    if (!registration || !registration.waiting) return;
    updateRequested = true;
    registration.waiting.postMessage({ type: "SKIP_WAITING" });
  }

  function checkForUpdate() {
    if (registration) registration.update().catch(() => {});
  }

  function onMessage(event) {
    const m = event.data || {};
    if (m.type !== "skinlens-sw") return;
    const controller = navigator.serviceWorker.controller;
    const isUpdate = !!controller && m.event !== "status";
    if (m.event === "progress" && m.loaded < m.total) {
      setStatus(isUpdate ? "update-downloading" : "downloading",
        t(isUpdate ? "pwa.downloading-update" : "pwa.downloading", { done: mb(m.loaded), total: mb(m.total) }));
    } else if (m.event === "installed") {
      if (controller && registration && registration.waiting) showUpdate();
      else idleStatus();
    } else if (m.event === "install-failed") {
      setStatus("error", t("pwa.install-failed", { cause: m.error }));
    } else if (m.event === "status") {
      api.build = m.build;
      idleStatus();
    }
  }

  function trackInstalling(worker) {
    if (!worker) return;
    worker.addEventListener("statechange", () => {
      if (worker.state === "installed" && navigator.serviceWorker.controller) showUpdate();
    });
  }

  async function register() {
    try {
      registration = await navigator.serviceWorker.register("./sw.js", {
        scope: "./", updateViaCache: "none",
      });
    } catch (err) {
      setStatus("error", t("pwa.unavailable", { cause: err.message || err }));
      return;
    }
    if (registration.waiting && navigator.serviceWorker.controller) showUpdate();
    trackInstalling(registration.installing);
    registration.addEventListener("updatefound", () => trackInstalling(registration.installing));
    setInterval(checkForUpdate, 30 * 60 * 1000);
  }

  function registerWhenReady() {
    // First visit: let the page load its runtime first (the SW then finds it in the HTTP cache
    // and only revalidates), then install. Later visits: register at once (update check).
    if (navigator.serviceWorker.controller) return register();
    let done = false;
    const go = () => {
      if (!done) { done = true; register(); }
    };
    if (document.body && document.body.dataset.ready === "true") return go();
    const obs = new MutationObserver(() => {
      if (document.body.dataset.ready === "true") { obs.disconnect(); go(); }
    });
    obs.observe(document.body, { attributes: true, attributeFilter: ["data-ready"] });
    const fallback = () => setTimeout(go, 15000);
    if (document.readyState === "complete") fallback();
    else window.addEventListener("load", fallback, { once: true });
  }

  function start() {
    showIsolation();
    bannerEl();
    if (!("serviceWorker" in navigator)) {
      setStatus("unsupported", t(navigator.onLine === false ? "pwa.offline" : "pwa.online-unsupported"));
      return;
    }
    hadController = !!navigator.serviceWorker.controller;
    navigator.serviceWorker.addEventListener("message", onMessage);
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      if (reloading) return;
      if (updateRequested || hadController) {
        reloading = true; // a new version took over: run it
        window.location.reload();
        return;
      }
      hadController = true;
      navigator.serviceWorker.controller.postMessage({ type: "GET_STATUS" });
      idleStatus();
      maybeIsolationReload();
    });
    window.addEventListener("online", () => { idleStatus(); checkForUpdate(); });
    window.addEventListener("offline", idleStatus);
    if (navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: "GET_STATUS" });
      maybeIsolationReload();
    }
    idleStatus();
    registerWhenReady();
  }

  window.skinlens.words.then(start); // after DOMContentLoaded, with the words
})();
