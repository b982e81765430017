"""Structure of ``mind`` and ``app``: every module imports, no import loops, and packages import only downward.

The import graph is read from the source with :mod:`ast`: every ``import`` / ``from ... import`` statement counts,
at module level or inside a function (a lazy import is still a dependency), and so does every name a lazy package
face (``lazy_face(__name__, {...})``, mind/_lazy.py) resolves. An edge goes to the deepest module a statement names
(``from mind.teacher import backends`` -> ``mind.teacher.backends``; ``from mind.benchmarks import load_benchmark``
-> ``mind.benchmarks``, the package face). Two modules that import each other, or a longer loop, are a design debt
(GUIDE.md section 2): move the piece they share down a layer instead. The packages of ``mind`` form layers
(:data:`LAYERS`): a module imports its own package and lower layers only.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mind"
SCANNED = ("mind", "app")  # the library and the dashboard's importable modules (pages/ are scripts, checked below)


def module_files(top: str = "mind") -> dict[str, Path]:
    """Dotted name -> file of every module of package ``top`` (folders without ``__init__.py`` are data, not code)."""
    out = {}
    for path in sorted((ROOT / top).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if not all((ROOT / Path(*rel.parts[:i]) / "__init__.py").is_file() for i in range(1, len(rel.parts))):
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path
    return out


def _lazy_targets(tree: ast.AST) -> list[str]:
    """Modules named by a lazy face: the string values of the dict passed to ``lazy_face(__name__, {...})``."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_face" and len(node.args) == 2:
            if isinstance(node.args[1], ast.Dict):
                out += [v.value for v in node.args[1].values if isinstance(v, ast.Constant)]
    return out


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The scanned modules that module ``name`` (source at ``path``) imports anywhere in its body."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in [*ast.walk(tree), *(ast.Import(names=[ast.alias(name=t)]) for t in _lazy_targets(tree))]:
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


def third_party(path: Path) -> set[str]:
    """Top-level names of the packages a file imports anywhere (``torch``, ``pandas``, ...)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out


def import_graph() -> dict[str, set[str]]:
    files = {n: p for top in SCANNED for n, p in module_files(top).items()}
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
    assert {"mind", "mind.training.config", "mind.teacher", "mind.teacher.backends", "mind.data", "mind.run"} <= set(files)
    assert files["mind.data"].name == "__init__.py"  # the schema's package; its demo files sit beside the modules
    assert not any(name.startswith("mind.training.presets") for name in files)  # YAML, not code
    assert "app.loading" in module_files("app")


def test_graph_reader_sees_every_kind_of_import():
    graph = import_graph()
    assert "mind.errors" in graph["mind.training.config"]  # module-level `from mind.errors import ConfigError`
    assert "mind.benchmarks" in graph["mind.evaluation.runner"]  # function-level `from mind.benchmarks import load_benchmark`
    assert "mind.benchmarks.svamp_multi_teacher" in graph["mind.training.sets"]  # the --data svamp-multi-teacher loader
    assert "mind.training.sets" in graph["mind.training.loop"]
    assert "mind.training.loop" in graph["mind"]  # a lazy face's target: `mind.train`
    assert "app.logs" in graph["app.evaluation"]


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
    """The JSON/JSONL helpers import only mind.errors; the mind.run face re-exports the very same functions."""
    import mind.run as run
    import mind.run.jsonl as io

    assert import_graph()["mind.run.jsonl"] == {"mind.errors"}
    for name in ("write_json_atomic", "write_jsonl_atomic", "append_jsonl", "read_jsonl"):
        assert getattr(run, name) is getattr(io, name), name


# The layers of mind, lowest first. A module may import modules of its own package and of lower layers only;
# packages in one layer (analysis, export, teacher) do not import each other. `mind` itself (the package face,
# mind/__init__.py) sits on top of the library and may name anything.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("mind._lazy", "mind._version", "mind.errors"),
    ("mind.fileio", "mind.hosts", "mind.procs"),  # procs: stopping process groups (mind app, benches, tests)
    ("mind.run",),  # the run directory: files only, no torch
    ("mind.data",),  # the multi-perspective schema, perspectives, prompts
    ("mind.benchmarks",),  # benchmark items, answer extraction
    ("mind.model",),  # student, MetaNet, encoder, losses, checkpoints, forward passes
    ("mind.training",),  # config, the loop
    ("mind.evaluation",),
    ("mind.analysis", "mind.export", "mind.teacher"),
    ("mind.experiment",),
    ("mind.commands",),
    ("mind.cli",),
    ("mind.__main__",),
    ("mind",),
    ("app",),  # the dashboard's modules: above the whole library
)


def unit_of(module: str) -> str:
    """The layer entry a module belongs to (its package, or itself for a top-level module)."""
    units = sorted((u for layer in LAYERS for u in layer), key=len, reverse=True)
    for u in units:
        if module == u or module.startswith(u + "."):
            return u
    raise AssertionError(f"{module} is in no layer of LAYERS; add its package there")


def rank(module: str) -> int:
    u = unit_of(module)
    return next(i for i, layer in enumerate(LAYERS) if u in layer)


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs that go to a higher layer or sideways to another package of the same layer."""
    bad = []
    for a, targets in graph.items():
        for b in targets:
            if unit_of(a) == unit_of(b):
                continue
            if rank(b) >= rank(a):
                bad.append((a, b))
    return sorted(bad)


