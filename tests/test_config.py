"""Tests for config loading (scheduler/config.py) and durations (scheduler/durations.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.topics import prepare_text
from scheduler.config import (
    Config,
    ConfigError,
    DaemonConfig,
    FeedConfig,
    NetworkConfig,
    PollingConfig,
    Problem,
    check_config,
    config_path,
    load_config,
)
from scheduler.durations import format_duration, parse_duration

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.toml"
DATA = Path(__file__).parent / "data"

MINIMAL = """\
[[topics]]
name = "dprk-russia"
query = '("North Korea" OR DPRK) AND (Russia OR Ukraine)'

[[feeds]]
name = "bbc-world"
url = "https://world.example/news/rss.xml"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[Problem]:
    return check_config(write(tmp_path, text), env or {})


# --- the example config.toml -----------------------------------------------------------


def test_example_config_is_valid_and_watches_the_dprk_russia_topic() -> None:
    config = load_config(EXAMPLE, env={})
    assert check_config(EXAMPLE, env={}) == []
    assert config.path == EXAMPLE
    assert config.storage.url == f"sqlite:///{ROOT}/data/newswatch.db"
    assert "mailto:" in config.daemon.user_agent
    assert len(config.feeds) >= 5
    assert all(feed.url.startswith("https://") for feed in config.feeds)
    topic = next(t for t in config.topics if t.name == "dprk-russia")
    text = prepare_text(
        "North Korean troops fighting alongside Russian forces, says Zelensky",
        "Ukraine's president said soldiers from Pyongyang had reached the front.",
    )
    assert topic.parsed.match(text) is not None


def test_example_config_finds_the_same_database_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(EXAMPLE, env={}).storage.url == f"sqlite:///{ROOT}/data/newswatch.db"


def test_defaults_follow_the_design(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), env={})
    assert config.storage.url == f"sqlite:///{tmp_path}/data/newswatch.db"
    assert config.daemon == DaemonConfig("UTC", 60, config.daemon.user_agent, 16, 2)
    assert config.network == NetworkConfig(timeout_s=30, max_bytes=15_728_640)
    # Safe by default: private and loopback addresses are refused unless allowed.
    assert config.network.allow_private is False
    assert config.polling == PollingConfig(1800, 300, 86400)
    assert config.feeds == (FeedConfig("bbc-world", "https://world.example/news/rss.xml"),)
    feed = config.feeds[0]
    assert (feed.topics, feed.interval_s, feed.full_text, feed.enabled) == ((), None, False, True)
    assert [topic.name for topic in config.topics_for(feed)] == ["dprk-russia"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.feeds = ()  # type: ignore[misc]


def test_feed_and_topic_limits_choose_the_topics_of_a_feed(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """
[[topics]]
name = "korea"
query = "Korea*"
sources = ["yonhap"]

[[feeds]]
name = "yonhap"
url = "https://wire.example/RSS/news.xml"
topics = ["korea"]
interval = "1h30m"
"""
    )
    config = load_config(write(tmp_path, text), env={})
    bbc, yonhap = config.feeds
    assert [t.name for t in config.topics_for(bbc)] == ["dprk-russia"]
    assert [t.name for t in config.topics_for(yonhap)] == ["korea"]
    assert yonhap.interval_s == 5400


# --- where the config and the database are found ---------------------------------------


def test_config_path_prefers_argument_then_environment_then_cwd() -> None:
    env = {"NEWSWATCH_CONFIG": "/etc/newswatch.toml"}
    assert config_path(Path("mine.toml"), env) == Path("mine.toml")
    assert config_path(None, env) == Path("/etc/newswatch.toml")
    assert config_path(None, {}) == Path("config.toml")


def test_load_config_reads_newswatch_config_then_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = write(tmp_path, MINIMAL, "elsewhere/newswatch.toml")
    assert load_config(env={"NEWSWATCH_CONFIG": str(named)}).path == named
    write(tmp_path, MINIMAL)
    monkeypatch.chdir(tmp_path)
    assert load_config(env={}).path == tmp_path / "config.toml"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///db/news.db", "sqlite:///{dir}/db/news.db"),
        ("sqlite+pysqlite:///news.db", "sqlite+pysqlite:///{dir}/news.db"),
        ("sqlite:////var/lib/newswatch/news.db", "sqlite:////var/lib/newswatch/news.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("sqlite://", "sqlite://"),
        (
            "postgresql+psycopg://news:s3cret@db.example.org/news",
            "postgresql+psycopg://news:s3cret@db.example.org/news",
        ),
    ],
)
def test_relative_sqlite_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    path = write(tmp_path, f'[storage]\nurl = "{url}"\n' + MINIMAL, "conf/config.toml")
    monkeypatch.chdir(tmp_path)
    assert load_config(path, env={}).storage.url == expected.format(dir=tmp_path / "conf")


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "NEWSWATCH_DATABASE_URL": "postgresql+psycopg://newswatch@db/newswatch",
        "NEWSWATCH_TIMEZONE": "Asia/Seoul",
        "NEWSWATCH_USER_AGENT": "acme-monitor (+mailto:news@acme.example)",
        "NEWSWATCH_TICK": "30s",
    }
    config = load_config(write(tmp_path, "[daemon]\ntick = '5m'\n" + MINIMAL), env)
    assert config.storage.url == "postgresql+psycopg://newswatch@db/newswatch"
    assert config.daemon.timezone == "Asia/Seoul"
    assert config.daemon.user_agent == "acme-monitor (+mailto:news@acme.example)"
    assert config.daemon.tick_s == 30
    # A relative SQLite path from the environment is relative to the working directory.
    env = {"NEWSWATCH_DATABASE_URL": "sqlite:///other.db", "NEWSWATCH_TIMEZONE": ""}
    config = load_config(write(tmp_path, MINIMAL, "conf/config.toml"), env)
    assert config.storage.url == f"sqlite:///{tmp_path}/other.db"
    assert config.daemon.timezone == "UTC"


