"""The image's entrypoint, run as the image runs it (no container engine here: emulated).

The Dockerfile is read for what the container gets: its environment (`ENV`), its user
(`USER`), its working folder (`WORKDIR`), its volume (`VOLUME`), its command (`CMD`) and its
health check. The test lays out the image's folders in a temporary root (the application folder
read-only, the data volume writable and empty), runs the command with exactly that environment
(paths mapped into the root), and checks that the server becomes healthy by the image's own
health check, initialised its party, and wrote nothing outside the data volume.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.served import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    found = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _image() -> dict[str, object]:
    env: dict[str, str] = {}
    image: dict[str, object] = {"env": env}
    for keyword, rest in _instructions():
        if keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
        elif keyword in ("USER", "WORKDIR"):
            image[keyword] = rest
        elif keyword in ("VOLUME", "CMD"):
            image[keyword] = json.loads(rest)
        elif keyword == "HEALTHCHECK":
            image[keyword] = json.loads(rest[rest.index("CMD") + 3 :])
    return image


IMAGE = _image()


def test_the_image_runs_unprivileged_with_its_state_on_the_volume() -> None:
    env = IMAGE["env"]
    assert isinstance(env, dict)
    user = str(IMAGE["USER"]).split(":")[0]
    assert user not in ("", "0", "root")
    (volume,) = IMAGE["VOLUME"]  # type: ignore[misc]
    assert env["FCSBE_DATA_DIR"] == volume
    assert env["FCSBE_DATABASE_URL"].startswith(f"sqlite+aiosqlite:///{volume}/")
    assert re.search(rf"chown {user}:\S+ {re.escape(volume)}", DOCKERFILE)
    assert IMAGE["WORKDIR"] != volume  # the app folder is not where the state goes


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture
def image_root(tmp_path: Path) -> Iterator[Path]:
    app, data = tmp_path / "app", tmp_path / "data"
    app.mkdir()
    for name in ("pyproject.toml", "README.md", "alembic.ini"):
        (app / name).write_bytes((ROOT / name).read_bytes())
    data.mkdir(mode=0o700)
    app.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH)
    yield tmp_path
    app.chmod(0o755)


def _mapped(value: str, root: Path) -> str:
    for folder in ("/app", "/data"):
        value = value.replace(folder, str(root) + folder)
    return value


def test_the_entrypoint_serves_as_the_image_user_would(image_root: Path) -> None:
    """Default image, empty volume: the server starts, is healthy, has its party, and writes
    only in the volume (the app folder is read-only for the image's user)."""
    port = str(free_port())
    env_image = IMAGE["env"]
    assert isinstance(env_image, dict)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FCSBE_")}
    env.update({key: _mapped(value, image_root) for key, value in env_image.items()})
    env["FCSBE_LOG_LEVEL"] = "WARNING"
    command = [str(part) for part in IMAGE["CMD"]]  # type: ignore[attr-defined]
    assert command[0] == "fcsbe"
    command = [sys.executable, "-m", "fcsbe.cli", *command[1:]]
    command = [{"0.0.0.0": "127.0.0.1", "8000": port}.get(part, part) for part in command]
    probe = [part.replace(":8000/", f":{port}/") for part in IMAGE["HEALTHCHECK"]]  # type: ignore[attr-defined]
    assert probe[0] == "python"
    app_dir = Path(_mapped(str(IMAGE["WORKDIR"]), image_root))
    before = _tree(app_dir)
    log = image_root / "container.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=app_dir, env=env, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 180
            while subprocess.run([sys.executable, *probe[1:]], capture_output=True).returncode:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1", timeout=10) as answer:
                details = json.load(answer)
        finally:
            server.terminate()
            server.wait(timeout=60)
    assert details["server_party_id"], details
    assert _tree(app_dir) == before  # nothing written in the application folder
    written = _tree(image_root / "data")
    assert "fcsbe.db" in written
    assert "keys/signing-key.jwk" in written
