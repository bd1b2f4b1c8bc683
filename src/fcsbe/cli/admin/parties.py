"""Admin commands for the server party, operator tokens, enrolment tokens and enrolments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from fcsbe.cli._runtime import (
    JsonOption,
    every_item,
    parse_duration,
    print_json,
    print_rows,
    run_in_transaction,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from fcsbe.server.settings import Settings

__all__ = ["enrolments_app", "operator_app", "party_app", "token_app"]

party_app = typer.Typer(help="The CSO/CSP party this server acts for.", no_args_is_help=True)
operator_app = typer.Typer(help="Operator credentials (for /admin/v1).", no_args_is_help=True)
token_app = typer.Typer(help="One-time enrolment tokens for aggregators.", no_args_is_help=True)
enrolments_app = typer.Typer(help="Enrolled aggregators.", no_args_is_help=True)


@party_app.command("init")
def party_init(
    party_id: Annotated[str, typer.Option(help="Your party id (e.g. NL-ABC).")],
    name: Annotated[str, typer.Option(help="Registered legal name.")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 country, e.g. NL.")],
    role: Annotated[
        list[str] | None, typer.Option(help="Role(s): CSO, CSP, H_CSP, V_CSO, EC, ...")
    ] = None,
) -> None:
    """Create this server's party and signing key (prints an operator token the first time)."""
    from fcsbe.model import PartyRole
    from fcsbe.server.security.keys import ServerKeys
    from fcsbe.server.services.enrolments.parties import create_operator_token, init_server_party
    from fcsbe.server.storage.base import utcnow

    try:
        roles = [PartyRole(r.upper()) for r in (role or ["CSO"])]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from exc

    async def work(session: AsyncSession, settings: Settings) -> tuple[bool, str | None, str]:
        keys = ServerKeys.load_or_create(settings.data_dir)
        _party, created = await init_server_party(
            session,
            party_id=party_id,
            legal_name=name,
            country=country.upper(),
            roles=roles,
            keys=keys,
            now=utcnow(),
        )
        token = await create_operator_token(session, now=utcnow()) if created else None
        return created, token.token if token else None, keys.kid

    created, token, kid = run_in_transaction(work)
    typer.echo(f"party {party_id} {'created' if created else 'updated'}; signing key {kid}")
    if token:
        typer.echo("operator token (shown once, keep it secret):")
        typer.echo(token)


@party_app.command("show")
def party_show() -> None:
    """Print the server party with its public keys (as published at GET /v1)."""
    from fcsbe.server.services.enrolments.parties import party_model, require_server_party

    async def work(session: AsyncSession, _settings: Settings) -> object:
        party = await require_server_party(session)
        return party_model(party).model_dump(mode="json", exclude_none=True)

    print_json(run_in_transaction(work))


@party_app.command("rotate-key")
def party_rotate_key() -> None:
    """Make a new signing key; the old public key stays published so old signatures verify."""
    from fcsbe.server.security.keys import ServerKeys
    from fcsbe.server.services.enrolments.parties import publish_server_keys, require_server_party

    async def work(session: AsyncSession, settings: Settings) -> str:
        await require_server_party(session)
        keys = ServerKeys.load_or_create(settings.data_dir).rotate(settings.data_dir)
        await publish_server_keys(session, keys)
        return keys.kid

    typer.echo(f"active signing key {run_in_transaction(work)}")


@operator_app.command("create")
def operator_token_create(
    ttl: Annotated[str | None, typer.Option(help="Lifetime, e.g. 90d; default none.")] = None,
) -> None:
    """Make an operator credential; the token is printed once."""
    from fcsbe.server.services.enrolments.parties import create_operator_token
    from fcsbe.server.storage.base import utcnow

    seconds = parse_duration(ttl) if ttl else None

    async def work(session: AsyncSession, _settings: Settings) -> tuple[str, str]:
        issued = await create_operator_token(session, now=utcnow(), ttl_s=seconds)
        return issued.credential_id, issued.token

    credential_id, token = run_in_transaction(work)
    typer.echo(f"operator credential {credential_id}; token (shown once, keep it secret):")
    typer.echo(token)


