"""Checking TOML by hand: typed getters that record problems, with key lines.

tomllib parses but neither validates nor reports where a key is; `TomlReader` does both
for `scheduler.config`, collecting every problem in one pass.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import TypeVar

from scheduler.config_model import Problem
from scheduler.durations import DURATION_HINT, parse_duration

KeyPath = tuple[str | int, ...]
T = TypeVar("T")
TYPE_NAMES: dict[type, str] = {
    bool: "a boolean",
    int: "an integer",
    float: "a float",
    str: "a string",
    list: "an array",
    dict: "a table",
}

# Names end up in CLI arguments and export file names (exports/DAY/<topic>.jsonl).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def key_name(where: KeyPath) -> str:
    """Return ("feeds", 2, "url") as "feeds[2].url"."""
    name = ""
    for part in where:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else part
    return name


def toml_type(value: object) -> str:
    """Name `value`'s TOML type for messages."""
    return TYPE_NAMES.get(type(value), "a date or time")


class Locator:
    """Find the line of a key in TOML text, best effort: tomllib reports none."""

    _HEADER = re.compile(r"\s*(\[\[?)\s*([^\[\]]+?)\s*\]")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        # (0-based line, dotted name without quotes or spaces, is an array table)
        self.headers: list[tuple[int, str, bool]] = []
        for number, line in enumerate(self.lines):
            if found := self._HEADER.match(line):
                name = re.sub(r"\s*\.\s*", ".", found.group(2)).replace('"', "").replace("'", "")
                self.headers.append((number, name, found.group(1) == "[["))

    def line(self, where: KeyPath) -> int | None:
        """Return the 1-based line of `where`, or of its table when the key is absent."""
        first_header = self.headers[0][0] if self.headers else len(self.lines)
        start, consumed = -1, 0
        if len(where) >= 2 and isinstance(where[1], int):
            arrays = [n for n, name, array in self.headers if array and name == where[0]]
            if where[1] < len(arrays):
                start, consumed = arrays[where[1]], 2
        elif where:
            for depth in (2, 1):
                dotted = ".".join(str(part) for part in where[:depth])
                tables = [n for n, name, _ in self.headers if name == dotted]
                if tables and len(where) >= depth:
                    start, consumed = tables[0], depth
                    break
        if start < 0:  # no header: a key in the top-level table, or an inline table
            return self._key_line(str(where[0]), 0, first_header) if where else None
        if consumed == len(where) or isinstance(where[consumed], int):
            return start + 1
        end = next((n for n, _, _ in self.headers if n > start), len(self.lines))
        return self._key_line(str(where[consumed]), start + 1, end) or start + 1

    def _key_line(self, key: str, start: int, end: int) -> int | None:
        quoted = re.escape(key)
        pattern = re.compile(rf"\s*(?:{quoted}|\"{quoted}\"|'{quoted}')\s*[=.]")
        for number in range(start, end):
            if pattern.match(self.lines[number]):
                return number + 1
        return None


class TomlReader:
    """Read values out of parsed TOML, recording problems instead of stopping.

    Every getter returns a usable default after recording a problem, so one pass finds
    every mistake. Subclasses add the sections of a particular file.
    """

    # Keys known to the design but not implemented: refused with their own message.
    unsupported: Mapping[KeyPath, Mapping[str, str]] = {}

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.locator = Locator(text)
        self.problems: list[Problem] = []

    def problem(self, where: KeyPath | str, message: str) -> None:
        """Record a problem at a key path, or in the environment variable named `where`."""
        if isinstance(where, str):
            self.problems.append(Problem(where, message))
        else:
            line = self.locator.line(where)
            self.problems.append(Problem(key_name(where), message, line, self.file))

    # --- generic readers: each returns a usable default after recording a problem ------

    def keys(self, table: Mapping[str, object], where: KeyPath, known: Sequence[str]) -> None:
        """Report the keys of `table` that are unknown or not supported yet."""
        for key in table:
            if key in self.unsupported.get(where[:1], {}):
                self.problem((*where, key), self.unsupported[where[:1]][key])
            elif key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f'did you mean "{close[0]}"?' if close else f"known: {', '.join(known)}"
                self.problem((*where, key), f"unknown key ({hint})")

    def table(
        self, data: Mapping[str, object], key: str, known: Sequence[str]
    ) -> dict[str, object]:
        """Return the [key] table of `data`, empty when absent."""
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.problem((key,), f"expected a table [{key}], got {toml_type(value)}")
            return {}
        self.keys(value, (key,), known)
        return value

    def tables(self, data: Mapping[str, object], key: str) -> list[tuple[int, dict[str, object]]]:
        """Return the [[key]] tables of `data` with their indexes."""
        value = data.get(key, [])
        if not isinstance(value, list):
            self.problem((key,), f"expected an array of tables [[{key}]], got {toml_type(value)}")
            return []
        items = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                items.append((index, item))
            else:
                self.problem((key, index), f"expected a table, got {toml_type(item)}")
        return items

    def value(self, table: Mapping[str, object], where: KeyPath, kind: type[T], default: T) -> T:
        """Return the value at `where` if it is of type `kind`, else `default`."""
        value = table.get(str(where[-1]), default)
        # type() rather than isinstance(): TOML's true is not the integer 1.
        if type(value) is not kind:
            self.problem(where, f"expected {TYPE_NAMES[kind]}, got {toml_type(value)}")
            return default
        return value

    def required(self, table: Mapping[str, object], where: KeyPath) -> str | None:
        """Return the non-blank string at `where`, or None."""
        if str(where[-1]) not in table:
            self.problem(where, "missing; this key is required")
            return None
        text = self.value(table, where, str, "")
        if not text.strip():
            self.problem(where, "must not be empty")
            return None
        return text

    def positive(self, table: Mapping[str, object], where: KeyPath, default: int) -> int:
        """Return the integer at `where` if it is above zero, else `default`."""
        number = self.value(table, where, int, default)
        if number <= 0:
            self.problem(where, f"must be greater than 0, not {number}")
            return default
        return number

    def duration(self, raw: object, where: KeyPath | str, default: int | None) -> int | None:
        """Return `raw` as a positive number of seconds, else `default`."""
        try:
            seconds = parse_duration(raw)
        except ValueError as error:
            self.problem(where, str(error))
            return default
        if seconds <= 0:
            self.problem(where, f"must be longer than 0s ({DURATION_HINT})")
            return default
        return seconds

    def strings(self, table: Mapping[str, object], where: KeyPath) -> tuple[str, ...]:
        """Return the strings of the array at `where`, empty when absent."""
        items = self.value(table, where, list, [])
        for index, item in enumerate(items):
            if not isinstance(item, str):
                self.problem((*where, index), f"expected a string, got {toml_type(item)}")
        return tuple(item for item in items if isinstance(item, str))

    def name(self, table: Mapping[str, object], where: KeyPath, seen: dict[str, int]) -> str:
        """Return the table's name, checked for form and against the names `seen`."""
        name = self.required(table, (*where, "name"))
        if name is None:
            return ""
        if not NAME.fullmatch(name):
            message = "use at most 64 letters, digits, '-', '_' or '.', starting with one"
            self.problem((*where, "name"), f'"{name}" is not a valid name ({message})')
        elif name in seen:
            self.problem(
                (*where, "name"), f'duplicate name "{name}" (see {where[0]}[{seen[name]}])'
            )
        else:
            seen[name] = int(where[1])
        return name