def test_bad_environment_values_are_reported_by_variable(tmp_path: Path) -> None:
    env = {"NEWSWATCH_TICK": "soon", "NEWSWATCH_TIMEZONE": "Mars/Olympus"}
    found = problems_of(tmp_path, MINIMAL, env)
    assert [(p.key, p.line) for p in found] == [
        ("NEWSWATCH_TICK", None),
        ("NEWSWATCH_TIMEZONE", None),
    ]
    assert str(found[0]).startswith('environment: NEWSWATCH_TICK: "soon" is not a duration')


# --- mistakes --------------------------------------------------------------------------


def test_three_mistakes_are_all_reported_with_keys_and_lines() -> None:
    path = DATA / "config_three_mistakes.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    found = caught.value.problems
    assert [(p.key, p.line) for p in found] == [
        ("daemon.tik", 6),
        ("feeds[0].interval", 15),
        ("feeds[1].topics[0]", 21),
    ]
    assert str(found[0]) == f'{path}:6: daemon.tik: unknown key (did you mean "tick"?)'
    assert str(found[1]) == (
        f'{path}:15: feeds[0].interval: "15 minutes" is not a duration (use e.g. 90s, 15m, 2h, 7d)'
    )
    assert 'unknown topic "dprk-rusia" (known: dprk-russia)' in str(found[2])
    assert str(caught.value).splitlines() == [str(p) for p in found]


