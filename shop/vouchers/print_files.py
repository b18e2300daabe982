"""Where finished print files are kept, so that every web process can hand them out.

A print job is rendered by whichever job worker took it, possibly on another machine than the
web process that later serves the download. The store is a directory: ``instance/prints/`` by
default (one machine), or ``PRINT_FILES_DIR``, a directory that every web server and job worker
mounts (several machines). Files are written under a temporary name and renamed into place,
so a reader never sees half a file and a second write of the same name replaces the first.
"""

import os
import secrets
from pathlib import Path

from flask import current_app


class PrintFileMissing(Exception):
    """The store has no file of that name."""


class DirectoryPrintFiles:
    """Print files in one directory, named by the caller."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"not a print file name: {name!r}")
        return self.root / name

    def write(self, name: str, content: bytes) -> None:
        """Store ``content`` as ``name``, replacing a file of that name whole."""
        path = self._path(name)
        self.root.mkdir(parents=True, exist_ok=True)
        draft = self.root / f".{name}.{secrets.token_hex(6)}.part"
        with open(draft, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(draft, path)

    def read(self, name: str) -> bytes:
        """Return the content stored as ``name``."""
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            raise PrintFileMissing(name) from None

    def names(self) -> list[str]:
        """Return the names of the stored files."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if not p.name.startswith("."))


def print_files() -> DirectoryPrintFiles:
    """Return the app's print file store (``PRINT_FILES_DIR``, else ``instance/prints``)."""
    folder = current_app.config.get("PRINT_FILES_DIR") or str(
        Path(current_app.instance_path) / "prints"
    )
    return DirectoryPrintFiles(Path(folder))
