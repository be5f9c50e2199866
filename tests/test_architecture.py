"""The package's shape: imports point one way, no private names cross modules, small modules."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "course_lib"
MAX_LINES = 400


def _modules():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imports(name, path):
    """(module imported, names taken from it) for every course_lib import in a module."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("course_lib")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rsplit(".", 1)[0]
                target = base + (f".{node.module}" if node.module else "")
            else:
                target = node.module or ""
            if not target.startswith("course_lib"):
                continue
            names = [a.name for a in node.names]
            # "from course_lib import plots" imports the module course_lib.plots.
            submodules = [n for n in names if f"{target}.{n}" in MODULES]
            found += [(f"{target}.{n}", []) for n in submodules]
            rest = [n for n in names if n not in submodules]
            if rest:
                found.append((target, rest))
    return found


def _graph():
    return {
        name: {target for target, _ in _imports(name, path) if target != name}
        for name, path in MODULES.items()
    }


def test_there_is_no_import_cycle():
    graph = _graph()
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if nxt not in MODULES:
                continue
            if state.get(nxt) == "open":
                cycle = trail[trail.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for name in sorted(MODULES):
        if name not in state:
            visit(name, [name])


def test_no_module_imports_a_private_name_of_another():
    offenders = []
    for name, path in MODULES.items():
        for target, names in _imports(name, path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target != name:
                offenders.append(f"{name} takes {private} from {target}")
    assert not offenders, offenders


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_are_small(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


@pytest.mark.parametrize(
    "low, high",
    [
        ("course_lib.common.functions", "course_lib.multi_layer_net"),
        ("course_lib.multi_layer_net", "course_lib.config"),
        ("course_lib.config", "course_lib.training"),
        ("course_lib.training", "course_lib.experiments"),
        ("course_lib.experiments", "course_lib.results"),
        ("course_lib.results", "course_lib.report"),
        ("course_lib.training", "course_lib.dashboard"),
        ("course_lib.data.mnist", "course_lib.config"),
    ],
)
def test_layers_import_downward_only(low, high):
    graph = _graph()

    def reaches(start, goal, seen=()):
        return start == goal or any(
            reaches(n, goal, (*seen, start)) for n in graph.get(start, ()) if n not in seen
        )

    assert reaches(high, low), f"{high} should build on {low}"
    assert not reaches(low, high), f"{low} must not import {high}"


def test_notebooks_import_nothing_about_the_report():
    import json

    for path in sorted((PACKAGE.parent / "notebooks").glob("*.ipynb")):
        code = "\n".join(
            "".join(c["source"])
            for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code"
        )
        for word in ("course_lib.report", "course_lib.results", "record(", "RESULTS_DIR"):
            assert word not in code, f"{path.name} uses {word}"