@pytest.mark.parametrize(
    ("snippet", "key", "message", "line"),
    [
        ("colour = 'red'", "colour", "unknown key", 1),
        ("[daemon]\nconcurency = 4", "daemon.concurency", 'did you mean "concurrency"', 2),
        ("[network]\nallow_private = 'no'", "network.allow_private", "expected a boolean", 2),
        ("[daemon]\nconcurrency = '16'", "daemon.concurrency", "expected an integer", 2),
        ("[daemon]\nper_host = 0", "daemon.per_host", "greater than 0", 2),
        ("[network]\nmax_bytes = -1", "network.max_bytes", "greater than 0", 2),
        ("[daemon]\ntick = '0s'", "daemon.tick", "longer than 0s", 2),
        ("[daemon]\ntimezone = 'Europe/Pariss'", "daemon.timezone", "not a time zone", 2),
        ("[daemon]\nuser_agent = ' '", "daemon.user_agent", "must not be empty", 2),
        ("[network]\ntimeout = '30 s'", "network.timeout", "use e.g. 90s", 2),
        ("[storage]\nurl = 'not a url'", "storage.url", "not a database URL", 2),
        ("[storage]\nurl = 'mysql://db/news'", "storage.url", "use sqlite or postgresql", 2),
        ("daemon = 'fast'", "daemon", "expected a table [daemon]", 1),
        (
            "[polling]\nmin_interval = '2h'\nmax_interval = '1h'",
            "polling.min_interval",
            "2h is longer than max_interval 1h",
            2,
        ),
        ("[polling]\ndefault_interval = '2m'", "polling.default_interval", "outside", 2),
        ("[[topics]]\nname = 'x'\nquery = 'Korea AND'", "topics[0].query", "'AND' needs", 3),
        ("[[topics]]\nname = 'x'", "topics[0].query", "missing", 1),
        ("[[topics]]\nname = 'dprk-russia'\nquery = 'x'", "topics[1].name", "duplicate", 5),
        ("[[topics]]\nname = 'a/b'\nquery = 'x'", "topics[0].name", "not a valid name", 2),
        ("[[topics]]\nname='x'\nquery='x'\nsources=['cnn']", "topics[0].sources[0]", "cnn", 4),
        ("[[topics]]\nname='x'\nquery='x'\nlanguages=['English']", "topics[0].languages[0]", "", 4),
        ("[[feeds]]\nname = 'x'\nurl = 'file:///etc/passwd'", "feeds[0].url", "http(s)", 3),
        ("[[feeds]]\nname = 'x'", "feeds[0].url", "missing", 1),
        ("[[feeds]]\nurl = 'https://a.example/rss'", "feeds[0].name", "missing", 1),
        (
            "[[feeds]]\nname = 'x'\nurl = 'https://world.example/news/rss.xml'",
            "feeds[1].url",
            "same URL as feeds[0]",
            10,
        ),
        ("[[feeds]]\nname='x'\nurl='https://a.example/'\nenabled='no'", "feeds[0].enabled", "", 4),
        ("[[feeds]]\nname='x'\nurl='https://a.example/'\ntopics='x'", "feeds[0].topics", "", 4),
        ("[[feeds]]\nname='x'\nurl='https://a.example/'\nbogus=1", "feeds[0].bogus", "", 4),
        (
            "[[feeds]]\nname='x'\nurl='https://a.example/'\ninterval=true",
            "feeds[0].interval",
            "",
            4,
        ),
    ],
)
def test_each_kind_of_mistake_names_key_and_line(
    tmp_path: Path, snippet: str, key: str, message: str, line: int
) -> None:
    # The snippet goes first so that its line numbers are its own.
    found = problems_of(tmp_path, snippet + "\n" + MINIMAL)
    assert [(p.key, p.line) for p in found] == [(key, line)]
    assert message in found[0].message


def test_one_mistake_is_reported_once(tmp_path: Path) -> None:
    text = MINIMAL + "[[feeds]]\nname = 'a'\n[[feeds]]\nname = 'b'\ntopics = ['nope']\n"
    assert [(p.key, p.line) for p in problems_of(tmp_path, text)] == [
        ("feeds[1].url", 8),
        ("feeds[2].url", 10),
        ("feeds[2].topics[0]", 12),
    ]
    broken_topic = "[[topics]]\nname = 'korea'\nquery = 'Korea AND'\n" + MINIMAL
    # A feed may name a topic whose query is broken: only the query is reported.
    broken_topic += "topics = ['korea']\n"
    assert [p.key for p in problems_of(tmp_path, broken_topic)] == ["topics[0].query"]


