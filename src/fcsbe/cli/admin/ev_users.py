"""`fcsbe admin ev-users ...`: invite EV users to the phone app, list them, erase them (UC 3.6).

The identifier (contract id / EMAID) is given on the command line and kept only as a keyed hash;
the personal link is printed once. Erasure destroys the user's pseudonym key, so what the event
log and the records hold about their sessions can no longer be linked to them.
"""

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

__all__ = ["ev_users_app"]

ev_users_app = typer.Typer(help="EV users of the phone app (/app/).", no_args_is_help=True)


@ev_users_app.command("invite")
def ev_users_invite(
    identifier: Annotated[str, typer.Argument(help="The EV user's contract id / EMAID.")],
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Link lifetime, e.g. 3600, 30m, 12h, 7d.")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="Public URL of the server (default: FCSBE_PUBLIC_BASE_URL)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Print a one-time personal link for an EV user (creating the user on first invitation)."""
    from fcsbe.model import EvUserInviteRequest
    from fcsbe.server.security.pseudonyms import Pseudonymizer
    from fcsbe.server.services.ev_users.access import invite
    from fcsbe.server.storage.base import utcnow

    async def work(session: AsyncSession, settings: Settings) -> tuple[dict[str, object], bool]:
        ttl = parse_duration(expires_in) if expires_in else settings.ev_user_invite_ttl_s
        try:
            body = EvUserInviteRequest(identifier=identifier, expires_in_s=ttl)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        made, created = await invite(
            session,
            body.identifier,
            expires_in_s=body.expires_in_s,
            base_url=base_url or settings.public_base_url or "http://127.0.0.1:8000",
            pseudonyms=Pseudonymizer.load_or_create(settings.data_dir),
            now=utcnow(),
        )
        return made.model_dump(mode="json"), created

    made, created = run_in_transaction(work)
    if as_json:
        print_json(made)
        return
    typer.echo(f"EV user {made['user_id']} {'created' if created else 'known'}")
    typer.echo(f"personal link (shown once, valid until {made['expires_at']}):")
    typer.echo(str(made["invite_url"]))


@ev_users_app.command("list")
def ev_users_list(as_json: JsonOption = False) -> None:
    """List EV users: id, pseudonym and consent level (never their identifier)."""
    from fcsbe.server.services.ev_users.access import list_users

    async def work(session: AsyncSession, _settings: Settings) -> list[dict[str, object]]:
        return await every_item(lambda after, limit: list_users(session, after=after, limit=limit))

    print_rows(
        run_in_transaction(work),
        as_json,
        lambda row: f"{row['user_id']}  {row['subject_ref']}  {row['consent_level']}",
    )


@ev_users_app.command("erase")
def ev_users_erase(
    identifier: Annotated[str, typer.Argument(help="The EV user's contract id / EMAID.")],
    as_json: JsonOption = False,
) -> None:
    """Erase an EV user: destroy their pseudonym key and delete their personal rows."""
    from fcsbe.server.security.pseudonyms import Pseudonymizer
    from fcsbe.server.services.ev_users.access import erase_identifier
    from fcsbe.server.storage.base import utcnow

    async def work(session: AsyncSession, settings: Settings) -> dict[str, object]:
        pseudonyms = Pseudonymizer.load_or_create(settings.data_dir)
        erased = await erase_identifier(session, identifier, pseudonyms, utcnow())
        return erased.model_dump(mode="json")

    erased = run_in_transaction(work)
    if as_json:
        print_json(erased)
        return
    removed = ", ".join(f"{k} {v}" for k, v in sorted(dict(erased["removed"]).items()))  # type: ignore[call-overload]
    typer.echo(f"EV user {erased['user_id']} erased ({removed})")
