"""The repository's own upkeep: ruff over the whole tree, every imported package declared,
and CI running exactly the README's test command."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE_FOLDERS = ("searchapp", "bench", "tests")
# The README's test command: the one line in it that creates the venv and runs pytest.
TEST_COMMAND = re.compile(r"^\s*(python3 -m venv \.venv && .*-m pytest)\s*$", re.MULTILINE)


def test_lint_ruff_finds_nothing_in_the_whole_tree():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"`ruff check .` found problems:\n{result.stdout}{result.stderr}"


def test_lint_every_imported_package_is_declared():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    declared = {_normalise(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in requirements}
    installed = metadata.packages_distributions()
    undeclared = {}
    for module, where in sorted(_imported_modules().items()):
        if module in sys.stdlib_module_names or _is_local(module):
            continue
        distributions = {_normalise(d) for d in installed.get(module, [module])}
        if not distributions & declared:
            undeclared[module] = where
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_lint_ci_runs_exactly_the_readme_test_command():
    readme = TEST_COMMAND.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    ci = TEST_COMMAND.findall((ROOT / ".ci" / "run").read_text(encoding="utf-8"))
    assert len(readme) == 1 and ci == readme
    assert "-c constraints.txt" in readme[0]


def _imported_modules() -> dict[str, str]:
    """Return each top-level module imported under SOURCE_FOLDERS, with one file importing it."""
    modules: dict[str, str] = {}
    for folder in SOURCE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    modules.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return modules


def _is_local(module: str) -> bool:
    return any((ROOT / folder / f"{module}.py").exists() or (ROOT / folder / module).is_dir()
               for folder in ("", *SOURCE_FOLDERS))


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().strip()
