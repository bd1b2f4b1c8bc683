"""`fcsbe admin stations ...`: load the CSO's station registry into the server's database.

`import FILE` reads a YAML or JSON registry document (see docs/registry.md), checks it completely
and writes it in one transaction: all or nothing, and a second import of the same file changes
nothing. Every problem is printed as `file:line: entry: field: why`, and the exit status is 1.
`scenario NAME` prints the registry of a built-in simulator scenario, a complete example to start
from (the files in `examples/registry/` are made this way). The server extra is imported lazily,
as in `fcsbe.cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from fcsbe.model import RegistryDocument, RegistryImportResult
    from fcsbe.server.settings import Settings

__all__ = ["stations_app"]

stations_app = typer.Typer(help="The station registry (sites, stations, EVSEs, EV models).")


def _counts(result: RegistryImportResult) -> str:
    parts = []
    for name in ("sites", "charging_stations", "evses", "ev_models"):
        c = getattr(result, name)
        removed = f", {c.removed} removed" if c.removed else ""
        parts.append(
            f"{name.replace('_', ' ')}: {c.created} new, {c.updated} updated, "
            f"{c.unchanged} unchanged{removed}"
        )
    return "\n".join(parts)


def _import(document: RegistryDocument, dry_run: bool) -> RegistryImportResult:
    from fcsbe.cli._runtime import run_in_transaction
    from fcsbe.server.services.registry.registry import import_registry

    async def work(session: AsyncSession, _settings: Settings) -> RegistryImportResult:
        result = await import_registry(session, document, dry_run=dry_run)
        if dry_run:
            await session.rollback()
        return result

    return run_in_transaction(work)


@stations_app.command("import")
def import_stations(
    file: Annotated[Path, typer.Argument(help="Registry document, YAML or JSON (.json).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything, write nothing.")
    ] = False,
) -> None:
    """Import a station registry file: all or nothing, idempotent."""
    from fcsbe.server.services.registry.files import format_issue, parse_text
    from fcsbe.server.services.registry.registry import RegistryRejected, parse_document

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"{file}: cannot read: {exc}", err=True)
        raise typer.Exit(2) from exc
    source = parse_text(text, str(file))
    try:
        if source.issues:
            raise RegistryRejected(source.issues)
        document = parse_document(source.data)
        result = _import(document, dry_run)
    except RegistryRejected as exc:
        issues = sorted(exc.issues, key=lambda i: source.line_of(i.pointer) or 0)
        for issue in issues:
            typer.echo(format_issue(source, issue), err=True)
        typer.echo(f"{file}: {len(exc.issues)} problem(s); nothing was imported", err=True)
        raise typer.Exit(1) from None
    verb = "would import" if dry_run else ("imported" if result.changed else "already up to date")
    typer.echo(f"{file}: {verb}\n{_counts(result)}")


@stations_app.command("scenario")
def scenario_registry(
    name: Annotated[str, typer.Argument(help="Scenario name, e.g. demo, uc-1.3, uc-1.6-off-grid.")],
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of printing.")
    ] = None,
) -> None:
    """Print the registry file of a built-in simulator scenario (a complete example)."""
    from fcsbe.server.adapters.scenario_registry import SCENARIO_TITLES, render_registry

    if name not in SCENARIO_TITLES:
        typer.echo(f"unknown scenario {name!r}; one of: {', '.join(SCENARIO_TITLES)}", err=True)
        raise typer.Exit(2)
    rendered = render_registry(name)
    if output is None:
        typer.echo(rendered, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(rendered, encoding="utf-8")
    typer.echo(f"wrote {output}")
