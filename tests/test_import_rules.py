"""The import rules import-linter cannot state (pyproject.toml holds the ones it can).

- Among the middle apps (one layer of the "app-layers" contract, siblings joined by ':'), any app
  may import another, but never round a cycle.
- No function-level import of a project module: a cycle is fixed by moving the shared piece down
  a layer, not hidden inside a function. The few real reasons are listed in ALLOWED.
"""

from __future__ import annotations

import ast
import itertools
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
APPS: list[str] = CONFIG["root_packages"]
# Application code: every app, and the soak harness beside them. Not tests/ or migrations/.
SCANNED = [*APPS, "tools"]
PROJECT_MODULES = {*APPS, "tools"}

# (file, imported module) -> why the import has to wait until the function runs.
# "*" as the module covers every project import in that file.
ALLOWED: dict[tuple[str, str], str] = {
    # AppConfig.ready(): these modules import models, which Django loads after apps.py; importing
    # them registers webhook handlers and signal receivers.
    ("clientsflow/apps.py", "clientsflow.auth"): "ready() connects the lockout receiver",
    ("leads/apps.py", "leads"): "ready() registers the lead webhook handlers (from leads import webhooks)",
    ("outreach/apps.py", "outreach"): "ready() registers the reply webhook handler",
    ("calls/apps.py", "calls"): "ready() registers the Fireflies and Meet webhook handlers",
    ("billing/apps.py", "billing"): "ready() registers the Stripe webhook handler",
    # The soak sets Django up inside its own process once it has made its private database, so
    # nothing Django-backed can be imported when its modules load.
    ("tools/soak/seed.py", "*"): "Django is set up at run time (django_setup)",
    ("tools/soak/books.py", "*"): "Django is set up at run time (django_setup)",
}


# --- middle apps: no cycle ---------------------------------------------------------------------


def sibling_apps() -> list[str]:
    contract = next(c for c in CONFIG["contracts"] if c["id"] == "app-layers")
    layer = next(layer for layer in contract["layers"] if ":" in layer)
    return [name.strip() for name in layer.split(":")]


def app_cycles(graph: grimp.ImportGraph, apps: Iterable[str]) -> list[list[str]]:
    """Every cycle between the given packages (each cycle once, as a closed path of app names)."""
    apps = sorted(apps)
    edges = {
        a: [b for b in apps if b != a and graph.direct_import_exists(importer=a, imported=b, as_packages=True)]
        for a in apps
    }
    cycles: list[list[str]] = []

    def walk(start: str, path: list[str]) -> None:
        for nxt in edges[path[-1]]:
            if nxt == start:
                cycles.append([*path, start])
            elif nxt not in path and nxt > start:  # start is each cycle's smallest name: found once
                walk(start, [*path, nxt])

    for start in apps:
        walk(start, [start])
    return cycles


def test_middle_apps_import_one_another_without_a_cycle() -> None:
    graph = grimp.build_graph(*APPS, cache_dir=None)
    apps = sibling_apps()
    assert {"outreach", "classify", "bookings", "calls", "billing"} <= set(apps)
    cycles = app_cycles(graph, apps)
    details = []
    for cycle in cycles:
        for importer, imported in itertools.pairwise(cycle):
            chain = graph.find_shortest_chain(importer=importer, imported=imported, as_packages=True)
            details.append(f"{' -> '.join(cycle)}: {importer} -> {imported} via {' -> '.join(chain or ())}")
    assert not cycles, "Import cycle between apps:\n" + "\n".join(details)


def test_the_cycle_check_finds_a_cycle_between_apps() -> None:
    graph = grimp.ImportGraph()
    graph.add_import(importer="billing.services", imported="outreach.review")
    graph.add_import(importer="outreach.review", imported="calls.models")
    graph.add_import(importer="calls.models", imported="billing.models")
    graph.add_import(importer="bookings.views", imported="billing.models")
    for package in ("billing", "outreach", "calls", "bookings"):
        graph.add_module(package)

    assert app_cycles(graph, ["billing", "bookings", "calls", "outreach"]) == [
        ["billing", "outreach", "calls", "billing"]
    ]


# --- no function-level imports of our own modules -------------------------------------------------


def function_level_imports(source: str) -> Iterator[tuple[int, str]]:
    """(line, module) for each import of a project module made inside a function."""
    tree = ast.parse(source)
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # a relative import is always one of ours
                    yield node.lineno, "." * node.level + (node.module or "")
                    continue
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                if module.split(".")[0] in PROJECT_MODULES:
                    yield node.lineno, module


def application_files() -> Iterator[Path]:
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:
                yield path


def test_no_function_level_import_of_a_project_module() -> None:
    found: set[tuple[str, str]] = set()
    refused: list[str] = []
    for path in application_files():
        relative = path.relative_to(ROOT).as_posix()
        # A function nested in another is walked from both: one report per line.
        for line, module in sorted(set(function_level_imports(path.read_text(encoding="utf-8")))):
            key = (relative, "*") if (relative, "*") in ALLOWED else (relative, module)
            found.add(key)
            if key not in ALLOWED:
                refused.append(f"{relative}:{line} imports {module} inside a function")
    assert not refused, (
        "Import it at the top of the module; if that makes a cycle, move the shared piece down a layer:\n"
        + "\n".join(refused)
    )
    stale = sorted(set(ALLOWED) - found)
    assert not stale, f"Allowed but no longer there, remove from ALLOWED: {stale}"


def test_the_scan_sees_an_import_inside_a_function() -> None:
    source = (
        "import json\n"
        "from leads.models import Lead\n"
        "def f():\n"
        "    import json\n"
        "    try:\n"
        "        from calls.tasks import sync_call_to_notion\n"
        "    except ImportError:\n"
        "        pass\n"
        "    from . import models\n"
        "class C:\n"
        "    async def g(self):\n"
        "        import billing.money\n"
    )
    assert sorted(set(function_level_imports(source))) == [
        (6, "calls.tasks"),
        (9, "."),
        (12, "billing.money"),
    ]


@pytest.mark.parametrize("key", sorted(ALLOWED))
def test_every_allowance_says_why(key: tuple[str, str]) -> None:
    assert ALLOWED[key].strip()
    assert (ROOT / key[0]).is_file()
