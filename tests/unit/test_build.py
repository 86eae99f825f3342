"""build.py (pins, hash verification, dist assembly, build manifest) and serve.py (dev server).

Everything here is offline: a tiny fake npm tarball stands in for the real runtime assets.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import build
import security
import serve

ROOT = Path(build.__file__).resolve().parent

FAKE_KEY = "npm:@fake/pkg@1.0.0"
FAKE_SRC = {
    "kind": "npm",
    "name": "@fake/pkg",
    "version": "1.0.0",
    "files": [
        ("package/dist/*.js", "vendor/fake/"),
        ("package/dist/b.wasm", "vendor/fake/b.wasm"),
    ],
    "exclude": ["package/dist/skip.js"],
}
FAKE_MEMBERS = {
    "package/dist/a.js": b"console.log('a');\n",
    "package/dist/a.js.map": b"{}",
    "package/dist/skip.js": b"// not shipped\n",
    "package/dist/b.wasm": b"\0asm\1\0\0\0",
    "package/README.md": b"readme",
}


def make_tgz(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A throwaway project root with a pinned fake source, its cached tarball and a site."""
    monkeypatch.setattr(build, "SOURCES", {FAKE_KEY: FAKE_SRC})
    root = tmp_path / "proj"
    (root / "site" / "icons").mkdir(parents=True)
    (root / "site" / "index.html").write_text(
        f"<!doctype html><meta charset=utf-8>{build.SECURITY_PLACEHOLDER}<title>t</title>"
    )
    (root / "site" / "icons" / "i.png").write_bytes(b"png")
    shutil.copy(ROOT / "site" / "sw.js", root / "site" / "sw.js")
    pkg = root / "py" / "skinlens"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core.py").write_text("X = 1\n")
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"pyc")
    model = root / "models" / "m"
    (model / "golden").mkdir(parents=True)
    (model / "model.json").write_text("{}")
    (model / "group1-shard1of1.bin").write_bytes(b"w" * 10)
    (model / "golden" / "case.json").write_text("[]")
    (model / "saved.keras").write_bytes(b"big")  # not shipped
    cache = root / ".cache"
    (cache / "downloads").mkdir(parents=True)
    tgz = cache / "downloads" / build.npm_tarball_name("@fake/pkg", "1.0.0")
    make_tgz(tgz, FAKE_MEMBERS)
    pins = {FAKE_KEY: build.pin_archive(FAKE_KEY, FAKE_SRC, tgz)}
    build.write_lock(pins, root / "assets.lock.json")
    return root


def run_build(root: Path, **kw):
    return build.build(root, root / "dist", cache=root / ".cache", quiet=True, offline=True, **kw)


def test_npm_tarball_name():
    assert build.npm_tarball_name("@pyscript/core", "0.6.66") == "pyscript-core-0.6.66.tgz"
    assert build.npm_tarball_name("pyodide", "0.27.7") == "pyodide-0.27.7.tgz"


def test_build_assembles_dist_and_manifest(project):
    res = run_build(project)
    dist = project / "dist"
    files = res.manifest["files"]
    assert set(files) == {
        "index.html",
        "icons/i.png",
        "vendor/fake/a.js",
        "vendor/fake/b.wasm",
        "py/skinlens/__init__.py",
        "py/skinlens/core.py",
        "models/m/model.json",
        "models/m/group1-shard1of1.bin",
        "models/m/golden/case.json",
    }
    on_disk = {p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()}
    assert on_disk == set(files) | {"sw.js", "build-manifest.json"}
    for rel, f in files.items():
        data = (dist / rel).read_bytes()
        assert f["size"] == len(data)
        assert f["sha256"] == build.sha256_bytes(data)
    assert files["models/m/golden/case.json"]["precache"] is False
    assert files["vendor/fake/a.js"]["precache"] is True
    written = json.loads((dist / "build-manifest.json").read_text())
    assert written == res.manifest
    assert re.fullmatch(r"[0-9a-f]{16}", res.manifest["build"])


def test_service_worker_gets_the_precache_list(project):
    res = run_build(project)
    sw = (project / "dist" / "sw.js").read_text()
    assert build.SW_PLACEHOLDER not in sw
    data = json.loads(re.search(r"const BUILD = (\{.*?\});", sw).group(1))
    assert data["build"] == res.manifest["build"]
    precached = {k for k, v in res.manifest["files"].items() if v["precache"]}
    assert set(data["files"]) == precached
    assert set(data["lazy"]) == set(res.manifest["files"]) - precached
    for k, (sha, size) in data["files"].items():
        assert [sha, size] == [res.manifest["files"][k]["sha256"], res.manifest["files"][k]["size"]]


