"""`fcsbe admin stations ...`: load the CSO's station registry into the server's database.

`import FILE` reads a YAML or JSON registry document (see docs/registry.md), checks it completely
and writes it in one transaction: all or nothing, and a second import of the same file changes
nothing. Every problem is printed as `file:line: entry: field: why`, and the exit status is 1.
`scenario NAME` prints the registry of a built-in simulator scenario, a complete example to start
from (the files in `examples/registry/` are made this way). `set-password` issues OCPP station
passwords (security profiles 1 and 2): shown once, stored as hashes. The server extra is
imported lazily, as in `fcsbe.cli`.
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


def _issue(ids: list[str], every: bool, missing: bool, unregistered: bool) -> dict[str, str]:
    from fcsbe.cli._runtime import run_in_transaction
    from fcsbe.server.adapters.ocpp.provisioning import issue_passwords
    from fcsbe.server.storage.ocpp_stations import credential_hashes, registry_stations

    async def work(session: AsyncSession, _settings: Settings) -> dict[str, str]:
        registered = [cs_id for cs_id, _site in await registry_stations(session)]
        chosen = registered if every or missing else ids
        unknown = sorted(set(chosen) - set(registered))
        if unknown and not unregistered:
            typer.echo(
                f"not in the registry: {', '.join(unknown)} (import it first, or pass "
                "--unregistered for a station held as Pending until it is)",
                err=True,
            )
            raise typer.Exit(1)
        if missing:
            have = await credential_hashes(session, chosen)
            chosen = [cs_id for cs_id in chosen if cs_id not in have]
        return await issue_passwords(session, chosen)

    return run_in_transaction(work)


@stations_app.command("set-password")
def set_password(
    station_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Station ids (the OCPP identity, last segment of /ocpp/{id})."),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every station of the registry (replaces passwords).")
    ] = False,
    missing: Annotated[
        bool, typer.Option("--missing", help="Every registry station that has no password yet.")
    ] = False,
    password_file: Annotated[
        Path | None,
        typer.Option(
            "--password-file",
            help="Add the new passwords to this JSON file {station_id: password} (mode 0600) "
            "instead of printing them; `fcsbe stations simulate --password-file` reads it.",
        ),
    ] = None,
    unregistered: Annotated[
        bool,
        typer.Option(
            "--unregistered",
            help="Allow ids the registry does not name (FCSBE_OCPP_UNKNOWN_STATIONS=pending).",
        ),
    ] = False,
) -> None:
    """Give OCPP stations fresh random passwords (HTTP Basic, username = station id).

    Each password is shown once (or written to --password-file) and stored only as a hash;
    a station's previous password stops working at once."""
    from fcsbe.server.adapters.ocpp.provisioning import read_password_file, write_password_file

    ids = list(station_ids or [])
    if not ids and not (every or missing):
        typer.echo("name station ids, or pass --all or --missing", err=True)
        raise typer.Exit(2)
    issued = _issue(ids, every, missing, unregistered)
    if password_file is None:
        for cs_id, password in issued.items():
            typer.echo(f"{cs_id} {password}")
        return
    try:
        known = read_password_file(password_file)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    write_password_file(password_file, {**known, **issued})
    typer.echo(f"{len(issued)} password(s) written to {password_file}")
