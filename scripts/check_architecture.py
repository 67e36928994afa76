#!/usr/bin/env python3
"""Checks the house rules of docs/architecture.md mechanically; prints one line per violation.

1. No import circles anywhere in bot/ (every import counts, also those inside functions).
2. Handlers, jobs and the web routes contain no SQL and open no database session.
3. No string literal is compared with, or written as, a complaint status or an outbox state
   outside the enum modules (bot/domain/) and the migrations.
6. bot/domain/ and bot/routing.py import nothing from telegram, tweepy, sqlalchemy (or HTTP clients),
   and nothing of bot/ outside bot/domain/.

Exit status 0 when clean, 1 with violations. `--root DIR` checks another tree (the tests use it to
show that each rule fails on a planted violation).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FRAMEWORKS = frozenset({"telegram", "tweepy", "sqlalchemy", "requests", "httpx", "aiohttp", "urllib3"})
# Values of bot.domain.lifecycle.Status and of the outbox enums in bot.domain.outbox. Kept here as
# data (not imported) so the checker also runs on a tree that does not import.
STATUS_WORDS = frozenset({"new", "triage", "routed", "claimed", "drafted", "approved", "answered", "closed",
                          "dismissed"})
STATE_WORDS = frozenset({"pending", "sending", "sent", "parked", "failed", "cancelled", "retired", "draft",
                         "unknown", "posted", "rejected"})
WORDS = STATUS_WORDS | STATE_WORDS
STATE_FIELDS = frozenset({"state", "status", "from_status", "to_status"})
# Where the words are defined (the enums), and emulators of other systems that speak their own words.
WORD_EXEMPT = ("domain/", "sandbox/")
THIN = ("handlers/", "jobs/", "web/")  # the adapters: no SQL, no session of their own
SESSION_NAMES = frozenset({"unit_of_work", "AsyncSession", "make_sessionmaker", "begin"})
# Modules that hand out sessions or run SQL by themselves.
DATA_MODULES = frozenset({"bot.db", "bot.repository"})
SQL_BUILDERS = frozenset({"select", "insert", "update", "delete", "text"})
SESSION_METHODS = frozenset({"execute", "scalar", "scalars", "flush", "commit"})
# What the thin layers may take from bot.db: classifying a storage failure is not running SQL.
DB_ALLOWED = frozenset({"is_storage_failure", "StorageUnavailable"})


@dataclass(frozen=True)
class Violation:
    rule: int
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: rule {self.rule}: {self.what}"


def module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in the file, relative ones resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            yield base, node.lineno
            # `from bot import jobs` imports the module bot.jobs.
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _is_word(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in WORDS


def _words_in(node: ast.AST) -> list[str]:
    if _is_word(node):
        return [node.value]  # type: ignore[attr-defined]
    if isinstance(node, ast.IfExp):
        return _words_in(node.body) + _words_in(node.orelse)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [e.value for e in node.elts if _is_word(e)]  # type: ignore[attr-defined]
    return []


def _field(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def word_violations(tree: ast.AST, rel: str) -> Iterator[Violation]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            fields = {_field(s) for s in sides}
            if fields & STATE_FIELDS or any(isinstance(s, ast.Attribute) and s.attr in STATE_FIELDS for s in sides):
                for side in sides:
                    for word in _words_in(side):
                        yield Violation(3, rel, node.lineno, f'"{word}" compared as a string; use the enum member')
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "in_":
            target = node.func.value
            if _field(target) in STATE_FIELDS:
                for arg in node.args:
                    for word in _words_in(arg):
                        yield Violation(3, rel, node.lineno, f'"{word}" in an SQL IN list; use the enum member')
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            for target in targets:
                pairs: list[tuple[ast.AST, ast.AST]] = []
                if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
                    pairs = list(zip(target.elts, value.elts, strict=False))
                elif value is not None:
                    pairs = [(target, value)]
                for t, v in pairs:
                    if _field(t) in STATE_FIELDS:
                        for word in _words_in(v):
                            yield Violation(3, rel, node.lineno, f'"{word}" written as a string; use the enum member')
        elif isinstance(node, ast.keyword) and node.arg in STATE_FIELDS:
            for word in _words_in(node.value):
                yield Violation(3, rel, node.value.lineno, f'{node.arg}="{word}" as a string; use the enum member')
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=False):
                if k is not None and isinstance(k, ast.Constant) and k.value in STATE_FIELDS:
                    for word in _words_in(v):
                        yield Violation(3, rel, v.lineno, f'"{k.value}": "{word}" as a string; use the enum member')


def thin_violations(tree: ast.AST, rel: str) -> Iterator[Violation]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.module in DATA_MODULES and all(
                    a.name in DB_ALLOWED for a in node.names):
                continue
            for name in names:
                if name.split(".")[0] == "sqlalchemy" or name in DATA_MODULES:
                    yield Violation(2, rel, node.lineno, f"imports {name}: SQL belongs in a use case or a query")
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name in SESSION_NAMES or f"{node.module}.{alias.name}" in DATA_MODULES:
                        yield Violation(2, rel, node.lineno, f"imports {alias.name}: sessions open in use cases")
        elif isinstance(node, ast.Call):
            # svc.sessions() / sessions() opens a session; passing the factory to a use case does not.
            if _field(node.func) == "sessions":
                yield Violation(2, rel, node.lineno, "opens a database session: that is a use case's or a query's job")
            elif _field(node.func) in SESSION_NAMES:
                yield Violation(2, rel, node.lineno, f"calls {_field(node.func)}: transactions open in use cases")
            elif (isinstance(node.func, ast.Name) and node.func.id in SQL_BUILDERS) or (
                    isinstance(node.func, ast.Attribute) and node.func.attr in SESSION_METHODS):
                yield Violation(2, rel, node.lineno, f"runs SQL ({_field(node.func)}): use a query or a use case")


def check(root: Path) -> list[Violation]:
    bot = root / "bot"
    violations: list[Violation] = []
    graph: dict[str, set[str]] = {}
    modules = {module_name(root, p) for p in bot.rglob("*.py")}
    for path in sorted(bot.rglob("*.py")):
        rel = path.relative_to(bot).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        name = module_name(root, path)
        deps: set[str] = set()
        for imported, line in imports_of(tree, name, path.name == "__init__.py"):
            if imported in modules and imported != name:
                deps.add(imported)
            pure = rel.startswith("domain/") or rel == "routing.py"
            if pure:
                top = imported.split(".")[0]
                if top in FRAMEWORKS:
                    violations.append(Violation(6, f"bot/{rel}", line, f"imports {imported}: the domain is pure"))
                elif top == "bot" and imported in modules and not imported.startswith("bot.domain"):
                    violations.append(Violation(6, f"bot/{rel}", line,
                                                f"imports {imported}: the domain imports only bot.domain"))
        # A package's __init__ is not a dependency of its own modules for circle purposes.
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
        if rel.startswith(THIN):
            violations.extend(Violation(v.rule, f"bot/{v.path}", v.line, v.what) for v in thin_violations(tree, rel))
        if not rel.startswith(WORD_EXEMPT):
            violations.extend(Violation(v.rule, f"bot/{v.path}", v.line, v.what) for v in word_violations(tree, rel))
    for cycle in _cycles(graph):
        violations.append(Violation(1, "bot/", 0, "import circle: " + " ⇄ ".join(cycle)))
    return sorted(violations, key=lambda v: (v.rule, v.path, v.line))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = ap.parse_args(argv)
    found = check(args.root)
    for v in found:
        print(v)
    if found:
        print(f"{len(found)} architecture violation(s)", file=sys.stderr)
        return 1
    print("architecture: rules 1, 2, 3 and 6 hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
