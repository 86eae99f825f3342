"""The one definition of skinlens's security policy (issue 12), delivered from three places:

* ``build.py`` writes it into every HTML page as ``<meta http-equiv="Content-Security-Policy">``
  and ``<meta name="referrer">`` (GitHub Pages cannot send headers), and into ``dist/sw.js``,
  whose fetch handler adds :func:`headers` to everything it serves (the installed app);
* ``serve.py`` sends :func:`headers` with every response (local server).

The policy makes "no image leaves the device" the browser's guarantee, not only the code's
good manners: ``connect-src 'self'`` and no other origin anywhere. Every relaxation below
carries the error Chromium gave without it (headless Chromium 156, measured by removing it;
``notes/issue12.md`` has the commands).
"""

from __future__ import annotations

CSP: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": (
        "'self'",
        # 'unsafe-eval': PyScript 0.6.66 compiles its plugin hooks with Function() (without it:
        # "Uncaught EvalError: Evaluating a string as JavaScript violates ..." in core-*.js and
        # the page never gets ready), Pyodide evaluates the EM_ASM snippets of its wheels'
        # native libraries, and tf.min.js 4.22 falls back to Function("r", "regeneratorRuntime
        # = r") at load in the model worker (the model fails to start, on every backend).
        # It also allows WebAssembly compilation, so 'wasm-unsafe-eval' adds nothing
        # (measured: removing it alone changes nothing).
        "'unsafe-eval'",
        # blob:: tfjs-backend-wasm's thread-pool workers importScripts() blob: URLs (without
        # it: "Loading the script 'blob:...' violates ... script-src"; the WASM engine fails).
        "blob:",
    ),
    # blob:: the model worker starts from a blob: URL, so that it inherits this policy even
    # where only the <meta> tag carries it (a worker loaded from its own URL runs under that
    # response's headers only: measured, the <meta> policy did not reach it), and so do
    # tfjs-backend-wasm's thread-pool workers ("Creating a worker from 'blob:...' violates
    # ... worker-src 'self'" without it). 'self': the service worker (sw.js).
    "worker-src": ("'self'", "blob:"),
    "connect-src": ("'self'",),
    # blob:: the preview of the chosen photo (an object URL of the file, never uploaded);
    # data:: the history thumbnails (small JPEG data: URLs made in Python). Both without
    # it: "Loading the image 'blob:...' violates ... img-src 'self'".
    "img-src": ("'self'", "blob:", "data:"),
    "style-src": ("'self'",),
    "object-src": ("'none'",),
    "frame-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'none'",),
    # only as a header: a <meta> policy may not carry it (Chromium logs an error and ignores it)
    "frame-ancestors": ("'none'",),
}
META_IGNORED = ("frame-ancestors",)
"""Directives a ``<meta>`` policy may not carry (CSP3 §3.3: the browser ignores them)."""

PERMISSIONS_POLICY: dict[str, str] = {
    "camera": "(self)",  # the live camera, for this app's own pages only
    **dict.fromkeys(
        (
            "microphone",
            "geolocation",
            "payment",
            "usb",
            "serial",
            "hid",
            "bluetooth",
            "midi",
            "display-capture",
            "accelerometer",
            "gyroscope",
            "magnetometer",
            "screen-wake-lock",
            "publickey-credentials-get",
            "xr-spatial-tracking",
        ),
        "()",
    ),
}
"""Powerful features: only the camera, and only for the app itself. No ``<meta>`` equivalent
exists, so GitHub Pages' first visit goes without it; the service worker adds it after."""

REFERRER_POLICY = "no-referrer"


def csp(*, meta: bool = False) -> str:
    """The Content-Security-Policy value (``meta=True``: without the header-only directives)."""
    return "; ".join(
        f"{name} {' '.join(values)}"
        for name, values in CSP.items()
        if not (meta and name in META_IGNORED)
    )


def permissions_policy() -> str:
    return ", ".join(f"{k}={v}" for k, v in PERMISSIONS_POLICY.items())


def headers() -> dict[str, str]:
    """Response headers for every file of the app (pages, scripts, workers, data)."""
    return {
        "Content-Security-Policy": csp(),
        "Permissions-Policy": permissions_policy(),
        "Referrer-Policy": REFERRER_POLICY,
        "X-Content-Type-Options": "nosniff",
    }


def meta_tags() -> str:
    """The ``<meta>`` equivalents, for the top of every page's ``<head>`` (before any script
    or stylesheet, which they must govern)."""
    return (
        f'<meta http-equiv="Content-Security-Policy" content="{csp(meta=True)}">\n'
        f'  <meta name="referrer" content="{REFERRER_POLICY}">'
    )
