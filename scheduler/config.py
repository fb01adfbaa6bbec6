"""Read config.toml and the NEWSWATCH_* environment into frozen, typed objects.

This is the only module that reads the config file or the environment; everything else
receives the values it needs from the `Config` built here.

Every mistake is collected in one pass and raised together as a ConfigError, each
Problem naming its key (`feeds[2].interval`, indexes from 0) and, when it can be found
in the text, its line.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from crawler.exceptions import QuerySyntaxError
from crawler.site_spider import NewsSpider
from crawler.topics import parse_query
from scheduler.config_model import (
    DEFAULT_CONFIG_FILE,
    DEFAULT_DATABASE_URL,
    DEFAULT_USER_AGENT,
    Config,
    ConfigError,
    DaemonConfig,
    ExportConfig,
    FeedConfig,
    NetworkConfig,
    PollingConfig,
    Problem,
    SiteConfig,
    StorageConfig,
    TopicConfig,
)
from scheduler.durations import format_duration, parse_duration
from scheduler.logs import LOG_FORMATS
from scheduler.toml_reader import KeyPath, TomlReader, toml_type
from storage.export_formats import FORMATS
from storage.export_parquet import MISSING_PYARROW, parquet_available
from storage.records import DEFAULT_DEDUPE, DedupeSettings

__all__ = [
    "Config",
    "ConfigError",
    "DaemonConfig",
    "ExportConfig",
    "FeedConfig",
    "NetworkConfig",
    "PollingConfig",
    "Problem",
    "SiteConfig",
    "StorageConfig",
    "TopicConfig",
    "check_config",
    "config_from_text",
    "config_path",
    "listen_address",
    "load_config",
    "parse_duration",
]

_TIME_OF_DAY = re.compile(r"([01]?[0-9]|2[0-3]):[0-5][0-9]")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")  # BCP 47, as trafilatura reports

# Keys the design names but this version does not implement yet. They are refused rather
# than ignored: a user who writes them must not think they do something.
_UNSUPPORTED: dict[KeyPath, dict[str, str]] = {}  # none at present


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
    return config_from_text(text, path, env)


def config_from_text(text: str, path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Validate config text as if read from `path`, raising ConfigError on problems.

    `newswatch feeds` checks an edited file with this before writing it.
    """
    env = os.environ if env is None else env
    shown = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # Python 3.11's TOMLDecodeError has no line attribute: read it from the message.
        found = re.search(r"\(at line (\d+), column \d+\)", str(error))
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(error))
        line = int(found.group(1)) if found else None
        raise ConfigError([Problem("", f"invalid TOML: {message}", line, shown)]) from None
    reader = _ConfigReader(shown, text)
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


def _declared_names(data: Mapping[str, object], key: str) -> set[str]:
    """Return the names given in the `key` array of tables, valid or not."""
    items = data.get(key)
    if not isinstance(items, list):
        return set()
    return {i["name"] for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)}


def unknown_topic(topic: str, known: Iterable[str]) -> str | None:
    """Return why `topic` may not be named (no topic of that name), or None if it may."""
    names = set(known)
    if topic in names:
        return None
    return f'unknown topic "{topic}" (known: {", ".join(sorted(names)) or "none defined"})'


