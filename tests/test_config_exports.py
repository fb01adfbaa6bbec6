"""`[[exports]]` in config.toml: named daily exports, checked key by key."""

from __future__ import annotations

from pathlib import Path

import pytest

import scheduler.config
from scheduler.config import check_config, load_config
from tests.test_config import MINIMAL, write


def test_an_export_is_read_with_its_defaults_and_a_folder_beside_the_config(
    tmp_path: Path,
) -> None:
    text = MINIMAL + '[[exports]]\nname = "daily"\n\n[[exports]]\nname = "feeds"\n'
    text += 'format = "atom"\ndir = "public/feeds"\nat = "6:30"\ntopics = ["dprk-russia"]\n'
    config = load_config(write(tmp_path / "conf", text), {})
    daily, feeds = config.exports
    assert (daily.name, daily.format, daily.at, daily.per_topic) == (
        "daily",
        "jsonl",
        "00:10",
        False,
    )
    assert daily.directory == tmp_path / "conf" / "exports"
    assert (daily.include_duplicates, daily.include_updates, daily.topics) == (False, False, ())
    assert (feeds.format, feeds.per_topic, feeds.hour, feeds.minute) == ("atom", True, 6, 30)
    assert feeds.directory == tmp_path / "conf" / "public" / "feeds"
    spec = config.export_spec(daily)
    assert spec.topic_files == ("dprk-russia",)  # every topic, for per-topic files
    assert config.export_named("feeds") is feeds
    assert config.export_named("nope") is None


@pytest.mark.parametrize(
    ("snippet", "key", "message", "line"),
    [
        ("[[exports]]\nname = 'a'\nformat = 'xml'", "exports[0].format", "use jsonl, csv", 3),
        ("[[exports]]\nname = 'a'\nat = '25:00'", "exports[0].at", '"HH:MM", 24-hour', 3),
        ("[[exports]]\nname = 'a'\nat = 10", "exports[0].at", "expected a string", 3),
        ("[[exports]]\nname = 'a'\ntopics = ['x']", "exports[0].topics[0]", "unknown topic", 3),
        (
            "[[exports]]\nname = 'a'\nformat = 'atom'\nper_topic = false",
            "exports[0].per_topic",
            "one feed per topic",
            4,
        ),
        ("[[exports]]\nname = 'a'\ndir = ' '", "exports[0].dir", "must not be empty", 3),
        ("[[exports]]\nname = 'a'\n[[exports]]\nname = 'b'", "exports[1].dir", "same folder", 3),
        (
            "[[exports]]\nname = 'a'\n[[exports]]\nname = 'a'\ndir = 'x'",
            "exports[1].name",
            "duplicate name",
            4,
        ),
        ("[[exports]]\nname = 'a b'", "exports[0].name", "not a valid name", 2),
        ("[[exports]]\nformat = 'csv'", "exports[0].name", "missing", 1),
        ("[[exports]]\nname = 'a'\nper_topics = true", "exports[0].per_topics", "per_topic", 3),
        (
            "[[exports]]\nname = 'a'\ninclude_updates = 1",
            "exports[0].include_updates",
            "boolean",
            3,
        ),
    ],
)
def test_each_export_mistake_names_key_and_line(
    tmp_path: Path, snippet: str, key: str, message: str, line: int
) -> None:
    found = check_config(write(tmp_path, snippet + "\n" + MINIMAL), {})
    assert [(p.key, p.line) for p in found] == [(key, line)]
    assert message in found[0].message


def test_parquet_without_pyarrow_is_a_clear_config_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler.config, "parquet_available", lambda: False)
    text = "[[exports]]\nname = 'a'\nformat = 'parquet'\n" + MINIMAL
    (problem,) = check_config(write(tmp_path, text), {})
    assert problem.key == "exports[0].format"
    assert "pip install 'newswatch[parquet]'" in problem.message
