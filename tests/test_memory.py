"""Freed memory handed back to the system (glibc only)."""

from __future__ import annotations

import platform

import pytest

from crawler.memory import release_free_memory

MB = 1024 * 1024


def resident_bytes() -> int:
    """Return this process's resident set size."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_freed_heap_memory_is_returned_to_the_system() -> None:
    # 2,000-byte objects come from malloc's heap (pymalloc takes 512 bytes at most); one in
    # ten is kept, so the freed ones are holes that glibc's free() alone does not return.
    blocks = [bytes(2000) for _ in range(40_000)]
    kept = blocks[::10]
    del blocks
    before = resident_bytes()
    release_free_memory()
    assert before - resident_bytes() > 40 * MB
    assert len(kept) == 4000


def test_releasing_without_anything_freed_is_harmless() -> None:
    release_free_memory()
    release_free_memory()
