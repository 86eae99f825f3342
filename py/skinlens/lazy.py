"""What the first screen does without: the modules of each view loaded on first use.

PyScript copies every file listed in ``site/pyscript.toml``'s ``[files]`` into the
interpreter before ``main.py`` runs, one request each, and whatever ``main.py`` imports is
compiled before the page is ready. A photo and the live camera need neither the batch
table, the speed test nor the DICOM viewer, so their modules are listed here instead of in
``[files]``: :func:`skinlens.web.browser.load_feature` fetches a feature's files into the
interpreter's file system the first time it is used (the service worker precaches them
like every other file, so this works offline). Adding a view is one line in
:data:`FEATURES`; ``tests/unit/test_lazy.py`` checks that every module is either in
``[files]`` or here, and that nothing loaded at start imports a module listed here.
"""

from __future__ import annotations

FEATURES: dict[str, tuple[str, ...]] = {
    "batch": ("skinlens.batch", "skinlens.export", "skinlens.web.batch"),
    "dicom": ("skinlens.dicom", "skinlens.web.dicom"),
    # My lesions: the ?view=history page and the save form after a result.
    "history": (
        "skinlens.backup",
        "skinlens.bodymap",
        "skinlens.change",
        "skinlens.history",
        "skinlens.lesions_view",
        "skinlens.reminder",
        "skinlens.report",
        "skinlens.segment",
        "skinlens.web.history",
        "skinlens.web.history_backup",
        "skinlens.web.history_save",
        "skinlens.web.library",
    ),
    "speed": (
        "skinlens.batch",
        "skinlens.export",
        "skinlens.speed",
        "skinlens.web.batch",
        "skinlens.web.speed",
    ),
}
"""feature -> the modules it imports that are not loaded at start (dependencies included)."""


def path_of(module: str) -> str:
    """``skinlens.web.batch`` -> ``skinlens/web/batch.py`` (relative to ``py/`` in ``dist/``
    and to the interpreter's working directory, where ``[files]`` puts the package)."""
    return module.replace(".", "/") + ".py"


def lazy_modules() -> set[str]:
    """Every module some feature loads on first use."""
    return {m for modules in FEATURES.values() for m in modules}