def test_the_layer_rule_on_a_known_graph():
    graph = {"mind.model.losses": {"mind.training.config", "mind.errors"}, "mind.training.loop": {"mind.model.losses"},
             "mind.analysis.latent": {"mind.export.folder"}, "mind.run.reader": {"mind.run.jsonl"}}
    assert upward_imports(graph) == [("mind.analysis.latent", "mind.export.folder"),
                                     ("mind.model.losses", "mind.training.config")]


def test_every_module_is_in_a_layer_and_imports_only_downward():
    graph = import_graph()
    for name in graph:
        unit_of(name)
    bad = upward_imports(graph)
    assert bad == [], ("imports that go up or sideways between packages (move the shared piece down, or the module "
                       f"to the package it serves): {bad}")


@pytest.mark.parametrize("package", ["mind.run", "mind.data", "mind.benchmarks"])
def test_the_file_and_data_packages_import_no_torch(package):
    """The dashboard lists runs, reads data and benchmarks without torch: those packages must never import it."""
    heavy = {"torch", "transformers", "peft", "accelerate", "sklearn", "umap", "sentence_transformers"}
    for name, path in module_files().items():
        if name == package or name.startswith(package + "."):
            assert not third_party(path) & heavy, f"{name} imports {sorted(third_party(path) & heavy)}"


def test_importing_the_faces_loads_no_torch():
    code = ("import sys, mind, mind.run, mind.data, mind.benchmarks, mind.model, mind.training, mind.evaluation, "
            "mind.export, mind.analysis\nprint(sorted(m for m in ('torch', 'sklearn', 'umap', 'transformers') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


def test_the_dashboard_never_imports_the_cli_or_the_training_loop():
    """The dashboard runs training and evaluation as subprocesses (GUIDE.md section 2): no page or app module imports
    the command line, its commands, or the loop."""
    forbidden = ("mind.cli", "mind.commands", "mind.training.loop")
    known = {n for top in SCANNED for n in module_files(top)}
    files = {**module_files("app"), **{f"pages.{p.stem}": p for p in sorted((ROOT / "pages").glob("*.py"))}}
    for name, path in files.items():
        for target in imported_modules(name, path, known):
            assert not target.startswith(forbidden), f"{name} imports {target}"


def test_public_names_of_the_package_face_resolve():
    import mind

    for name in mind.__all__:
        assert getattr(mind, name) is not None, name
    from mind.training.config import TrainConfig
    from mind.training.loop import train

    assert mind.train is train and mind.TrainConfig is TrainConfig


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