def test_missing_file_is_one_clear_problem(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.problems == [
        Problem(
            "",
            "no such file; create it, or name another with --config or NEWSWATCH_CONFIG",
            file=str(path),
        )
    ]
    assert str(caught.value).startswith(f"{path}: no such file")


def test_unreadable_file_is_one_clear_problem(tmp_path: Path) -> None:
    [problem] = check_config(tmp_path, env={})
    assert problem.message.startswith("cannot read")
    (tmp_path / "latin1.toml").write_bytes(b"# caf\xe9\n")
    [problem] = check_config(tmp_path / "latin1.toml", env={})
    assert problem.message == "not UTF-8 text (byte 5)"


def test_invalid_toml_reports_its_line(tmp_path: Path) -> None:
    found = problems_of(tmp_path, MINIMAL + '\n[daemon]\ntick = "1m\n')
    assert len(found) == 1
    assert found[0].line == 10
    assert found[0].message.startswith("invalid TOML:")
    assert str(found[0]).startswith(f"{tmp_path / 'config.toml'}:10: invalid TOML:")


def test_problem_str_forms() -> None:
    assert str(Problem("daemon.tick", "bad", 3, "c.toml")) == "c.toml:3: daemon.tick: bad"
    assert str(Problem("sites", "bad", None, "c.toml")) == "c.toml: sites: bad"
    assert str(Problem("", "invalid TOML: x", 2, "c.toml")) == "c.toml:2: invalid TOML: x"


def test_valid_config_builds_an_immutable_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), env={})
    assert isinstance(config, Config)
    assert check_config(tmp_path / "config.toml", env={}) == []


# --- durations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("7d", 604800), ("1h30m", 5400), (45, 45)],
)
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["15 minutes", "30m1h", "1.5h", "", "15M", "-5m", True, 2.5, -1])
def test_parse_duration_rejects_other_forms_with_a_hint(text: object) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=10**9))
def test_format_duration_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_dedupe_thresholds_are_read_and_checked(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[dedupe]\nthreshold = 0.7\nmin_shingles = 25\n"), {})
    assert (config.dedupe.threshold, config.dedupe.min_shingles) == (0.7, 25)
    assert load_config(write(tmp_path, "[dedupe]\nthreshold = 1\n"), {}).dedupe.threshold == 1.0
    defaults = load_config(write(tmp_path, MINIMAL), {}).dedupe
    assert (defaults.threshold, defaults.min_shingles) == (0.4, 40)
    text = "[dedupe]\nthreshold = 1.5\nmin_shingles = 0\n\n[dedupe.x]\n"
    assert [(p.key, p.message) for p in problems_of(tmp_path, text)] == [
        ("dedupe.threshold", "1.5 is not a similarity: use a number above 0 and at most 1"),
        ("dedupe.min_shingles", "must be greater than 0, not 0"),
        ("dedupe.x", "unknown key (known: threshold, min_shingles)"),
    ]
    assert [p.message for p in problems_of(tmp_path, '[dedupe]\nthreshold = "high"\n')] == [
        "expected a number, got a string"
    ]


def test_a_feed_interval_must_respect_the_polling_bounds(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[polling]\nmin_interval = "5m"\n\n'
        '[[feeds]]\nname = "fast"\nurl = "https://fast.example/rss"\ninterval = "1m"\n',
        encoding="utf-8",
    )
    problems = check_config(path, env={})
    assert [str(p) for p in problems] == [
        f"{path}:7: feeds[0].interval: 1m is outside min_interval..max_interval (5m..1d)"
    ]
