"""`fcsbe stations simulate`: the simulator's fleet as OCPP charging stations (`fcsbe.chargers`).

Every station of a scenario connects to a CSMS (the FCSBE's own OCPP endpoint, or any other) over
its own WebSocket, with the version's subprotocol and, when a password is given, HTTP Basic
auth; the physics runs on the wall clock from now, as under `fcsbe serve`. The station ids and
EVSE numbers are those of the scenario's registry (`fcsbe admin stations scenario NAME`), so a
server whose registry holds that scenario recognises them. Only typer is imported at module
level, so `fcsbe --help` stays fast.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fcsbe.chargers import ChargerFleet

__all__ = ["stations_sim_app"]

stations_sim_app = typer.Typer(help="Simulated charging stations that speak OCPP to a CSMS.")

VERSIONS = ("2.1", "2.0.1", "1.6")


PASSWORD_FILE_WAIT_S = 60.0
"""How long to wait for a password file that does not exist yet: the try-out starts the server
and the chargers together, and the server writes `FCSBE_OCPP_PASSWORD_FILE` once its registry
is loaded, some seconds after it starts."""


def _passwords(path: Path | None, wait_s: float = PASSWORD_FILE_WAIT_S) -> dict[str, str] | None:
    if path is None:
        return None
    if not path.exists():
        typer.echo(
            f"waiting up to {wait_s:g} s for {path} (the server writes it at start)", err=True
        )
        deadline = time.monotonic() + wait_s
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        typer.echo(f"--password-file: cannot read {path}: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        typer.echo(f'--password-file: {path} must hold {{"station id": "password", ...}}', err=True)
        raise typer.Exit(2)
    return data


async def _run(
    fleet: ChargerFleet, url: str, duration_s: float | None, status_s: float = 60.0
) -> None:
    import asyncio
    from datetime import UTC, datetime

    await fleet.start()
    ticking = asyncio.create_task(fleet.run(1.0))
    try:
        try:
            await fleet.wait_connected(timeout_s=60.0 if duration_s is None else duration_s)
            typer.echo(f"{len(fleet.links)} stations connected to {url} (OCPP {fleet.version})")
        except TimeoutError:
            waiting = [cs for cs, link in fleet.links.items() if not link.connected.is_set()]
            reasons = {fleet.links[cs].last_error for cs in waiting} - {None}
            typer.echo(
                f"{len(waiting)} of {len(fleet.links)} stations not connected yet "
                f"({'; '.join(sorted(str(r) for r in reasons)) or 'no answer'}); still trying",
                err=True,
            )
        loop = asyncio.get_running_loop()
        end = None if duration_s is None else loop.time() + duration_s
        while end is None or loop.time() < end:
            wait = status_s if end is None else min(status_s, end - loop.time())
            await asyncio.sleep(max(0.0, wait))
            if end is None or loop.time() < end:
                typer.echo(f"{datetime.now(UTC):%H:%M:%S} {fleet.status()}")
    finally:
        ticking.cancel()
        await fleet.stop()


@stations_sim_app.command("simulate")
def simulate(
    url: Annotated[
        str,
        typer.Option(
            "--url",
            help="CSMS WebSocket URL without the station id (each station appends its own).",
        ),
    ] = "ws://127.0.0.1:8000/ocpp",
    scenario: Annotated[
        str, typer.Option("--scenario", help="Simulated fleet (as FCSBE_SIMULATOR_SCENARIO).")
    ] = "demo",
    ocpp_version: Annotated[
        str, typer.Option("--ocpp-version", help="OCPP version: 2.1, 2.0.1 or 1.6 (1.6J).")
    ] = "2.1",
    password_file: Annotated[
        Path | None,
        typer.Option(
            "--password-file",
            help="JSON file mapping station ids to passwords (HTTP Basic auth, security "
            "profile 1 or 2).",
            show_default=False,
        ),
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            envvar="FCSBE_STATION_PASSWORD",
            help="One password for every station not in --password-file.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the simulated fleet.")] = 0,
    stations: Annotated[
        int | None,
        typer.Option(
            "--stations", min=1, help="Connect only the first N stations.", show_default=False
        ),
    ] = None,
    size: Annotated[
        int, typer.Option("--size", min=1, help="EVSEs of the `large` scenario.")
    ] = 10_000,
    meter_interval_s: Annotated[
        float, typer.Option("--meter-interval", min=1, help="Seconds between meter values.")
    ] = 60.0,
    duration_s: Annotated[
        float | None,
        typer.Option("--duration", min=1, help="Stop after this many seconds.", show_default=False),
    ] = None,
    status_s: Annotated[
        float,
        typer.Option(
            "--status-interval",
            min=1,
            help="Seconds between the status lines (connections, transactions, profiles).",
        ),
    ] = 60.0,
) -> None:
    """Run a scenario's stations as OCPP charge points connected to a CSMS until interrupted."""
    import asyncio
    import logging
    from datetime import UTC, datetime

    try:
        from fcsbe.chargers import ChargerFleet
        from fcsbe.server.adapters.scenario_registry import floor_to_second, scenario_fleet
        from fcsbe.sim import SimOptions, SystemClock
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        typer.echo(f"fcsbe stations simulate needs the server extra: {exc}", err=True)
        raise typer.Exit(2) from exc

    if ocpp_version not in VERSIONS:
        typer.echo(f"--ocpp-version must be one of {', '.join(VERSIONS)}", err=True)
        raise typer.Exit(2)
    if not url.startswith(("ws://", "wss://")):
        typer.echo("--url must start with ws:// or wss://", err=True)
        raise typer.Exit(2)
    try:
        fleet_spec = scenario_fleet(
            scenario, seed=seed, start=floor_to_second(datetime.now(UTC)), size=size
        )
    except ValueError as exc:
        typer.echo(f"--scenario: {exc}", err=True)
        raise typer.Exit(2) from exc
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    fleet = ChargerFleet(
        fleet_spec,
        url,
        version=ocpp_version,  # type: ignore[arg-type]
        passwords=_passwords(password_file),
        password=password,
        clock=SystemClock(),
        stations=stations,
        options=SimOptions(meter_resolution_s=meter_interval_s),
    )
    try:
        asyncio.run(_run(fleet, url, duration_s, status_s))
    except KeyboardInterrupt:
        typer.echo("stopped")
