"""The package's shape: imports point one way, no private names cross modules, within budget.

The budgets are DESIGN.md's: the core students read (common/, data/, multi_layer_net.py,
training.py) at most 1,500 lines with no threads and nothing imported from the tooling, the
dashboard at most 500, the package at most 4,000 besides the exercise and grading tools, and
no function over 60 lines.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "course_lib"
CORE = ("course_lib.common", "course_lib.data", "course_lib.multi_layer_net", "course_lib.training")
# What the core may import besides itself: the checks of settings, and what a run leaves.
CORE_MAY_IMPORT = ("course_lib.validation", "course_lib.config", "course_lib.history")
# The exercise and grading tools come on top of the package's budget (DESIGN.md).
PRACTICE = ("course_lib.practice",)
BUDGETS = {"core": 1500, "dashboard": 500, "package": 4000}
MAX_FUNCTION_LINES = 60


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


def _lines(names):
    return sum(MODULES[n].read_text(encoding="utf-8").count("\n") for n in names)


def _within(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_core_the_dashboard_and_the_package_keep_their_budgets():
    core = [n for n in MODULES if _within(n, CORE)]
    dashboard = [n for n in MODULES if _within(n, ("course_lib.dashboard",))]
    package = [n for n in MODULES if not _within(n, PRACTICE)]
    counts = {"core": _lines(core), "dashboard": _lines(dashboard), "package": _lines(package)}
    over = {k: f"{counts[k]} > {BUDGETS[k]}" for k in BUDGETS if counts[k] > BUDGETS[k]}
    assert not over, f"over budget (lines): {over}"


def test_the_core_imports_no_tooling_and_starts_no_thread():
    for name in (n for n in MODULES if _within(n, CORE)):
        source = MODULES[name].read_text(encoding="utf-8")
        assert "threading" not in source and "concurrent.futures" not in source, name
        for target, _ in _imports(name, MODULES[name]):
            allowed = _within(target, CORE) or _within(target, CORE_MAY_IMPORT)
            assert allowed, f"the core module {name} imports {target}"


def test_no_function_is_longer_than_60_lines():
    long = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {length} lines")
    assert not long, long


@pytest.mark.parametrize(
    "low, high",
    [
        ("course_lib.common.functions", "course_lib.multi_layer_net"),
        ("course_lib.multi_layer_net", "course_lib.config"),
        ("course_lib.config", "course_lib.training"),
        ("course_lib.config", "course_lib.experiments"),
        ("course_lib.experiments", "course_lib.results"),
        ("course_lib.results", "course_lib.report"),
        ("course_lib.training", "course_lib.dashboard"),
        ("course_lib.data.mnist", "course_lib.dashboard"),
        ("course_lib.report", "course_lib.practice.grading"),
        ("course_lib.coursework", "course_lib.practice.exercises"),
        ("course_lib.common.gradient", "course_lib.practice.probes"),
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


def test_only_the_command_line_imports_the_practice_tools():
    graph = _graph()
    for name, targets in graph.items():
        if not _within(name, PRACTICE) and name != "course_lib.__main__":
            assert not any(_within(t, PRACTICE) for t in targets), f"{name} imports practice"


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
