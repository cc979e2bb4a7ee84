"""The package's dependency rules: no import cycle at all, and layers that only import downwards.

Every import counts, including those inside functions and under
``TYPE_CHECKING``: an AST walk over every module of ``sbws`` and ``engine``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Highest first: a module may import only from its own part or from parts listed after it.
LAYERS = (
    "sbws.__main__",
    "sbws.cli",
    "sbws.client",
    "sbws.backtest",
    "sbws.value_report",
    "sbws.value_backtest",
    "sbws.season_report",
    "sbws.server",
    "sbws.node",
    "sbws.service",
    "sbws.alerts",
    "sbws.cluster",
    "sbws.fanout",
    "sbws.signals",
    "sbws.feeds",
    "sbws.wire",
    "sbws.history",
    "sbws.ledger",
    "sbws.market",
    "sbws.observability",
    "sbws.settings",
    "sbws.tasks",
    "sbws.clock",
    "sbws.errors",
    "sbws",
    "engine",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in ("sbws", "engine"):
        for path in (ROOT / package).rglob("*.py"):
            found[module_name(path)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of ours that ``name`` imports, wherever the import statement stands."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def layer(name: str) -> int:
    for index, prefix in enumerate(LAYERS):
        if name == prefix or name.startswith(prefix + "."):
            return index
    raise AssertionError(f"{name} is in no layer; add it to LAYERS")


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
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
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_function_level_and_type_checking_imports():
    sample = ROOT / "sbws" / "feeds" / "factory.py"
    known = set(modules())
    assert "sbws.feeds.simulator" in imports_of("sbws.feeds.factory", sample, known)
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_layers_import_only_downwards():
    wrong = [
        f"{source} imports {target}"
        for source, targets in graph().items()
        for target in targets
        if layer(target) < layer(source)
    ]
    assert wrong == []


def test_engine_never_imports_sbws():
    assert [f"{s} -> {t}" for s, ts in graph().items() if s.startswith("engine") for t in ts if t.startswith("sbws")] == []


def test_only_the_server_imports_aiohttp_web_and_only_the_adapter_its_internals():
    web_users, internal_users = set(), set()
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "aiohttp" and any(a.name == "web" for a in node.names):
                web_users.add(name)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if any(m.startswith("aiohttp._") for m in mods):
                    internal_users.add(name)
    assert web_users and all(n.startswith("sbws.server.") for n in web_users), web_users
    assert internal_users == {"sbws.server.adapter"}


def test_the_client_imports_nothing_of_the_server():
    """``sbws.client`` can be copied or installed alone: it imports only its own modules (and no engine)."""
    edges = graph()
    outside = {(name, target) for name, targets in edges.items() if name.startswith("sbws.client")
               for target in targets if not target.startswith("sbws.client")}
    assert outside == set()


def test_every_package_is_shipped():
    """A package missing from setup.cfg works in the checkout and breaks the wheel and the binary."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    shipped = set(cfg["options"]["packages"].split())
    found = {module_name(p.parent) for p in (ROOT / "sbws").rglob("__init__.py") if "static" not in p.parts}
    found |= {"engine"}
    assert found - shipped == set()
