"""The import-layer contract: an import goes only downwards, and no package's modules import each other in a circle.

domain < activities < workflows < cutru.platform < worker, cutru.service < cutru.clients < cutru.cli, starter <
cutru_local < chaos < bench. The contracts live in pyproject.toml ([tool.importlinter]); import-linter checks the
packages, and this module checks the two top-level scripts (worker.py, starter.py), which import-linter cannot take
as roots, against the same layers. The last tests inject an upward import and a circle into a copy of the tree and
show that the check then fails.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
# Where each top-level script sits among the layers: beside the layer named here.
SCRIPT_LAYERS = {"worker.py": "cutru.service", "starter.py": "cutru.cli"}


def _config() -> dict[str, object]:
    linter: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "importlinter"]
    return linter


def layer_ranks() -> dict[str, int]:
    """Module -> its layer's height (0 at the bottom), read from the layers contract."""
    contracts = _config()["contracts"]
    assert isinstance(contracts, list)
    (layers,) = [c["layers"] for c in contracts if c["id"] == "layers"]
    ranks: dict[str, int] = {}
    for height, layer in enumerate(reversed(layers)):
        for module in layer.replace(":", "|").split("|"):
            ranks[module.strip().strip("()")] = height
    return ranks


def _layer_of(module: str, ranks: dict[str, int]) -> str | None:
    candidates = [name for name in ranks if module == name or module.startswith(name + ".")]
    return max(candidates, key=len) if candidates else None


def script_problems(source: str, script: str, ranks: dict[str, int]) -> list[str]:
    """Imports of a top-level script that reach its own layer or above (lazy imports inside functions too)."""
    height = ranks[SCRIPT_LAYERS[script]]
    imported: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    problems = []
    for module in imported:
        layer = _layer_of(module, ranks)
        if layer is not None and ranks[layer] >= height and layer != SCRIPT_LAYERS[script]:
            problems.append(f"{script} imports {module}, in the layer {layer} (not below it)")
        if module.split(".")[0] in {Path(other).stem for other in SCRIPT_LAYERS if other != script}:
            problems.append(f"{script} imports the other script {module}")
    return problems


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'local'}", "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", str(tree / "pyproject.toml")],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_packages_keep_the_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPT_LAYERS)
def test_the_scripts_import_only_downwards(script: str) -> None:
    assert script_problems((ROOT / script).read_text(encoding="utf-8"), script, layer_ranks()) == []


def test_the_script_check_sees_an_upward_import() -> None:
    ranks = layer_ranks()
    assert script_problems("def f():\n    from cutru.clients import client\n", "worker.py", ranks)
    assert script_problems("import cutru_local.stack\n", "starter.py", ranks)
    assert script_problems("import starter\n", "worker.py", ranks)
    assert script_problems("from cutru.platform import config\nimport temporalio\n", "worker.py", ranks) == []


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's Python sources and pyproject.toml, copied: what the contracts read, nothing else."""
    copy = tmp_path_factory.mktemp("layers")
    shutil.copy2(ROOT / "pyproject.toml", copy / "pyproject.toml")
    roots = _config()["root_packages"]
    assert isinstance(roots, list)
    for package in roots:
        source = ROOT / package if (ROOT / package).is_dir() else ROOT / "local" / package
        target = copy / source.relative_to(ROOT)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return copy


def _injected(tree: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for name, text in files.items():
        (tree / name).write_text(text, encoding="utf-8")
    try:
        return lint_imports(tree)
    finally:
        for name in files:
            (tree / name).unlink()


def test_the_contract_fails_on_an_upward_import(tree_copy: Path) -> None:
    result = _injected(tree_copy, {"activities/upward.py": "from workflows import procedures\n"})
    assert result.returncode != 0
    assert "activities.upward -> workflows.procedures" in result.stdout, result.stdout


def test_the_contract_fails_on_a_lazy_import_of_the_worker(tree_copy: Path) -> None:
    result = _injected(tree_copy, {"cutru/platform/lazy.py": "def f() -> None:\n    import worker\n"})
    assert result.returncode != 0
    assert "cutru.platform.lazy -> worker" in result.stdout, result.stdout


def test_the_contract_fails_on_a_circle(tree_copy: Path) -> None:
    result = _injected(tree_copy, {
        "workflows/circle_a.py": "from workflows import circle_b\n",
        "workflows/circle_b.py": "from workflows import circle_a\n",
    })
    assert result.returncode != 0
    assert "No cycles are allowed in workflows" in result.stdout, result.stdout
    assert "circle_" in result.stdout, result.stdout
