"""The store's modules import one another in one direction, and ``runfile`` stays its front.

Static, over the source tree (every import statement, also those inside functions), as
``test_layers`` does for the layers themselves.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STORE = Path(__file__).resolve().parent.parent / "replay_core" / "store"

# Each module may import only the modules before it.
ORDER = ["names", "records", "samples", "h5guard", "opening", "layout", "reader", "writer",
         "edit", "upload", "runfile", "quotas", "workspace"]


def _store_imports(path: Path) -> set[str]:
    """The store modules ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "replay_core.store":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("replay_core.store."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[2] for alias in node.names
                      if alias.name.startswith("replay_core.store.")}
    return found


def test_every_store_module_has_a_place_in_the_order():
    modules = {p.stem for p in STORE.glob("*.py")} - {"__init__"}
    assert modules == set(ORDER)


@pytest.mark.parametrize("module", ORDER)
def test_a_store_module_imports_only_the_modules_before_it(module):
    imported = _store_imports(STORE / f"{module}.py")
    later = imported - set(ORDER[: ORDER.index(module)])
    assert not later, f"store/{module}.py imports {sorted(later)}, which come after it"


def test_adding_a_later_import_is_caught(tmp_path):
    # The check itself: a records module importing the writer is found.
    bad = tmp_path / "records.py"
    bad.write_text("def f():\n    from replay_core.store.writer import RunWriter\n"
                   "from replay_core.store import reader\n")
    assert _store_imports(bad) == {"writer", "reader"}


def test_the_front_reexports_what_callers_import_from_it():
    from replay_core.store import runfile

    for name in runfile.__all__:
        assert hasattr(runfile, name), name
    import replay_core

    assert replay_core.runfile.read_run is runfile.read_run  # the package's alias
