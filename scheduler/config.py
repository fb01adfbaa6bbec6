"""Read config.toml and the NEWSWATCH_* environment into frozen, typed objects.

This is the only module that reads the config file or the environment; everything else
receives the values it needs from the `Config` built here.

Every mistake is collected in one pass and raised together as a ConfigError, each
Problem naming its key (`feeds[2].interval`, indexes from 0) and, when it can be found
in the text, its line.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from crawler.exceptions import QuerySyntaxError
from crawler.topics import Query, parse_query
from scheduler.durations import DURATION_HINT, format_duration, parse_duration

__all__ = [
    "Config",
    "ConfigError",
    "DaemonConfig",
    "FeedConfig",
    "NetworkConfig",
    "PollingConfig",
    "Problem",
    "StorageConfig",
    "TopicConfig",
    "check_config",
    "config_path",
    "load_config",
    "parse_duration",
]

DEFAULT_CONFIG_FILE = "config.toml"
DEFAULT_DATABASE_URL = "sqlite:///data/newswatch.db"  # relative to the config's folder
DEFAULT_USER_AGENT = "newswatch (+mailto:ops@example.org)"
DEFAULT_MAX_BYTES = 15 * 1024 * 1024  # Miniflux's cap on a decompressed body

# Names end up in CLI arguments and export file names (exports/DAY/<topic>.jsonl).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")  # BCP 47, as trafilatura reports


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """Where articles are stored: a SQLAlchemy URL, SQLite paths made absolute."""

    url: str


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """How the daemon runs: its clock, its tick, and how hard it may hit servers."""

    timezone: str = "UTC"
    tick_s: int = 60
    user_agent: str = DEFAULT_USER_AGENT
    concurrency: int = 16
    per_host: int = 2

    @property
    def tzinfo(self) -> ZoneInfo:
        """Return the time zone for cron jobs such as the daily export."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """Limits applied to every request."""

    timeout_s: int = 30
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass(frozen=True, slots=True)
class PollingConfig:
    """Bounds of the adaptive feed interval, in seconds."""

    default_interval_s: int = 30 * 60
    min_interval_s: int = 5 * 60
    max_interval_s: int = 24 * 3600


@dataclass(frozen=True, slots=True)
class TopicConfig:
    """A named topic query, optionally limited to some languages and sources."""

    name: str
    query: str
    parsed: Query
    languages: tuple[str, ...] = ()  # empty: every language
    sources: tuple[str, ...] = ()  # feed names; empty: every source

    @classmethod
    def from_query(
        cls,
        name: str,
        query: str,
        languages: Sequence[str] = (),
        sources: Sequence[str] = (),
    ) -> TopicConfig:
        """Build a topic, parsing `query` (raises QuerySyntaxError)."""
        return cls(name, query, parse_query(query), tuple(languages), tuple(sources))


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """An RSS or Atom feed to poll."""

    name: str
    url: str
    topics: tuple[str, ...] = ()  # topic names; empty: every topic
    interval_s: int | None = None  # fixed interval; None: adaptive
    full_text: bool = False  # fetch and extract the linked page of each new entry
    enabled: bool = True
    keep_unmatched: bool = False  # store entries that match no topic too


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration; `path` is the absolute path of the file it came from."""

    path: Path
    storage: StorageConfig
    daemon: DaemonConfig = DaemonConfig()
    network: NetworkConfig = NetworkConfig()
    polling: PollingConfig = PollingConfig()
    topics: tuple[TopicConfig, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()

    def topics_for(self, feed: FeedConfig) -> tuple[TopicConfig, ...]:
        """Return the topics matched against `feed`'s articles."""
        return tuple(
            topic
            for topic in self.topics
            if (not feed.topics or topic.name in feed.topics)
            and (not topic.sources or feed.name in topic.sources)
        )


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in the configuration, where it is, and what is wrong."""

    key: str  # "feeds[2].interval"; "" for the file as a whole
    message: str
    line: int | None = None  # 1-based; None when it cannot be located
    file: str | None = None  # as the user named it; None for the environment

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file
        where = where or ("environment" if self.key else "")
        head = ": ".join(part for part in (where, self.key) if part)
        return f"{head}: {self.message}" if head else self.message


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every mistake found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = list(problems)


def config_path(path: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Return the config file to read: `path`, else $NEWSWATCH_CONFIG, else ./config.toml."""
    env = os.environ if env is None else env
    return path or Path(env.get("NEWSWATCH_CONFIG") or DEFAULT_CONFIG_FILE)


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the configuration, raising ConfigError listing every problem."""
    env = os.environ if env is None else env
    path = config_path(path, env)
    shown = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        hint = "create it, or name another with --config or NEWSWATCH_CONFIG"
        raise ConfigError([Problem("", f"no such file; {hint}", file=shown)]) from None
    except OSError as error:
        raise ConfigError([Problem("", f"cannot read: {error.strerror}", file=shown)]) from None
    except UnicodeDecodeError as error:
        problem = Problem("", f"not UTF-8 text (byte {error.start})", file=shown)
        raise ConfigError([problem]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # Python 3.11's TOMLDecodeError has no line attribute: read it from the message.
        found = re.search(r"\(at line (\d+), column \d+\)", str(error))
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(error))
        line = int(found.group(1)) if found else None
        raise ConfigError([Problem("", f"invalid TOML: {message}", line, shown)]) from None
    reader = _Reader(shown, text)
    config = reader.config(data, path.resolve(), env)
    if reader.problems:
        # In file order; environment problems, which have no line, last.
        raise ConfigError(
            sorted(reader.problems, key=lambda p: (p.line is None, p.line or 0, p.key))
        )
    return config


def check_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> list[Problem]:
    """Return every problem in the configuration; empty when it is valid."""
    try:
        load_config(path, env)
    except ConfigError as error:
        return error.problems
    return []


_KeyPath = tuple[str | int, ...]
_T = TypeVar("_T")
_TYPE_NAMES: dict[type, str] = {
    bool: "a boolean",
    int: "an integer",
    float: "a float",
    str: "a string",
    list: "an array",
    dict: "a table",
}
# Keys the design names but this version does not implement yet. They are refused rather
# than ignored: a user who writes `allow_private = false` must not think it protects them.
_UNSUPPORTED: dict[_KeyPath, dict[str, str]] = {
    (): {
        "sites": "not supported yet in this version (only [[feeds]] are)",
        "exports": "not supported yet in this version (use `newswatch export`)",
    },
    ("network",): {
        "allow_private": "unknown key: not supported yet in this version, so private "
        "and loopback addresses are not refused",
    },
}


def _key_name(where: _KeyPath) -> str:
    """Return ("feeds", 2, "url") as "feeds[2].url"."""
    name = ""
    for part in where:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else part
    return name


def _toml_type(value: object) -> str:
    """Name `value`'s TOML type for messages."""
    return _TYPE_NAMES.get(type(value), "a date or time")


def _declared_names(data: Mapping[str, object], key: str) -> set[str]:
    """Return the names given in the `key` array of tables, valid or not."""
    items = data.get(key)
    if not isinstance(items, list):
        return set()
    return {i["name"] for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)}


