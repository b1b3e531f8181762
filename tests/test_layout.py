"""The layout shows the architecture: no module imports one of its importers (directly or through
others, at module level or inside a function), and modules and functions stay small."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def modules() -> dict[str, Path]:
    out = {}
    for p in sorted((ROOT / "netlab").rglob("*.py")) + sorted((ROOT / "cli").rglob("*.py")):
        rel = p.relative_to(ROOT)
        if rel.parts[0] == "cli":
            name = "netlab.cli" + ("" if p.stem == "__init__" else "." + p.stem)
        else:
            name = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        out[name] = p
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rsplit(".", 1)[0]
            target = (base + "." + node.module if node.module else base) if node.level else (
                node.module or "")  # fmt: skip
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in known else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in known and m not in (name, "netlab")}


def test_no_import_cycles():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    cycles = []

    def visit(node, stack, done):
        if node in stack:
            cycles.append(stack[stack.index(node) :] + [node])
            return
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, stack + [node], done)
        done.add(node)

    done: set[str] = set()
    for name in sorted(graph):
        visit(name, [], done)
    assert cycles == [], cycles[:3]


def test_modules_stay_small():
    too_long = {str(p.relative_to(ROOT)): n for p in modules().values()
                if (n := len(p.read_text().splitlines())) > 350}  # fmt: skip
    assert too_long == {}


def test_functions_stay_short():
    """No function or method in netlab/ or cli/ is longer than 60 lines (def to last line, as ast
    counts them, decorators aside; nested functions count on their own and inside their parent)."""
    too_long = {}
    for path in modules().values():
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > 60:
                    too_long[f"{rel}:{node.lineno} {node.name}"] = n
    assert too_long == {}