@operator_app.command("list")
def operator_token_list() -> None:
    """List operator credentials (never their secrets)."""
    from fcsbe.server.services.enrolments.parties import list_operator_tokens

    async def work(session: AsyncSession, _settings: Settings) -> list[str]:
        rows = await list_operator_tokens(session)
        return [
            f"{r.credential_id}  created {r.created_at:%Y-%m-%d %H:%M}  "
            f"{'revoked' if r.revoked_at else 'active'}"
            for r in rows
        ]

    for line in run_in_transaction(work):
        typer.echo(line)


@operator_app.command("revoke")
def operator_token_revoke(credential_id: str) -> None:
    """Revoke an operator credential at once."""
    from fcsbe.server.services.enrolments.parties import revoke_operator_token
    from fcsbe.server.storage.base import utcnow

    async def work(session: AsyncSession, _settings: Settings) -> None:
        await revoke_operator_token(session, credential_id, now=utcnow())

    run_in_transaction(work)
    typer.echo(f"revoked {credential_id}")


@token_app.command("create")
def enrolment_token_create(
    fo_name: Annotated[str, typer.Option("--fo-name", help="Who the token is for.")],
    ttl: Annotated[str | None, typer.Option(help="Lifetime, e.g. 7d (default 7 days).")] = None,
    party_id: Annotated[
        str | None, typer.Option(help="Bind to this FO party id (needed to re-enrol it).")
    ] = None,
    scope: Annotated[list[str] | None, typer.Option(help="Scope to grant (default all).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a one-time enrolment token; hand it to the aggregator out of band."""
    from pydantic import ValidationError

    from fcsbe.model import EnrolmentTokenRequest
    from fcsbe.server.services.enrolments.tokens import issue_enrolment_token
    from fcsbe.server.storage.base import utcnow

    try:
        request = EnrolmentTokenRequest(
            fo_name=fo_name,
            ttl_s=parse_duration(ttl) if ttl else None,
            party_id=party_id,
            scopes=scope,
        )
    except ValidationError as exc:
        raise typer.BadParameter(exc.errors()[0]["msg"]) from exc

    async def work(session: AsyncSession, settings: Settings) -> object:
        token = await issue_enrolment_token(session, request, now=utcnow(), settings=settings)
        return token.model_dump(mode="json")

    issued = run_in_transaction(work)
    assert isinstance(issued, dict)
    if as_json:
        print_json(issued)
        return
    typer.echo(
        f"enrolment token {issued['token_id']} for {fo_name}, expires {issued['expires_at']}"
    )
    typer.echo("token (shown once; hand it over out of band):")
    typer.echo(issued["token"])


@enrolments_app.command("list")
def enrolments_list(
    status: Annotated[str | None, typer.Option(help="ACTIVE, SUSPENDED or REVOKED.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List enrolled aggregators."""
    from fcsbe.server.services.enrolments.enrolments import list_enrolments

    async def work(session: AsyncSession, _settings: Settings) -> list[dict[str, object]]:
        wanted = status.upper() if status else None
        return await every_item(
            lambda after, limit: list_enrolments(session, after=after, limit=limit, status=wanted)
        )

    print_rows(run_in_transaction(work), as_json, _enrolment_line)


def _enrolment_line(row: dict[str, object]) -> str:
    """One enrolment in `fcsbe admin enrolments list`: who, its status, when last heard of."""
    seen = row["last_heartbeat_at"] or "never"
    offline = f"  OFFLINE since {row['offline_since']}" if row["offline_since"] else ""
    return (
        f"{row['enrolment_id']}  {row['fo_party_id']}  {row['status']}  last heartbeat {seen}"
        + offline
    )


@enrolments_app.command("revoke")
def enrolments_revoke(enrolment_id: str) -> None:
    """Revoke an aggregator at once: its credentials stop working, its contracts end."""
    from fcsbe.server.services.enrolments.enrolments import revoke_enrolment
    from fcsbe.server.storage.base import utcnow

    async def work(session: AsyncSession, _settings: Settings) -> None:
        await revoke_enrolment(session, enrolment_id, now=utcnow(), by="OPERATOR")

    run_in_transaction(work)
    typer.echo(f"revoked {enrolment_id}")
