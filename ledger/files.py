"""Where attached files are kept: a store addressed by each file's SHA-256.

A small interface (``FileStore``) with one implementation, a directory on the server's
disk (under ``var/`` by default). The same bytes are kept once whatever entries they are
attached to; a file is written under a temporary name and renamed into place, so a reader
never sees half a file, and two writers of the same file leave one whole copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def is_sha256(text: str) -> bool:
    """Whether ``text`` is a SHA-256 as files are named here (64 lower-case hex digits)."""
    return bool(_SHA256.fullmatch(text))


class FileStore(Protocol):
    """Files by the SHA-256 of their bytes."""

    def put(self, content: bytes) -> str:
        """Keep ``content`` (once, however often it is put); its SHA-256."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes kept under ``sha256``; FileNotFoundError when there are none."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> bool:
        """Remove the file; whether there was one."""
        ...


@dataclass(frozen=True)
class DirectoryStore:
    """A ``FileStore`` in a directory: ``<root>/<first two hex digits>/<sha256>``."""

    root: Path

    def _path(self, sha256: str) -> Path:
        if not is_sha256(sha256):
            raise ValueError(f"{sha256!r} is not a SHA-256 in lower-case hex")
        return self.root / sha256[:2] / sha256

    def put(self, content: bytes) -> str:
        sha256 = sha256_of(content)
        path = self._path(sha256)
        if path.exists():
            return sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return sha256

    def get(self, sha256: str) -> bytes:
        return self._path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def delete(self, sha256: str) -> bool:
        try:
            self._path(sha256).unlink()
        except FileNotFoundError:
            return False
        return True