def test_build_id_is_deterministic_and_tracks_content(project):
    a = run_build(project).manifest["build"]
    assert run_build(project).manifest["build"] == a
    (project / "site" / "index.html").write_text(
        f"<!doctype html>{build.SECURITY_PLACEHOLDER}<title>t2</title>"
    )
    b = run_build(project).manifest["build"]
    assert b != a
    assert b in (project / "dist" / "sw.js").read_text()


def test_archive_hash_mismatch_fails_loudly(project):
    tgz = project / ".cache" / "downloads" / "fake-pkg-1.0.0.tgz"
    make_tgz(tgz, {**FAKE_MEMBERS, "package/dist/a.js": b"evil()"})
    with pytest.raises(build.BuildError, match="SHA-256 MISMATCH"):
        run_build(project)
    assert not tgz.exists() and tgz.with_name(tgz.name + ".bad").exists()
    assert not (project / "dist").exists()


def test_pinned_file_hash_mismatch_fails_loudly(project):
    lock_path = project / "assets.lock.json"
    lock = json.loads(lock_path.read_text())
    lock["sources"][FAKE_KEY]["files"]["vendor/fake/a.js"]["sha256"] = "0" * 64
    lock_path.write_text(json.dumps(lock))
    with pytest.raises(build.BuildError, match=r"SHA-256 MISMATCH for vendor/fake/a\.js"):
        run_build(project)


def test_tampered_cache_entry_fails_loudly(project):
    run_build(project)
    store = project / ".cache" / "files"
    victim = next(store.iterdir())
    victim.write_bytes(b"tampered")
    with pytest.raises(build.BuildError, match="SHA-256 MISMATCH for cached"):
        run_build(project)
    assert not victim.exists()  # removed, so the next build re-extracts it
    run_build(project)


def test_offline_without_cache_fails_clearly(project):
    shutil.rmtree(project / ".cache")
    with pytest.raises(build.BuildError, match="not cached and --offline"):
        run_build(project)


def test_failed_build_keeps_previous_dist(project):
    good = run_build(project).manifest["build"]
    lock_path = project / "assets.lock.json"
    lock = json.loads(lock_path.read_text())
    lock["sources"][FAKE_KEY]["files"]["vendor/fake/b.wasm"]["sha256"] = "1" * 64
    lock_path.write_text(json.dumps(lock))
    shutil.rmtree(project / ".cache" / "files")
    with pytest.raises(build.BuildError):
        run_build(project)
    assert json.loads((project / "dist" / "build-manifest.json").read_text())["build"] == good


def test_lock_consistency_checks(project):
    lock = build.load_lock(project / "assets.lock.json")
    build.check_lock_consistency(lock)
    broken = json.loads(json.dumps(lock))
    del broken["sources"][FAKE_KEY]["files"]["vendor/fake/b.wasm"]
    with pytest.raises(build.BuildError, match="lack"):
        build.check_lock_consistency(broken)
    with pytest.raises(build.BuildError, match="sources"):
        build.check_lock_consistency({"sources": {}})


def test_wheels_checked_against_official_pyodide_lock(tmp_path):
    whl = tmp_path / "numpy.whl"
    whl.write_bytes(b"wheel")
    lock = tmp_path / "pyodide-lock.json"
    entry = {"file_name": "numpy-2.0.2-x.whl", "sha256": build.sha256_bytes(b"wheel")}
    lock.write_text(
        json.dumps({"info": {"version": build.PYODIDE_VERSION}, "packages": {"numpy": entry}})
    )
    files = {
        build.PYODIDE_DIR + "pyodide-lock.json": lock,
        build.PYODIDE_DIR + "numpy-2.0.2-x.whl": whl,
    }
    build.verify_pyodide_wheels(files)
    whl.write_bytes(b"other")
    with pytest.raises(build.BuildError, match="official"):
        build.verify_pyodide_wheels(files)


# ------------------------------------------------------------------ the real pin file


