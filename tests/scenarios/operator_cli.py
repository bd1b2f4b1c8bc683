"""The operator's command line, run for real against the test database.

The commands run `asyncio.run` themselves, so they are invoked in a worker thread (a fresh event
loop) while the test's own loop keeps serving the app.
"""

from __future__ import annotations

import asyncio

from click.testing import Result
from fastapi import FastAPI
from typer.testing import CliRunner

from fcsbe.cli import app as cli_app

__all__ = ["fcsbe_admin"]


async def fcsbe_admin(app: FastAPI, *args: str) -> Result:
    """`fcsbe admin <args>` with the server's settings; fails the test on a non-zero exit."""
    settings = app.state.settings
    env = {
        "FCSBE_DATABASE_URL": settings.database_url,
        "FCSBE_DATA_DIR": str(settings.data_dir),
        "FCSBE_LOG_LEVEL": "WARNING",
    }
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["admin", *args], env=env)
    assert result.exit_code == 0, result.output
    return result