class _ConfigReader(TomlReader):
    """Build a Config from parsed TOML, recording problems instead of stopping."""

    unsupported = _UNSUPPORTED

    # --- sections ----------------------------------------------------------------------

    def config(self, data: Mapping[str, object], path: Path, env: Mapping[str, str]) -> Config:
        sections = (
            "storage",
            "daemon",
            "network",
            "polling",
            "dedupe",
            "topics",
            "feeds",
            "sites",
            "exports",
        )
        self.keys(data, (), sections)
        polling = self.polling(data)
        topic_names = _declared_names(data, "topics")
        source_names = _declared_names(data, "feeds") | _declared_names(data, "sites")
        return Config(
            path=path,
            storage=self.storage(data, path.parent, env),
            daemon=self.daemon(data, env),
            network=self.network(data),
            polling=polling,
            dedupe=self.dedupe(data),
            topics=self.topics(data, source_names),
            feeds=self.feeds(data, topic_names, polling),
            sites=self.sites(data, topic_names, _declared_names(data, "feeds")),
            exports=self.exports(data, topic_names, path.parent),
        )

    def storage(
        self, data: Mapping[str, object], base: Path, env: Mapping[str, str]
    ) -> StorageConfig:
        table = self.table(data, "storage", ("url", "keep"))
        url = self.value(table, ("storage", "url"), str, DEFAULT_DATABASE_URL)
        url = self.database_url(url, ("storage", "url"), base)
        # A relative path in the environment is relative to where the user typed it.
        if override := env.get("NEWSWATCH_DATABASE_URL"):
            url = self.database_url(override, "NEWSWATCH_DATABASE_URL", Path.cwd())
        keep = None
        if "keep" in table:
            keep = self.duration(table["keep"], ("storage", "keep"), None)
        return StorageConfig(url, keep_s=keep)

    def database_url(self, raw: str, where: KeyPath | str, base: Path) -> str:
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
        table, defaults = self.table(data, "daemon", _DAEMON_KEYS), DaemonConfig()
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
        lease = self.duration(table.get("lease", "5m"), ("daemon", "lease"), defaults.lease_s)
        metrics = None
        if "metrics" in table:
            raw = self.value(table, ("daemon", "metrics"), str, "")
            # "" turns it off, as leaving the key out does.
            metrics = self.listen_address(raw, ("daemon", "metrics")) if raw else None
        log_format = self.value(table, ("daemon", "log_format"), str, "text")
        if log_format not in LOG_FORMATS:
            choices = " or ".join(LOG_FORMATS)
            self.problem(("daemon", "log_format"), f'"{log_format}": use {choices}')
            log_format = "text"
        return DaemonConfig(
            timezone=timezone,
            tick_s=tick or defaults.tick_s,
            user_agent=user_agent.strip() or DEFAULT_USER_AGENT,
            concurrency=self.positive(table, ("daemon", "concurrency"), defaults.concurrency),
            per_host=self.positive(table, ("daemon", "per_host"), defaults.per_host),
            lease_s=lease or defaults.lease_s,
            metrics=metrics,
            log_format=log_format,
        )

    def listen_address(self, raw: str, where: KeyPath | str) -> tuple[str, int] | None:
        """Return `raw` ("127.0.0.1:9108", "[::1]:9108") as (host, port), or None."""
        try:
            return listen_address(raw)
        except ValueError as error:
            self.problem(where, str(error))
            return None

    def timezone(self, name: str, where: KeyPath | str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(where, f'"{name}" is not a time zone (use e.g. UTC, Europe/Paris)')
            return "UTC"
        return name

    def network(self, data: Mapping[str, object]) -> NetworkConfig:
        keys = ("allow_private", "timeout", "max_bytes")
        table, defaults = self.table(data, "network", keys), NetworkConfig()
        timeout = self.duration(table.get("timeout", "30s"), ("network", "timeout"), None)
        where = ("network", "allow_private")
        return NetworkConfig(
            timeout_s=timeout or defaults.timeout_s,
            max_bytes=self.positive(table, ("network", "max_bytes"), defaults.max_bytes),
            allow_private=self.value(table, where, bool, defaults.allow_private),
        )

    def polling(self, data: Mapping[str, object]) -> PollingConfig:
        defaults = PollingConfig()
        names = ("default_interval", "min_interval", "max_interval")
        table = self.table(data, "polling", (*names, "disable_after"))
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
        return PollingConfig(default, low, high, self.disable_after(table))

    def disable_after(self, table: Mapping[str, object]) -> int | None:
        """Return `polling.disable_after` in seconds; None when it is `false` (never)."""
        default = PollingConfig().disable_after_s
        raw = table.get("disable_after", default)
        if raw is False:
            return None
        return self.duration(raw, ("polling", "disable_after"), default)

    def dedupe(self, data: Mapping[str, object]) -> DedupeSettings:
        table = self.table(data, "dedupe", ("threshold", "min_shingles"))
        raw = table.get("threshold", DEFAULT_DEDUPE.threshold)
        threshold = DEFAULT_DEDUPE.threshold
        # TOML's true is no number, though Python's bool is an int.
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            self.problem(("dedupe", "threshold"), f"expected a number, got {toml_type(raw)}")
        elif not 0 < raw <= 1:
            message = f"{raw} is not a similarity: use a number above 0 and at most 1"
            self.problem(("dedupe", "threshold"), message)
        else:
            threshold = float(raw)
        where = ("dedupe", "min_shingles")
        return DedupeSettings(
            threshold=threshold,
            min_shingles=self.positive(table, where, DEFAULT_DEDUPE.min_shingles),
        )

    def topics(self, data: Mapping[str, object], source_names: set[str]) -> tuple[TopicConfig, ...]:
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
                if source not in source_names:
                    known = ", ".join(sorted(source_names)) or "none defined"
                    self.problem(
                        (*where, "sources", number),
                        f'unknown feed or site "{source}" (known: {known})',
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
            topics = self.topic_names(table, where, topic_names)
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

    def sites(
        self, data: Mapping[str, object], topic_names: set[str], feed_names: set[str]
    ) -> tuple[SiteConfig, ...]:
        sites: list[SiteConfig] = []
        seen: dict[str, int] = {}
        for index, table in self.tables(data, "sites"):
            where = ("sites", index)
            self.keys(table, where, _SITE_KEYS)
            name = self.name(table, where, seen)
            if name in feed_names:
                self.problem((*where, "name"), f'"{name}" is already the name of a feed')
            sitemaps = self.urls(table, (*where, "sitemap"))
            start_urls = self.urls(table, (*where, "start_urls"))
            spider = self.value(table, (*where, "spider"), str, "").strip() or None
            if spider is not None and spider not in (spiders := _site_spider_names()):
                known = ", ".join(sorted(spiders)) or "none"
                message = f'no spider named "{spider}" in crawler/spiders/ (known: {known})'
                self.problem((*where, "spider"), message)
            if spider is None and not sitemaps and not start_urls:
                message = "give a sitemap, start_urls, or a custom spider"
                self.problem(where, f"nothing to crawl: {message}")
            allow = self.patterns(table, (*where, "allow"))
            deny = self.patterns(table, (*where, "deny"))
            topics = self.topic_names(table, where, topic_names)
            schedule = self.value(table, (*where, "schedule"), str, "").strip() or None
            if schedule is not None:
                schedule = self.crontab(schedule, (*where, "schedule"))
            interval = None
            if "interval" in table:
                interval = self.duration(table["interval"], (*where, "interval"), None)
                if schedule is not None:
                    self.problem((*where, "interval"), "give a schedule or an interval, not both")
            max_age = None
            if "max_age" in table:
                max_age = self.duration(table["max_age"], (*where, "max_age"), None)
            defaults = SiteConfig(name)
            site = SiteConfig(
                name=name,
                sitemaps=sitemaps,
                start_urls=start_urls,
                allow=allow,
                deny=deny,
                max_depth=self.positive(table, (*where, "max_depth"), defaults.max_depth),
                max_pages=self.positive(table, (*where, "max_pages"), defaults.max_pages),
                max_age_s=max_age,
                schedule=schedule,
                interval_s=interval,
                spider=spider,
                topics=topics,
                keep_unmatched=self.value(table, (*where, "keep_unmatched"), bool, False),
                enabled=self.value(table, (*where, "enabled"), bool, True),
            )
            sites.append(site)
        return tuple(sites)

    def exports(
        self, data: Mapping[str, object], topic_names: set[str], base: Path
    ) -> tuple[ExportConfig, ...]:
        exports: list[ExportConfig] = []
        seen: dict[str, int] = {}
        directories: dict[Path, int] = {}
        for index, table in self.tables(data, "exports"):
            where = ("exports", index)
            self.keys(table, where, _EXPORT_KEYS)
            name = self.name(table, where, seen)
            fmt = self.value(table, (*where, "format"), str, "jsonl")
            if fmt not in FORMATS:
                self.problem(
                    (*where, "format"), f'"{fmt}" is not a format (use {", ".join(FORMATS)})'
                )
                fmt = "jsonl"
            elif fmt == "parquet" and not parquet_available():
                self.problem((*where, "format"), MISSING_PYARROW.removeprefix("storage: "))
            raw_dir = self.value(table, (*where, "dir"), str, "exports")
            if not raw_dir.strip():
                self.problem((*where, "dir"), "must not be empty")
                raw_dir = "exports"
            directory = base / Path(raw_dir).expanduser()
            # Each export's day folder holds its own manifest.json.
            if directory in directories:
                message = f"same folder as exports[{directories[directory]}]; give each its own"
                self.problem((*where, "dir"), message)
            directories.setdefault(directory, index)
            at = self.value(table, (*where, "at"), str, "00:10").strip()
            if not _TIME_OF_DAY.fullmatch(at):
                message = f'"{at}" is not a time of day (use "HH:MM", 24-hour, e.g. "00:10")'
                self.problem((*where, "at"), message)
                at = "00:10"
            topics = self.topic_names(table, where, topic_names)
            per_topic = self.value(table, (*where, "per_topic"), bool, fmt == "atom")
            if fmt == "atom" and not per_topic:
                self.problem((*where, "per_topic"), "an Atom export is one feed per topic")
            exports.append(
                ExportConfig(
                    name=name,
                    directory=directory,
                    format=fmt,
                    at=at,
                    topics=topics,
                    per_topic=per_topic,
                    include_duplicates=self.value(
                        table, (*where, "include_duplicates"), bool, False
                    ),
                    include_updates=self.value(table, (*where, "include_updates"), bool, False),
                )
            )
        return tuple(exports)

    def topic_names(
        self, table: Mapping[str, object], where: KeyPath, known: set[str]
    ) -> tuple[str, ...]:
        """Return the table's `topics` list, each checked to name a declared topic."""
        topics = self.strings(table, (*where, "topics"))
        for number, topic in enumerate(topics):
            if (problem := unknown_topic(topic, known)) is not None:
                self.problem((*where, "topics", number), problem)
        return topics

    def urls(self, table: Mapping[str, object], where: KeyPath) -> tuple[str, ...]:
        """Return a URL or a list of URLs, each checked to be http(s)."""
        raw = table.get(str(where[-1]))
        if isinstance(raw, str):
            raw = [raw]
            table = {str(where[-1]): raw}
        urls = self.strings(table, where) if raw is not None else ()
        for number, url in enumerate(urls):
            if not _is_http_url(url):
                self.problem((*where, number), f'"{url}" is not an http(s) URL')
        return urls

    def patterns(self, table: Mapping[str, object], where: KeyPath) -> tuple[str, ...]:
        """Return a list of regular expressions, each checked to compile."""
        patterns = self.strings(table, where)
        for number, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as error:
                self.problem((*where, number), f'"{pattern}" is not a regular expression: {error}')
        return patterns

    def crontab(self, line: str, where: KeyPath) -> str | None:
        """Return a crontab line APScheduler accepts (minute hour day month weekday)."""
        try:
            CronTrigger.from_crontab(line, timezone="UTC")
        except ValueError as error:
            hint = 'five fields: minute hour day month weekday, e.g. "0 */2 * * *"'
            self.problem(where, f'"{line}" is not a cron schedule ({error}; {hint})')
            return None
        return line


def _site_spider_names() -> set[str]:
    """Return the names of the spiders in crawler/spiders/ a site may name."""
    loader = SpiderLoader(Settings({"SPIDER_MODULES": ["crawler.spiders"]}))
    return {name for name in loader.list() if issubclass(loader.load(name), NewsSpider)}


_DAEMON_KEYS = (
    "timezone",
    "tick",
    "user_agent",
    "concurrency",
    "per_host",
    "lease",
    "metrics",
    "log_format",
)

_SITE_KEYS = (
    "name",
    "sitemap",
    "start_urls",
    "allow",
    "deny",
    "max_depth",
    "max_pages",
    "max_age",
    "schedule",
    "interval",
    "spider",
    "topics",
    "keep_unmatched",
    "enabled",
)


def listen_address(raw: str) -> tuple[str, int]:
    """Parse "HOST:PORT" (an IPv6 host in brackets); raise ValueError naming the problem."""
    hint = "use HOST:PORT, e.g. 127.0.0.1:9108"
    try:
        parts = urlsplit(f"//{raw.strip()}")
        port = parts.port
    except ValueError:
        port = None
        parts = None
    if parts is None or not parts.hostname or port is None or parts.path or parts.username:
        raise ValueError(f'"{raw}" is not an address to listen on ({hint})')
    if port == 0:
        raise ValueError(f'"{raw}": port 0 is not a fixed port ({hint})')
    return parts.hostname, port


_EXPORT_KEYS = (
    "name",
    "format",
    "dir",
    "at",
    "topics",
    "per_topic",
    "include_duplicates",
    "include_updates",
)


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in an IPv6 host
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
