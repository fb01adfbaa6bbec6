"""Handing freed memory back to the system, where the C library allows it (glibc).

glibc's malloc keeps what the process frees for reuse rather than returning it, so the
daemon would stay as large as the busiest moment of its busiest poll: a full poll of
1,000 feeds left some 20 MB of freed chunks in the heap, in the arenas of the event
loop's thread and of the database threads. `release_free_memory` returns them
(`malloc_trim`, which goes through every arena); elsewhere (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import platform
from functools import cache
from typing import Any


@cache
def _glibc() -> Any | None:
    """Return the C library when it is glibc, else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)  # the process's own symbols, glibc's among them
    except OSError:
        return None


def release_free_memory() -> None:
    """Return the heap's free pages to the system (a few milliseconds)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
