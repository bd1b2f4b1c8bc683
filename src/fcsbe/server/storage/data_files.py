"""File modes of what the server keeps on disk: readable by the server's own user only.

The SQLite database holds every party's data, and `data_dir` the server's private keys; neither
may be readable by other local users. SQLite creates a database with mode 0644 (less the umask)
and its `-wal` and `-shm` files with the database's own mode, so the database file is created
here first, empty, with mode 0600 (an empty file is a valid empty database) and the companions
follow it. Files made by older releases are brought to 0600 (folders to 0700) at every start and
migration, so an upgrade also closes what was open before.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = ["FILE_MODE", "FOLDER_MODE", "private_data_dir", "private_sqlite_files"]

FILE_MODE = 0o600
FOLDER_MODE = 0o700
_COMPANIONS = ("", "-wal", "-shm", "-journal")


def _restrict(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)


def private_sqlite_files(database_url: str) -> None:
    """For an SQLite file URL: create the database file 0600 if it does not exist, and bring
    it and its `-wal`, `-shm` and `-journal` files to 0600. Other URLs: nothing."""
    url = make_url(database_url)
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return
    if name.startswith("file:"):
        return  # a URI filename: SQLite opens it with its own options
    database = Path(name)
    database.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for suffix in _COMPANIONS:
        _restrict(database.with_name(database.name + suffix), FILE_MODE)


def private_data_dir(data_dir: Path) -> None:
    """Create `data_dir` (0700) if missing; every folder under it 0700, every file 0600."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    _restrict(data_dir, FOLDER_MODE)
    for folder, folders, files in os.walk(data_dir):
        for name in folders:
            _restrict(Path(folder) / name, FOLDER_MODE)
        for name in files:
            _restrict(Path(folder) / name, FILE_MODE)