def test_real_lock_matches_build_spec():
    lock = build.load_lock()
    build.check_lock_consistency(lock)
    dests = {d for e in lock["sources"].values() for d in e["files"]}
    for required in [
        "vendor/pyodide/pyodide.mjs",
        "vendor/pyodide/pyodide.asm.js",
        "vendor/pyodide/pyodide.asm.wasm",
        "vendor/pyodide/python_stdlib.zip",
        "vendor/pyodide/pyodide-lock.json",
        "vendor/pyscript/core.js",
        "vendor/pyscript/core.css",
        "vendor/tfjs/tf.min.js",
        "vendor/tfjs/tf-backend-webgpu.min.js",
        "vendor/tfjs/tf-backend-wasm.min.js",
        "vendor/tfjs/tfjs-backend-wasm.wasm",
        "vendor/tfjs/tfjs-backend-wasm-simd.wasm",
        "vendor/tfjs/tfjs-backend-wasm-threaded-simd.wasm",
        *(build.PYODIDE_DIR + w for w in build.PYODIDE_WHEELS),
    ]:
        assert required in dests
    assert not [d for d in dests if d.endswith(".map")]


def test_real_wheel_pins_match_official_pyodide_lock():
    """Needs the cached official lock file (any earlier `python build.py`)."""
    lock = build.load_lock()
    pyodide = lock["sources"][f"npm:pyodide@{build.PYODIDE_VERSION}"]["files"]
    cached = ROOT / ".cache" / "files" / pyodide["vendor/pyodide/pyodide-lock.json"]["sha256"]
    if not cached.exists():
        pytest.skip("run `python build.py` once to cache the official pyodide-lock.json")
    packages = json.loads(cached.read_text())["packages"].values()
    official = {p["file_name"]: p["sha256"] for p in packages}
    wheels = lock["sources"][f"pypi:{build.PYPI_WHEEL_SOURCE[0]}=={build.PYPI_WHEEL_SOURCE[1]}"]
    for dest, f in wheels["files"].items():
        assert official[Path(dest).name] == f["sha256"]


def test_no_registry_host_names_in_committed_build_files():
    pattern = re.compile(r"npmjs\.(org|com)|pypi\.org|pythonhosted\.org|jsdelivr|unpkg", re.I)
    paths = [ROOT / "build.py", ROOT / "assets.lock.json", ROOT / "site" / "sw.js"]
    paths += sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    for p in paths:
        if p.exists():
            assert not pattern.search(p.read_text()), p


def test_npm_fallback_needs_npm_or_registry(tmp_path, monkeypatch):
    monkeypatch.setattr(build.shutil, "which", lambda _name: None)
    monkeypatch.delenv("NPM_CONFIG_REGISTRY", raising=False)
    with pytest.raises(build.BuildError, match="NPM_CONFIG_REGISTRY"):
        build._download_npm("@fake/pkg", "1.0.0", tmp_path, quiet=True)


def test_npm_fallback_uses_registry_variable(tmp_path, monkeypatch):
    monkeypatch.setattr(build.shutil, "which", lambda _name: None)
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", "http://127.0.0.1:9/reg/")
    seen = []

    def fake_urlopen(url, timeout=0):
        seen.append(url)
        return io.BytesIO(b"tgz")

    monkeypatch.setattr(build.urllib.request, "urlopen", fake_urlopen)
    out = build._download_npm("@fake/pkg", "1.0.0", tmp_path, quiet=True)
    assert seen == ["http://127.0.0.1:9/reg/@fake/pkg/-/pkg-1.0.0.tgz"]
    assert out.name == "fake-pkg-1.0.0.tgz" and out.read_bytes() == b"tgz"


# ------------------------------------------------------------------ server


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, b""


@pytest.mark.parametrize("base", ["/", "/sub/app/"])
def test_server_headers_mime_base_and_log(project, tmp_path, base):
    run_build(project)
    log = tmp_path / "req.log"
    with serve.running_server(project / "dist", port=0, base=base, log=log) as srv:
        assert srv.url.endswith(base)
        status, headers, body = _get(srv.url)
        assert status == 200 and b"<title>t</title>" in body
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
        assert _get(srv.url + "vendor/fake/b.wasm")[1]["Content-Type"] == "application/wasm"
        assert _get(srv.url + "vendor/fake/a.js")[1]["Content-Type"].startswith("text/javascript")
        assert _get(srv.url + "sw.js")[1]["Content-Type"].startswith("text/javascript")
        assert _get(srv.url + "missing.txt")[0] == 404
        if base != "/":
            root = srv.url[: -len(base)]
            assert _get(root + "/index.html")[0] == 404
            assert _get(root + base.rstrip("/"))[0] == 200  # redirected to the base
        wasm = len(FAKE_MEMBERS["package/dist/b.wasm"])
        assert ("GET", base + "vendor/fake/b.wasm", 200, wasm) in srv.transfers
        assert srv.bytes_sent >= wasm
    lines = log.read_text().splitlines()
    assert lines[0] == f"GET {base} 200"
    assert f"GET {base}missing.txt 404" in lines