class _Locator:
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

    def line(self, where: _KeyPath) -> int | None:
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


class _Reader:
    """Build a Config from parsed TOML, recording problems instead of stopping."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.locator = _Locator(text)
        self.problems: list[Problem] = []

    def problem(self, where: _KeyPath | str, message: str) -> None:
        """Record a problem at a key path, or in the environment variable named `where`."""
        if isinstance(where, str):
            self.problems.append(Problem(where, message))
        else:
            line = self.locator.line(where)
            self.problems.append(Problem(_key_name(where), message, line, self.file))

    # --- generic readers: each returns a usable default after recording a problem ------

    def keys(self, table: Mapping[str, object], where: _KeyPath, known: Sequence[str]) -> None:
        """Report the keys of `table` that are unknown or not supported yet."""
        for key in table:
            if key in _UNSUPPORTED.get(where[:1], {}):
                self.problem((*where, key), _UNSUPPORTED[where[:1]][key])
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
            self.problem((key,), f"expected a table [{key}], got {_toml_type(value)}")
            return {}
        self.keys(value, (key,), known)
        return value

    def tables(self, data: Mapping[str, object], key: str) -> list[tuple[int, dict[str, object]]]:
        """Return the [[key]] tables of `data` with their indexes."""
        value = data.get(key, [])
        if not isinstance(value, list):
            self.problem((key,), f"expected an array of tables [[{key}]], got {_toml_type(value)}")
            return []
        items = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                items.append((index, item))
            else:
                self.problem((key, index), f"expected a table, got {_toml_type(item)}")
        return items

    def value(
        self, table: Mapping[str, object], where: _KeyPath, kind: type[_T], default: _T
    ) -> _T:
        """Return the value at `where` if it is of type `kind`, else `default`."""
        value = table.get(str(where[-1]), default)
        # type() rather than isinstance(): TOML's true is not the integer 1.
        if type(value) is not kind:
            self.problem(where, f"expected {_TYPE_NAMES[kind]}, got {_toml_type(value)}")
            return default
        return value

    def required(self, table: Mapping[str, object], where: _KeyPath) -> str | None:
        """Return the non-blank string at `where`, or None."""
        if str(where[-1]) not in table:
            self.problem(where, "missing; this key is required")
            return None
        text = self.value(table, where, str, "")
        if not text.strip():
            self.problem(where, "must not be empty")
            return None
        return text

    def positive(self, table: Mapping[str, object], where: _KeyPath, default: int) -> int:
        """Return the integer at `where` if it is above zero, else `default`."""
        number = self.value(table, where, int, default)
        if number <= 0:
            self.problem(where, f"must be greater than 0, not {number}")
            return default
        return number

    def duration(self, raw: object, where: _KeyPath | str, default: int | None) -> int | None:
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

    def strings(self, table: Mapping[str, object], where: _KeyPath) -> tuple[str, ...]:
        """Return the strings of the array at `where`, empty when absent."""
        items = self.value(table, where, list, [])
        for index, item in enumerate(items):
            if not isinstance(item, str):
                self.problem((*where, index), f"expected a string, got {_toml_type(item)}")
        return tuple(item for item in items if isinstance(item, str))

    def name(self, table: Mapping[str, object], where: _KeyPath, seen: dict[str, int]) -> str:
        """Return the table's name, checked for form and against the names `seen`."""
        name = self.required(table, (*where, "name"))
        if name is None:
            return ""
        if not _NAME.fullmatch(name):
            message = "use at most 64 letters, digits, '-', '_' or '.', starting with one"
            self.problem((*where, "name"), f'"{name}" is not a valid name ({message})')
        elif name in seen:
            self.problem(
                (*where, "name"), f'duplicate name "{name}" (see {where[0]}[{seen[name]}])'
            )
        else:
            seen[name] = int(where[1])
        return name

    # --- sections ----------------------------------------------------------------------

    def config(self, data: Mapping[str, object], path: Path, env: Mapping[str, str]) -> Config:
        self.keys(data, (), ("storage", "daemon", "network", "polling", "topics", "feeds"))
        polling = self.polling(data)
        return Config(
            path=path,
            storage=self.storage(data, path.parent, env),
            daemon=self.daemon(data, env),
            network=self.network(data),
            polling=polling,
            topics=self.topics(data, _declared_names(data, "feeds")),
            feeds=self.feeds(data, _declared_names(data, "topics"), polling),
        )

    def storage(
        self, data: Mapping[str, object], base: Path, env: Mapping[str, str]
    ) -> StorageConfig:
        table = self.table(data, "storage", ("url",))
        url = self.value(table, ("storage", "url"), str, DEFAULT_DATABASE_URL)
        url = self.database_url(url, ("storage", "url"), base)
        # A relative path in the environment is relative to where the user typed it.
        if override := env.get("NEWSWATCH_DATABASE_URL"):
            url = self.database_url(override, "NEWSWATCH_DATABASE_URL", Path.cwd())
        return StorageConfig(url)

    def database_url(self, raw: str, where: _KeyPath | str, base: Path) -> str:
        """Return `raw` checked, with a relative SQLite path made absolute against `base`."""
        try:
            url = make_url(raw)
        except ArgumentError:
            # The value is not echoed: a database URL may hold a password.
            self.problem(where, "not a database URL (e.g. sqlite:///data/newswatch.db)")
            return raw
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            self.problem(where, f'"{url.get_backend_name()}": use sqlite or postgresql')
        database = url.database or ""
        # ":memory:" and "file:" URIs are not paths; absolute paths need nothing.
        relative = database and not database.startswith(("file:", ":memory:", "/"))
        if url.get_backend_name() != "sqlite" or not relative:
            return raw
        # render_as_string escapes what needs it; make_url reads the path back intact.
        return url.set(database=str(base / database)).render_as_string(hide_password=False)

    def daemon(self, data: Mapping[str, object], env: Mapping[str, str]) -> DaemonConfig:
        keys = ("timezone", "tick", "user_agent", "concurrency", "per_host")
        table, defaults = self.table(data, "daemon", keys), DaemonConfig()
        timezone = self.value(table, ("daemon", "timezone"), str, "UTC")
        timezone = self.timezone(timezone, ("daemon", "timezone"))
        if override := env.get("NEWSWATCH_TIMEZONE"):
            timezone = self.timezone(override, "NEWSWATCH_TIMEZONE")
        tick = self.duration(table.get("tick", "1m"), ("daemon", "tick"), defaults.tick_s)
        if override := env.get("NEWSWATCH_TICK"):
            tick = self.duration(override, "NEWSWATCH_TICK", defaults.tick_s)
        user_agent = self.value(table, ("daemon", "user_agent"), str, DEFAULT_USER_AGENT)
        if not user_agent.strip():
            self.problem(("daemon", "user_agent"), "must not be empty")
        user_agent = env.get("NEWSWATCH_USER_AGENT") or user_agent
        return DaemonConfig(
            timezone=timezone,
            tick_s=tick or defaults.tick_s,
            user_agent=user_agent.strip() or DEFAULT_USER_AGENT,
            concurrency=self.positive(table, ("daemon", "concurrency"), defaults.concurrency),
            per_host=self.positive(table, ("daemon", "per_host"), defaults.per_host),
        )

    def timezone(self, name: str, where: _KeyPath | str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(where, f'"{name}" is not a time zone (use e.g. UTC, Europe/Paris)')
            return "UTC"
        return name

    def network(self, data: Mapping[str, object]) -> NetworkConfig:
        table, defaults = self.table(data, "network", ("timeout", "max_bytes")), NetworkConfig()
        timeout = self.duration(table.get("timeout", "30s"), ("network", "timeout"), None)
        return NetworkConfig(
            timeout_s=timeout or defaults.timeout_s,
            max_bytes=self.positive(table, ("network", "max_bytes"), defaults.max_bytes),
        )

    def polling(self, data: Mapping[str, object]) -> PollingConfig:
        defaults = PollingConfig()
        names = ("default_interval", "min_interval", "max_interval")
        table = self.table(data, "polling", names)
        fallback = (defaults.default_interval_s, defaults.min_interval_s, defaults.max_interval_s)
        default, low, high = (
            self.duration(table.get(name, seconds), ("polling", name), seconds) or seconds
            for name, seconds in zip(names, fallback, strict=True)
        )
        if low > high:
            message = f"{format_duration(low)} is longer than max_interval {format_duration(high)}"
            self.problem(("polling", "min_interval"), message)
        elif not low <= default <= high:
            bounds = f"{format_duration(low)}..{format_duration(high)}"
            message = f"{format_duration(default)} is outside min_interval..max_interval ({bounds})"
            self.problem(("polling", "default_interval"), message)
        return PollingConfig(default, low, high)

    def topics(self, data: Mapping[str, object], feed_names: set[str]) -> tuple[TopicConfig, ...]:
        topics: list[TopicConfig] = []
        seen: dict[str, int] = {}
        for index, table in self.tables(data, "topics"):
            where = ("topics", index)
            self.keys(table, where, ("name", "query", "languages", "sources"))
            name = self.name(table, where, seen)
            query = self.required(table, (*where, "query"))
            parsed = None
            if query is not None:
                try:
                    parsed = parse_query(query)
                except QuerySyntaxError as error:
                    near = " ".join(query[error.position :].split())
                    near = f'near "{near[:30]}"' if near else "at the end"
                    self.problem((*where, "query"), f"{error}, {near}")
            languages = self.strings(table, (*where, "languages"))
            for number, language in enumerate(languages):
                if not _LANGUAGE.fullmatch(language.lower()):
                    message = f'"{language}" is not a language code (use e.g. en, de, pt-br)'
                    self.problem((*where, "languages", number), message)
            sources = self.strings(table, (*where, "sources"))
            for number, source in enumerate(sources):
                if source not in feed_names:
                    known = ", ".join(sorted(feed_names)) or "none defined"
                    self.problem(
                        (*where, "sources", number), f'unknown feed "{source}" (known: {known})'
                    )
            if query is not None and parsed is not None:
                languages = tuple(language.lower() for language in languages)
                topics.append(TopicConfig(name, query, parsed, languages, sources))
        return tuple(topics)

    def feeds(
        self, data: Mapping[str, object], topic_names: set[str], polling: PollingConfig
    ) -> tuple[FeedConfig, ...]:
        keys = ("name", "url", "topics", "interval", "full_text", "enabled", "keep_unmatched")
        feeds: list[FeedConfig] = []
        seen: dict[str, int] = {}
        urls: dict[str, int] = {}
        for index, table in self.tables(data, "feeds"):
            where = ("feeds", index)
            self.keys(table, where, keys)
            name = self.name(table, where, seen)
            url = self.required(table, (*where, "url")) or ""
            if url and not _is_http_url(url):
                self.problem((*where, "url"), f'"{url}" is not an http(s) URL')
            elif url in urls:
                self.problem((*where, "url"), f"same URL as feeds[{urls[url]}]")
            elif url:
                urls[url] = index
            topics = self.strings(table, (*where, "topics"))
            for number, topic in enumerate(topics):
                if topic not in topic_names:
                    known = ", ".join(sorted(topic_names)) or "none defined"
                    self.problem(
                        (*where, "topics", number), f'unknown topic "{topic}" (known: {known})'
                    )
            interval = None
            if "interval" in table:
                interval = self.duration(table["interval"], (*where, "interval"), None)
            low, high = polling.min_interval_s, polling.max_interval_s
            if interval is not None and not low <= interval <= high:
                # The bounds protect the sites polled, so a feed's own interval obeys them too.
                bounds = f"{format_duration(low)}..{format_duration(high)}"
                message = f"{format_duration(interval)} is outside min_interval..max_interval"
                self.problem((*where, "interval"), f"{message} ({bounds})")
            feed = FeedConfig(
                name=name,
                url=url,
                topics=topics,
                interval_s=interval,
                full_text=self.value(table, (*where, "full_text"), bool, False),
                enabled=self.value(table, (*where, "enabled"), bool, True),
                keep_unmatched=self.value(table, (*where, "keep_unmatched"), bool, False),
            )
            feeds.append(feed)
        return tuple(feeds)


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in an IPv6 host
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
