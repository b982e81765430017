"""Structure of the ``mind`` package: every module imports, and no two modules import each other.

The import graph is read from the source with :mod:`ast`: every ``import`` / ``from ... import`` statement counts,
at module level or inside a function (a lazy import is still a dependency). An edge goes to the deepest ``mind``
module a statement names (``from mind.teacher import backends`` -> ``mind.teacher.backends``;
``from mind.benchmarks import load_benchmark`` -> ``mind.benchmarks``). Two modules that import each other are a
design debt (GUIDE.md section 2): move the piece they share down a layer instead.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mind"


def module_files() -> dict[str, Path]:
    """Dotted name -> file of every module of the package (folders without ``__init__.py`` are data, not code)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if not all((ROOT / Path(*rel.parts[:i]) / "__init__.py").is_file() for i in range(1, len(rel.parts))):
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path
    return out


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The ``mind`` modules that module ``name`` (source at ``path``) imports anywhere in its body."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from pkg import sub` names the submodule when it is one, else an attribute of pkg
            targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in known else stem for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import mind.x.y` where only mind.x is ours, etc.
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imported_modules(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted; sorted by first name."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_module_files_cover_the_package():
    files = module_files()
    assert {"mind", "mind.config", "mind.teacher", "mind.teacher.backends", "mind.data"} <= set(files)
    assert files["mind.data"].name == "data.py"  # mind/data/ holds data files, not a package
    assert not any(name.startswith("mind.presets") for name in files)


def test_graph_reader_sees_every_kind_of_import():
    graph = import_graph()
    assert "mind.errors" in graph["mind.config"]  # module-level `from mind.errors import ConfigError`
    assert "mind.benchmarks" in graph["mind.evaluate"]  # function-level `from mind.benchmarks import load_benchmark`
    assert "mind.svamp_multi_teacher" in graph["mind.training_sets"]  # the --data svamp-multi-teacher loader
    assert "mind.training_sets" in graph["mind.trainer"]


def test_cycle_finders_on_a_known_graph():
    graph = {"a": {"b"}, "b": {"a", "c"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert cycles(graph) == [["a", "b"], ["c", "d", "e"]]
    assert mutual_pairs(graph) == [("a", "b")]
    assert cycles({"a": {"b"}, "b": set()}) == [] and mutual_pairs({"a": {"b"}, "b": set()}) == []


# Pairs that still import each other, each with what they share. Remove a pair when you fix it; never add one.
KNOWN_PAIRS: dict[tuple[str, str], str] = {}


def mutual_pairs(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Sorted (a, b) with a < b where a imports b and b imports a."""
    return sorted({tuple(sorted((a, b))) for a, targets in graph.items() for b in targets if a in graph.get(b, ())})


def test_no_two_modules_import_each_other():
    pairs = mutual_pairs(import_graph())
    new = [p for p in pairs if p not in KNOWN_PAIRS]
    assert new == [], f"modules that import each other (move the shared piece down a layer, GUIDE.md section 2): {new}"
    fixed = [p for p in KNOWN_PAIRS if p not in pairs]
    assert fixed == [], f"these pairs no longer import each other; delete them from KNOWN_PAIRS: {fixed}"


def test_no_import_cycles():
    """Longer loops too (a -> b -> c -> a), e.g. the old run -> run_cache -> samples_store -> run."""
    assert cycles(import_graph()) == [], "modules in an import loop (move the shared piece down a layer, GUIDE.md section 2)"


def test_jsonl_io_is_the_bottom_of_the_run_files():
    """The JSON/JSONL helpers import only mind.errors; mind.run re-exports the very same functions."""
    import mind.jsonl_io as io
    import mind.run as run

    assert import_graph()["mind.jsonl_io"] == {"mind.errors"}
    for name in ("_clean", "write_json_atomic", "write_jsonl_atomic", "append_jsonl", "read_jsonl"):
        assert getattr(run, name) is getattr(io, name), name


@pytest.mark.slow  # imports torch, transformers, streamlit, ...: about 10 s on 2 busy cores
def test_every_module_imports_in_a_fresh_interpreter():
    names = sorted(n for n in module_files() if n != "mind.__main__")  # __main__ runs the CLI when imported
    code = (
        "import importlib, sys, traceback\n"
        "bad = []\n"
        f"for name in {names!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        bad.append(name + ': ' + traceback.format_exc().strip().splitlines()[-1])\n"
        "print('\\n'.join(bad))\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"modules that fail to import:\n{proc.stdout}{proc.stderr[-2000:]}"