def test_server_without_isolation_headers(project):
    run_build(project)
    with serve.running_server(project / "dist", port=0, isolation=False) as srv:
        _, headers, _ = _get(srv.url)
        assert "Cross-Origin-Embedder-Policy" not in headers


def test_server_sends_the_security_headers_unless_told_not_to(project):
    run_build(project)
    with serve.running_server(project / "dist", port=0) as srv:
        for path in ("", "vendor/fake/a.js", "sw.js", "missing.txt"):
            _, headers, _ = _get(srv.url + path)
            for name, value in security.headers().items():
                assert headers[name] == value, (path, name)
    with serve.running_server(project / "dist", port=0, security_headers=False) as srv:
        _, headers, _ = _get(srv.url)
        assert not set(security.headers()) & set(headers), headers


def test_pages_and_service_worker_carry_the_one_policy(project):
    run_build(project)
    html = (project / "dist" / "index.html").read_text()
    assert html.startswith("<!doctype html><meta charset=utf-8>" + security.meta_tags())
    sw = (project / "dist" / "sw.js").read_text()
    data = json.loads(re.search(r"const BUILD = (\{.*?\});", sw).group(1))
    assert data["headers"] == security.headers()


def test_page_without_the_policy_placeholder_is_refused(project):
    (project / "site" / "index.html").write_text("<!doctype html><title>no policy</title>")
    with pytest.raises(build.BuildError, match="skinlens:security"):
        run_build(project)


def test_server_stop_closes_keepalive_connections(project):
    import http.client

    run_build(project)
    srv = serve.make_server(project / "dist", port=0).start()
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/index.html")
    assert conn.getresponse().read()
    srv.stop()
    with pytest.raises((OSError, http.client.HTTPException)):
        conn.request("GET", "/index.html")
        conn.getresponse().read()


# ------------------------------------------------------------------ the page's Python files


def test_pyscript_config_copies_its_files_where_the_package_lives():
    """Each module in ``[files]`` lands at ``skinlens/...`` in the interpreter (where
    ``skinlens.web.browser.load_feature`` puts the lazily loaded ones too); which modules are
    listed is ``tests/unit/test_lazy.py``'s. The wording catalogues are not: app.js fetches
    the one of the page's language and hands its text to Python."""
    import tomllib

    cfg = tomllib.loads((ROOT / "site" / "pyscript.toml").read_text())
    assert cfg["interpreter"] == "./vendor/pyodide/pyodide.mjs"
    assert set(cfg["packages"]) == {"numpy", "pillow"}
    for src, dst in cfg["files"].items():
        assert re.fullmatch(r"\./py/skinlens/(web/)?\w+\.py", src), src
        assert dst == "." + src.removeprefix("./py")


def test_web_layer_imports_point_down():
    """The pure core (``skinlens.*``) never imports the browser layer (``skinlens.web``), so
    it runs under CPython; only ``skinlens.web`` and ``site/main.py`` touch ``js``."""
    import ast

    for path in (ROOT / "py" / "skinlens").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [
            f"{n.module}.{a.name}"
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module
            for a in n.names
        ]
        up = [
            n for n in names if n.split(".")[0] in ("js", "pyodide") or n.startswith("skinlens.web")
        ]
        assert not up, f"{path.name} imports the browser layer: {up}"


def test_test_modules_have_unique_names():
    """pytest imports test modules by base name (rootdir-relative, no packages): a name in
    both unit/ and browser/ stops the whole run at collection."""
    tests = ROOT / "tests"
    unit = {p.name for p in (tests / "unit").glob("test_*.py")}
    browser = {p.name for p in (tests / "browser").glob("test_*.py")}
    assert not unit & browser, sorted(unit & browser)
