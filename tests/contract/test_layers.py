"""The server's layer rules that import-linter cannot see: SQL is built only in `storage/`.

import-linter (`pyproject.toml`) enforces who imports whom; this test reads every server module
and fails when one outside `server/storage/` imports SQLAlchemy's statement builders (`select`,
`update`, `text`, ...): services and the API ask storage functions, so every statement, its
locking and its ordering is found in `storage/`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fcsbe.server

SERVER = Path(fcsbe.server.__file__).parent
_SQL_BUILDERS = frozenset(
    {
        "Table",
        "and_",
        "bindparam",
        "case",
        "delete",
        "exists",
        "func",
        "insert",
        "literal",
        "literal_column",
        "not_",
        "or_",
        "select",
        "text",
        "tuple_",
        "union_all",
        "update",
    }
)


def _builds_sql(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    # `import sqlalchemy as sa` then `sa.select(...)`: the names the module is bound to
    aliases = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name in ("sqlalchemy", "sqlalchemy.sql")
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr in _SQL_BUILDERS
        ):
            return True
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("sqlalchemy.dialects") or node.module == "sqlalchemy.sql":
                return True
            if node.module == "sqlalchemy" and any(a.name in _SQL_BUILDERS for a in node.names):
                return True
    return False


def _offenders() -> set[str]:
    found = set()
    for path in SERVER.rglob("*.py"):
        relative = path.relative_to(SERVER).as_posix()
        if relative.startswith("storage/"):
            continue
        if _builds_sql(path):
            found.add(relative)
    return found


def test_sql_is_built_only_in_storage() -> None:
    found = _offenders()
    assert not found, f"SQL outside server/storage/ (move it into storage there): {sorted(found)}"


def test_the_checker_sees_a_statement_builder(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from sqlalchemy import select, func\n", encoding="utf-8")
    assert _builds_sql(module)
    module.write_text("import sqlalchemy as sa\nq = sa.select(1)\n", encoding="utf-8")
    assert _builds_sql(module)
    module.write_text("from sqlalchemy.ext.asyncio import AsyncSession\n", encoding="utf-8")
    assert not _builds_sql(module)
