"""The security policy's one definition (``security.py``): no other origin anywhere, and the
shipped pages carry it before anything it must govern, with no inline script or style."""

from __future__ import annotations

import re
from pathlib import Path

import security

ROOT = Path(security.__file__).resolve().parent
KEYWORDS = {"'self'", "'none'", "'unsafe-eval'"}
SCHEMES = {"blob:", "data:"}  # same-document sources, never a network destination


def test_no_other_origin_anywhere():
    assert security.CSP["connect-src"] == ("'self'",)
    for directive, sources in security.CSP.items():
        assert set(sources) <= KEYWORDS | SCHEMES, directive
    assert "'unsafe-inline'" not in security.csp()


def test_meta_policy_leaves_out_what_only_a_header_may_carry():
    assert "frame-ancestors" in security.csp()
    assert "frame-ancestors" not in security.csp(meta=True)
    assert security.csp(meta=True) in security.meta_tags()


def test_permissions_policy_allows_the_camera_to_the_app_only():
    policy = security.permissions_policy()
    assert "camera=(self)" in policy
    for feature in ("microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in policy


def test_site_pages_have_the_placeholder_and_nothing_inline():
    """Inline scripts and styles would need 'unsafe-inline' (or a hash per change): none."""
    for page in (ROOT / "site").glob("*.html"):
        html = page.read_text()
        head = html.split("<!--skinlens:security-->")[0]
        assert "<script" not in head and "<link" not in head, page
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), page
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html), page
