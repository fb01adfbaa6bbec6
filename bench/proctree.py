"""CPU time and memory of a process and all its descendants, for the benchmarks (Linux)."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import psutil

SAMPLE_S = 0.25


@dataclass
class Memory:
    """Memory of a process tree in bytes: PSS (shared pages split) and summed RSS."""

    pss: int = 0
    rss: int = 0


class Tree:
    """A process and its descendants, looked up afresh at each reading."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)

    def processes(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_s(self) -> float:
        """Return the user + system time of the tree, reaped children included."""
        total = 0.0
        for process in self.processes():
            try:
                t = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system + t.children_user + t.children_system
        return total

    def memory(self) -> Memory:
        """Return the tree's memory now."""
        found = Memory()
        for process in self.processes():
            rss, pss = _rollup(process.pid)
            found.pss += pss
            found.rss += rss
        return found

    @contextmanager
    def sampling(self) -> Iterator[Memory]:
        """Yield the tree's peak memory, sampled every 250 ms while the block runs."""
        peak = Memory()
        done = threading.Event()

        def sample() -> None:
            while True:
                now = self.memory()
                peak.pss, peak.rss = max(peak.pss, now.pss), max(peak.rss, now.rss)
                if done.wait(SAMPLE_S):
                    return

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield peak
        finally:
            done.set()
            thread.join()


def _rollup(pid: int) -> tuple[int, int]:
    """Return a process's RSS and PSS in bytes, 0 if it is gone.

    /proc/PID/smaps_rollup is summed by the kernel: far cheaper than psutil's walk of
    every mapping in /proc/PID/smaps, which would load the machine being measured.
    """
    values = {"Rss:": 0, "Pss:": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                name, _, rest = line.partition(" ")
                if name in values:
                    values[name] = int(rest.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return values["Rss:"], values["Pss:"]


def spawn(command: list[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def wait(process: subprocess.Popen[bytes]) -> tuple[float, int, int]:
    """Reap the process; return its CPU seconds, peak RSS in bytes and exit status."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, process.returncode
