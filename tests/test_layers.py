"""The library's layers import in one direction, and only ``train`` touches TensorFlow.

Static, over the source tree: every ``import``/``from ... import`` statement of every
module (also those inside functions) is checked, so a lazy import cannot slip through.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "replay_core"

# The layers a layer may import (besides itself and ``errors``).
ALLOWED = {
    "data": set(),
    "store": {"data"},
    "replay": {"data", "store"},
    "render": {"data", "store", "replay"},
    "train": {"data", "store", "replay"},
}
TOP = {"__init__", "__main__", "cli", "cli_spec", "cli_train", "cli_view", "errors"}
FORBIDDEN_OUTSIDE_TRAIN = ("tensorflow", "keras", "streamlit")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every import statement in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "replay_core":  # from replay_core import <subpackage>
                found += [(node.lineno, f"replay_core.{a.name}") for a in node.names]
    return found


def _layer_of(module: str) -> str | None:
    """``data`` for ``replay_core.data.spec``; None for the package's top modules."""
    parts = module.split(".")
    if parts[0] != "replay_core" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in ALLOWED else None


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_sits_in_a_layer_or_at_the_top():
    for path in _modules():
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) == 1:
            assert rel.stem in TOP, f"{rel} belongs in a layer package ({', '.join(ALLOWED)})"
        else:
            assert rel.parts[0] in ALLOWED and len(rel.parts) == 2, f"{rel} is not in a layer"


def layer_violations(paths=None) -> list[str]:
    """What breaks the import rules, one line each (empty when the tree is clean)."""
    problems = []
    for path in paths or _modules():
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) == 1:
            continue
        layer = rel.parts[0]
        for line, module in _imports(path):
            root = module.split(".")[0]
            if root in FORBIDDEN_OUTSIDE_TRAIN and layer != "train":
                problems.append(f"{rel}:{line} imports {module} ({layer} must not)")
            if root != "replay_core":
                continue
            target = _layer_of(module)
            if module in ("replay_core", "replay_core.errors") or target == layer:
                continue
            if target is None:
                problems.append(f"{rel}:{line} imports {module}, above every layer")
            elif target not in ALLOWED[layer]:
                problems.append(f"{rel}:{line}: {layer} imports {target} ({module})")
    return problems


def test_layers_import_only_the_layers_before_them():
    assert layer_violations() == []


def test_the_check_catches_a_keras_import_in_replay(tmp_path):
    bad = PACKAGE / "replay" / "forward.py"
    copy = tmp_path / "forward.py"
    copy.write_text(bad.read_text() + "\n\ndef _late():\n    import keras\n    return keras\n")
    # Check the altered copy as if it were replay/forward.py.
    tree_path = PACKAGE / "replay" / "_altered_for_test.py"
    try:
        tree_path.write_text(copy.read_text())
        problems = layer_violations([tree_path])
    finally:
        tree_path.unlink()
    assert any("imports keras" in p for p in problems), problems


def test_a_lower_layer_importing_a_higher_one_is_caught():
    path = PACKAGE / "store" / "_altered_for_test.py"
    try:
        path.write_text("from replay_core.render.frame import compose\n")
        problems = layer_violations([path])
    finally:
        path.unlink()
    assert problems and "store imports render" in problems[0]


@pytest.mark.parametrize("statement", [
    "from replay_core import Replay, compose",
    "from replay_core.replay.replayer import Replay; from replay_core.render.frame import compose",
    "import replay_core.store.workspace, replay_core.store.upload, replay_core.render.export",
])
def test_replaying_loads_no_tensorflow(statement):
    code = (f"{statement}\nimport sys\n"
            "bad = [m for m in ('tensorflow', 'keras', 'streamlit') if m in sys.modules]\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=PACKAGE.parent, check=True)
    assert out.stdout.strip() == "", f"{statement!r} loaded {out.stdout.strip()}"


def test_documented_module_paths_are_the_layer_modules():
    code = ("import replay_core.trainer as a, replay_core.train.trainer as b\n"
            "import replay_core.datasets as c, replay_core.data.datasets as d\n"
            "from replay_core import presets, csv_data\n"
            "import replay_core.data.presets as e, replay_core.data.csv_data as f\n"
            "import sys\n"
            "print(a is b, c is d, presets is e, csv_data is f, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=PACKAGE.parent, check=True)
    assert out.stdout.split() == ["True", "True", "True", "True", "False"]
