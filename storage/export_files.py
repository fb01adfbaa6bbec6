"""Files that appear whole or not at all: write a temporary file, fsync, rename, fsync.

A reader of the export directory never sees a half-written file: the data goes to a
hidden temporary file beside the final path, is flushed to disk, and only then renamed
over the final name (rename is atomic within a file system, POSIX rename(2)); the
directory is fsynced so the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
from pathlib import Path
from types import TracebackType

TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.tmp")


class _Hashing(io.RawIOBase):
    """Pass writes on to a file, counting bytes and hashing them."""

    def __init__(self, raw: io.FileIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        view = memoryview(data)  # type: ignore[arg-type]
        self.raw.write(view)
        self.sha256.update(view)
        self.size += view.nbytes
        return view.nbytes


class StagedFile:
    """A file written under a temporary name, published by `publish()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temp = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
        self._raw = io.FileIO(self.temp, "w")
        self._hashing = _Hashing(self._raw)
        self.stream = io.BufferedWriter(self._hashing, buffer_size=1 << 20)
        self.sha256 = ""
        self.size = 0

    def finish(self) -> None:
        """Flush the data to disk and close the temporary file."""
        self.stream.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        self.sha256 = self._hashing.sha256.hexdigest()
        self.size = self._hashing.size

    def publish(self) -> None:
        """Rename the finished file into place (not yet durable: see `sync_directory`)."""
        os.replace(self.temp, self.path)

    def discard(self) -> None:
        """Close and remove the temporary file, after a failure."""
        with contextlib.suppress(OSError):
            self._raw.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is not None:
            self.discard()


def sync_directory(directory: Path) -> None:
    """fsync a directory, so the renames in it are on disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> StagedFile:
    """Write `data` to a staged file for `path` and return it, finished, unpublished."""
    staged = StagedFile(path)
    with staged:
        staged.stream.write(data)
        staged.finish()
    return staged


def remove_stale_temps(directory: Path) -> None:
    """Remove temporary files left by processes that died (a kill mid-write)."""
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        found = _TEMP_NAME.fullmatch(entry.name)
        if found is None or _alive(int(found.group("pid"))):
            continue
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # ours from an earlier attempt in this process: not in use now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
