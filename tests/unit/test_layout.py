"""The rooms follow the pipeline and imports only run downward (the README's layout table).

Every module of every room is read (``ast``, imports inside functions included) and each
import of another room checked against what its room may import. The README's table is
checked against the tree: a room added or removed must be written there too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
# What each room may import, besides itself: the README's "imports from" column.
MAY_IMPORT: dict[str, set[str]] = {
    "base": set(),
    "schemas": {"base"},
    "readmodel": {"base"},
    "producers": {"base", "schemas"},
    "streams": {"base", "schemas"},
    "sink": {"base", "schemas", "readmodel"},
    "query": {"base", "schemas", "readmodel", "producers"},
    "benchmarks": {"base", "schemas", "readmodel", "producers", "streams", "sink", "query"},
    "zjcredit": {"base", "schemas", "readmodel", "producers", "streams", "sink", "query",
                 "benchmarks"},
}  # fmt: skip


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def _strings(path: Path) -> set[str]:
    """``python -m room.module`` and friends: names of real modules in string constants
    (a logger's name, ``zjcredit.worker``, is not one)."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    pattern = re.compile(rf"^({'|'.join(MAY_IMPORT)})\.\w+$")
    names = {n.value for n in ast.walk(tree)
             if isinstance(n, ast.Constant) and isinstance(n.value, str) and pattern.match(n.value)}  # fmt: skip
    return {n for n in names if (ROOT / (n.replace(".", "/") + ".py")).exists()}


def test_every_import_runs_downward() -> None:
    wrong = []
    for room, allowed in MAY_IMPORT.items():
        for path in sorted((ROOT / room).rglob("*.py")):
            for name in _imports(path) | _strings(path):
                target = name.split(".")[0]
                if target in MAY_IMPORT and target != room and target not in allowed:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name} ({room} -> {target})")
    assert wrong == [], "\n".join(wrong)


def test_the_readme_layout_table_is_the_tree() -> None:
    text = (ROOT / "README.md").read_text("utf-8")
    section = text[text.index("## Layout") :]
    rows = re.findall(r"^\| `([\w./]+?)/?` \| ([^|]*) \|", section, re.M)
    listed = {folder for folder, _ in rows}
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages <= listed, f"rooms missing from the README's table: {packages - listed}"
    for folder, imports in rows:
        if folder in MAY_IMPORT:
            said = set(re.findall(r"\w+", imports)) & set(MAY_IMPORT)
            assert said == MAY_IMPORT[folder], (folder, imports)
    assert MAY_IMPORT.keys() <= packages, "a room in this test that the tree does not have"
