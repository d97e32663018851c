"""The layout the README's "Layout" section describes, checked on the code itself.

Every import of every module (at the top, inside functions, under ``TYPE_CHECKING``) is
read from its syntax tree, so a late import cannot hide a cycle or a layer broken upward.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import types
from pathlib import Path

import pytest

from pipeline.build.contract import Target
from pipeline.targets import registry
from tests.support.banks import ROOT, SEED, build_into

PACKAGE = ROOT / "pipeline"

#: Bottom to top: a module imports only from its own layer or the ones below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("pipeline.errors",),
    ("pipeline.markup",),
    ("pipeline.source",),
    ("pipeline.build.contract", "pipeline.build.keys"),
    ("pipeline.targets",),
    ("pipeline.build",),
    ("pipeline.deliver", "pipeline.importer", "pipeline.commands", "pipeline.preview"),
    ("pipeline.cli", "pipeline.__main__"),
)
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The pipeline modules ``name`` imports, wherever in the file the import is."""
    found: set[str] = set()
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pipeline"))
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            assert node.level == 0, f"{name}: the package imports itself absolutely"
            if not base.startswith("pipeline"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return found - {name}


def layer(name: str) -> int:
    best, at = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, at = len(prefix), index
    return at


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if m != "pipeline" and layer(m) < 0] == []


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{m} -> {i}"
        for m in MODULES
        for i in sorted(imports_of(m))
        if m != "pipeline" and i in MODULES and layer(i) > layer(m)
    ]
    assert upward == []


def test_targets_import_neither_each_other_nor_the_build() -> None:
    def target_of(name: str) -> str | None:
        parts = name.split(".")
        return parts[2] if len(parts) > 3 and parts[1] == "targets" else None

    wrong = []
    for m in MODULES:
        if not m.startswith("pipeline.targets.") or m == "pipeline.targets.registry":
            continue
        for i in imports_of(m):
            other = target_of(i)
            if i.startswith("pipeline.targets.") and other not in (None, target_of(m)):
                wrong.append(f"{m} -> {i}")
            if i.startswith("pipeline.build.") and layer(i) != layer("pipeline.build.contract"):
                wrong.append(f"{m} -> {i}")
    assert wrong == []


def test_no_import_cycle() -> None:
    graph = {m: sorted(i for i in imports_of(m) if i in MODULES) for m in MODULES}
    # A package imports its own modules (a facade) and they import their siblings, not the
    # package: edges into a package's __init__ from its own modules would be a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for m in graph:
        if m not in index:
            visit(m)
    assert cycles == []


def test_the_contract_and_the_build_package_import_nothing_at_run_time() -> None:
    contract = ast.parse(MODULES["pipeline.build.contract"].read_text(encoding="utf-8"))
    runtime = [
        node
        for node in contract.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipeline")
    ]
    assert runtime == []  # only under `if TYPE_CHECKING:`, for annotations
    assert imports_of("pipeline.build") == set()


def test_modules_and_functions_stay_small() -> None:
    big = []
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            big.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    big.append(f"{name}.{node.name}: {length} lines")
    assert big == []


def test_every_module_says_what_it_is_for() -> None:
    missing = [
        name
        for name, path in MODULES.items()
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert missing == []


def _readme_blocks(section: str) -> list[str]:
    """The python code blocks of one README section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"### {section}\n")
    end = text.index("\n### ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


def test_the_readme_walkthrough_adds_an_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "Adding an output" example, as printed, is a working target once registered."""
    module_code, registry_lines = _readme_blocks("Adding an output")
    module = types.ModuleType("plainlist")
    exec(compile(module_code, "README:plainlist", "exec"), module.__dict__)
    entry = registry_lines.strip().splitlines()[-1].strip().rstrip(",")
    name, _, call = entry.partition(": ")
    target = eval(call, {"Target": Target, "plainlist": module})
    monkeypatch.setattr(registry, "TARGETS", {**registry.TARGETS, ast.literal_eval(name): target})
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir()
    shutil.copy(SEED, source)
    build_into(source, tmp_path / "dist")
    listed = (tmp_path / "dist" / "list" / "questions.txt").read_text(encoding="utf-8")
    assert listed.startswith("1. ") and len(listed.splitlines()) == 9
    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text(encoding="utf-8"))
    assert {"path": "list/questions.txt", "kind": "question-list"} in [
        {"path": e["path"], "kind": e["kind"]} for e in manifest["outputs"]
    ]


def test_every_folder_of_the_suite_is_collected(pytestconfig: pytest.Config) -> None:
    """No test folder matches ``norecursedirs`` (pytest's default skips folders named build
    and dist, which once hid the whole of tests/build/ from make test)."""
    import fnmatch

    patterns = pytestconfig.getini("norecursedirs")
    folders = [p for p in (ROOT / "tests").rglob("*") if p.is_dir() and p.name != "__pycache__"]
    skipped = [
        str(f.relative_to(ROOT))
        for f in folders
        if any(fnmatch.fnmatch(f.name, pattern) for pattern in patterns)
        and any(f.rglob("test_*.py"))
    ]
    assert skipped == []
    assert any(p.parent.name == "build" for p in (ROOT / "tests").rglob("test_*.py"))
