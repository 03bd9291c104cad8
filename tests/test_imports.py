"""The package's import graph has no cycles — module-level or inside functions — so that every
module can be read (and imported) after the ones it uses, and the folder tree is the layering:
energies/dynamics -> models -> checkpoint -> memory, registry (the public API) -> meta (trainer) -> evaluation -> cli."""

import ast
from pathlib import Path

import ebmm

ROOT = Path(ebmm.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = ["ebmm", *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def import_graph() -> dict[str, set[str]]:
    """``module -> the ebmm modules it imports`` (every import statement, at any depth)."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = (".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
                        if node.level else (node.module or ""))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t.startswith("ebmm") and t != name and not name.startswith(t + "."):
                    deps.add(t)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 40 and "ebmm.models.ebmm" in graph["ebmm.models"]  # the walk sees the package
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_layers_point_one_way():
    graph = import_graph()
    below = {"ebmm.energies", "ebmm.dynamics", "ebmm.models"}
    for name, deps in graph.items():
        if any(name == b or name.startswith(b + ".") for b in below):
            upward = {d for d in deps if d.startswith(("ebmm.checkpoint", "ebmm.memory", "ebmm.registry", "ebmm.meta", "ebmm.cli",
                                                       "ebmm.evaluation"))}
            assert not upward, f"{name} imports {upward} from a layer above it"


def test_the_public_memory_sits_on_one_floor_above_the_models_and_checkpoints():
    """``memory`` (every memory's one class) and ``registry`` (``load``) import the models and
    checkpoints, never the trainer, the evaluation or the CLI; checkpoints import no memory."""
    graph = import_graph()
    for name in ("ebmm.memory", "ebmm.registry"):
        upward = {d for d in graph[name] if d.startswith(("ebmm.meta", "ebmm.cli", "ebmm.evaluation"))}
        assert not upward, f"{name} imports {upward} from a layer above it"
    assert "ebmm.checkpoint" in graph["ebmm.memory"] and "ebmm.models.hopfield" in graph["ebmm.memory"]
    assert not {d for d in graph["ebmm.checkpoint"] if d.startswith(("ebmm.memory", "ebmm.registry", "ebmm.meta"))}


def _resolves(dotted: str) -> bool:
    """Whether ``ebmm.a.b.c`` names something: each part an attribute of what precedes it, or else
    a submodule to import. (Attributes first: importing ``ebmm.pretrained`` — a data folder —
    would make it a namespace package that shadows the function ``ebmm.pretrained``.)"""
    import importlib

    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for k in range(1, len(parts)):
        if hasattr(obj, parts[k]):
            obj = getattr(obj, parts[k])
            continue
        try:
            obj = importlib.import_module(".".join(parts[: k + 1]))
        except ModuleNotFoundError:
            return False
    return True


def test_every_dotted_ebmm_name_in_the_sources_and_docs_exists():
    """Docstrings and documents that name ``ebmm.x.y`` name something that is there (they once
    pointed at ``ebmm.baselines.memory_networks`` long after it moved to ``ebmm.models``)."""
    import re

    repo = ROOT.parents[1]
    files = [*ROOT.rglob("*.py"), *(repo / "tests").glob("*.py"), *(repo / "benchmarks").glob("*.py"),
             *repo.glob("*.md"), *(repo / "benchmarks").glob("*.md")]
    name = re.compile(r"(?<![\w/.-])ebmm(?:\.[A-Za-z_]\w*)+")
    stale = set()
    for path in files:
        if path.resolve() == Path(__file__).resolve():
            continue  # this test's own examples
        for match in name.finditer(path.read_text(encoding="utf-8")):
            dotted = match.group(0)
            if dotted.rsplit(".", 1)[1] in ("py", "md", "json", "sh", "png", "safetensors"):
                continue  # a file name such as ebmm.py
            if not _resolves(dotted):
                stale.add(f"{path.relative_to(repo)}: {dotted}")
    assert not stale, sorted(stale)
