"""What the page loads at start and what it loads on first use (``skinlens.lazy``): every
module is in exactly one of ``pyscript.toml``'s ``[files]`` and ``lazy.FEATURES``, nothing
loaded at start imports a lazily loaded module when it is imported, and each feature lists
every lazily loaded module its modules import."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from skinlens import lazy

ROOT = Path(__file__).resolve().parents[2]
PY = ROOT / "py"


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(PY).with_suffix("").parts)


def eager_modules() -> set[str]:
    cfg = tomllib.loads((ROOT / "site" / "pyscript.toml").read_text())
    return {k.removeprefix("./py/").removesuffix(".py").replace("/", ".") for k in cfg["files"]}


def all_modules() -> set[str]:
    return {module_of(p) for p in (PY / "skinlens").rglob("*.py")}


def import_time_imports(tree: ast.Module) -> set[str]:
    """``skinlens`` modules imported when the module itself is imported: not inside a
    function, not under ``if TYPE_CHECKING:``."""
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.If):
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
            elif isinstance(node, ast.ClassDef):
                visit([n for n in node.body if not isinstance(n, ast.FunctionDef)])

    visit(tree.body)
    return {m for m in found if m in all_modules()}


def imports_of(module: str) -> set[str]:
    return import_time_imports(ast.parse((PY / lazy.path_of(module)).read_text()))


def test_every_module_is_loaded_at_start_or_on_first_use_never_both():
    eager, deferred = eager_modules(), lazy.lazy_modules()
    assert not eager & deferred, f"both in [files] and skinlens.lazy: {sorted(eager & deferred)}"
    assert eager | deferred == all_modules(), sorted(all_modules() ^ (eager | deferred))


def test_nothing_loaded_at_start_imports_a_lazy_module():
    main = import_time_imports(ast.parse((ROOT / "site" / "main.py").read_text()))
    assert not main & lazy.lazy_modules(), f"main.py imports {sorted(main & lazy.lazy_modules())}"
    for module in sorted(eager_modules()):
        wrong = imports_of(module) & lazy.lazy_modules()
        assert not wrong, f"{module} imports {sorted(wrong)} at start (import it on first use)"


@pytest.mark.parametrize("feature", sorted(lazy.FEATURES))
def test_each_feature_lists_what_its_modules_import(feature):
    listed = set(lazy.FEATURES[feature])
    for module in sorted(listed):
        missing = (imports_of(module) & lazy.lazy_modules()) - listed
        assert not missing, f"{feature}: {module} imports {sorted(missing)}, not listed"


def test_path_of_is_where_pyscript_puts_the_package():
    assert lazy.path_of("skinlens.web.batch") == "skinlens/web/batch.py"
