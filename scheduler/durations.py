"""Durations as written in config.toml and on the command line: "90s", "15m", "1h30m"."""

from __future__ import annotations

import re

__all__ = ["DURATION_HINT", "format_duration", "parse_duration"]

DURATION_HINT = "use e.g. 90s, 15m, 2h, 7d"

# Units in descending order only, each at most once: "1h30m" but not "30m1h".
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", re.ASCII)
_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


def parse_duration(value: object) -> int:
    """Return `value` in seconds: "90s", "15m", "2h", "7d", "1h30m", or an int of seconds.

    Raise ValueError with a hint of the valid forms otherwise.
    """
    # bool is an int subclass, and `interval = true` is surely a mistake.
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{value} is not a duration: it is negative")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return int(text)
        found = _DURATION.fullmatch(text)
        if text and found:
            return sum(
                int(n) * size for n, (_, size) in zip(found.groups("0"), _UNITS, strict=True)
            )
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    raise ValueError(f"{shown} is not a duration ({DURATION_HINT})")


def format_duration(seconds: int) -> str:
    """Return `seconds` in the shortest form `parse_duration` reads back: 5400 -> "1h30m"."""
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
