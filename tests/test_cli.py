"""Tests for the `newswatch` command line (scheduler/cli.py and scheduler/commands/).

Most tests run the commands in-process with click's CliRunner; a few run the installed
console script, to see exactly what a user sees. `poll` has its own tests in
tests/test_poll.py, because it runs the Twisted reactor, which cannot restart in-process.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import click
import feedparser
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from crawler.fingerprints import content_hash
from scheduler.cli import app
from storage.articles import store_articles
from storage.db import Database
from storage.export import EXPORT_FIELDS
from storage.models import ExportRun
from storage.records import ArticleRecord, CheckResult, SourceSpec, TopicSpec
from storage.sources import due_sources, record_checks, sync_sources
from storage.topics import sync_topics

NEWSWATCH = Path(sys.executable).parent / "newswatch"
DATA = Path(__file__).parent / "data"
DPRK_QUERY = '("North Korea" OR DPRK) AND (Russia OR Ukraine)'
# Loggers whose level scheduler.logs.configure_logging sets.
LOGGERS = (
    *("scrapy", "twisted", "py.warnings", "apscheduler", "trafilatura", "htmldate"),
    *("scrapy.downloadermiddlewares.retry", "alembic"),
)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Run each test in an empty folder, without NEWSWATCH_* variables, and put back the
    logging set-up the CLI changes, so later tests (and pytest's capture) are unaffected."""
    for name in ("CONFIG", "DATABASE_URL", "TIMEZONE", "TICK", "USER_AGENT"):
        monkeypatch.delenv(f"NEWSWATCH_{name}", raising=False)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, prog_name="newswatch")


def write_config(folder: Path, feeds: str = "", name: str = "config.toml") -> Path:
    """Write a valid config with one topic and the given [[feeds]] text."""
    path = folder / name
    path.write_text(
        f"""\
[storage]
url = "sqlite:///data/newswatch.db"

[[topics]]
name = "dprk"
query = '{DPRK_QUERY}'

[[topics]]
name = "sport"
query = "football OR goal*"
{feeds}""",
        encoding="utf-8",
    )
    return path


TWO_FEEDS = """
[[feeds]]
name = "world"
url = "https://world.example/rss.xml"

[[feeds]]
name = "wire"
url = "https://wire.example/atom.xml"
keep_unmatched = true
"""


# --- help text -----------------------------------------------------------------------------


def commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from commands(sub, (*path, name))


ALL_COMMANDS = list(commands(app))
COMMAND_IDS = [" ".join(path) or "newswatch" for path, _ in ALL_COMMANDS]


def test_the_command_tree_has_every_documented_command() -> None:
    names = {" ".join(path) for path, _ in ALL_COMMANDS}
    expected = {"run", "poll", "export", "sources", "topics test", "db upgrade", "config check"}
    assert expected <= names


@pytest.mark.parametrize(("path", "command"), ALL_COMMANDS, ids=COMMAND_IDS)
def test_every_command_has_help_text(path: tuple[str, ...], command: click.Command) -> None:
    assert command.help and command.help.strip(), f"{path}: no help text"
    summary = command.help.strip().splitlines()[0]
    assert summary[0].isupper() and summary.endswith("."), summary


@pytest.mark.parametrize(("path", "command"), ALL_COMMANDS, ids=COMMAND_IDS)
def test_every_option_has_help_text(path: tuple[str, ...], command: click.Command) -> None:
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{' '.join(path)} {param.opts[0]}: no help text"
            assert param.help[0].isupper() and param.help.endswith("."), param.help
        elif isinstance(param, click.Argument):
            # Arguments take no help= in click: the command's help must explain them.
            metavar = (param.name or "").upper()
            assert metavar in (command.help or ""), f"{' '.join(path)}: {metavar} unexplained"


@pytest.mark.parametrize(("path", "command"), ALL_COMMANDS, ids=COMMAND_IDS)
def test_help_shows_for_every_command(path: tuple[str, ...], command: click.Command) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert (command.help or "").strip().splitlines()[0] in result.output
    assert invoke(*path, "-h").output == result.output


def test_readme_documents_every_command_and_option() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    for path, command in ALL_COMMANDS:
        name = " ".join(path)
        if not path or isinstance(command, click.Group):
            continue
        assert f"\n  {name} " in readme, f"README: {name} undocumented"
        for param in command.params:
            if isinstance(param, click.Option) and "--help" not in param.opts:
                spellings = [f"{opt} " for opt in param.opts] + [f"[{opt}" for opt in param.opts]
                assert any(s in readme for s in spellings), f"README: {name} {param.opts}"


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert version("newswatch") in result.output


# --- config check --------------------------------------------------------------------------


def test_config_check_accepts_a_valid_config(tmp_path: Path) -> None:
    path = write_config(tmp_path, TWO_FEEDS)
    result = invoke("--config", str(path), "config", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: OK (2 feeds, 2 topics)\n"


def test_config_check_names_every_mistake_with_its_line() -> None:
    result = invoke("--config", str(DATA / "config_three_mistakes.toml"), "config", "check")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 3, lines
    assert "config_three_mistakes.toml:6: daemon.tik: unknown key" in lines[0]
    assert 'did you mean "tick"?' in lines[0]
    assert "config_three_mistakes.toml:15: feeds[0].interval" in lines[1]
    assert "15 minutes" in lines[1]
    assert "config_three_mistakes.toml:21: feeds[1].topics[0]" in lines[2]
    assert 'unknown topic "dprk-rusia"' in lines[2]


def test_config_mistakes_reach_the_terminal_without_a_traceback() -> None:
    # The real console script, as a user runs it.
    path = DATA / "config_three_mistakes.toml"
    done = subprocess.run(
        [str(NEWSWATCH), "--config", str(path), "config", "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 3
    assert done.stdout == ""


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    result = invoke("--config", str(missing), "config", "check")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"{missing}: no such file")
    assert "--config" in result.stderr and "NEWSWATCH_CONFIG" in result.stderr


def test_config_is_found_through_the_environment_then_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    from_env = write_config(elsewhere, TWO_FEEDS, name="newswatch.toml")
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(from_env))
    assert invoke("config", "check").stdout.startswith(f"{from_env}: OK")
    monkeypatch.delenv("NEWSWATCH_CONFIG")
    result = invoke("config", "check")
    assert result.exit_code == 2
    assert result.stderr.startswith("config.toml: no such file")
    write_config(tmp_path)
    assert invoke("config", "check").stdout.startswith(f"{tmp_path / 'config.toml'}: OK")


@pytest.mark.parametrize(
    "command",
    [["run"], ["poll"], ["export"], ["sources"], ["db", "upgrade"], ["config", "check"]],
    ids=" ".join,
)
def test_every_command_reports_a_missing_config_in_one_line(command: list[str]) -> None:
    result = invoke(*command)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "config.toml: no such file; create it, or name another with --config or NEWSWATCH_CONFIG\n"
    )


def test_invalid_toml_is_one_line_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[storage]\nurl = "sqlite:///x.db"\n\n[[feeds]\nname = "x"\n', "utf-8")
    result = invoke("--config", str(path), "config", "check")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"{path}:4: invalid TOML")


# --- topics test ---------------------------------------------------------------------------


def test_topics_test_shows_a_match_and_its_terms() -> None:
    text = "Officials say North Korea's troops, not DPRK advisers, are in Russia's Kursk."
    result = invoke("topics", "test", DPRK_QUERY, text)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1] == 'match: "North Korea", DPRK, Russia'
    assert "found" in next(line for line in lines if line.endswith("DPRK"))
    assert "missing" in next(line for line in lines if line.endswith("Ukraine"))


def test_topics_test_without_a_match_exits_1() -> None:
    result = invoke("topics", "test", DPRK_QUERY, "North Korea fires a missile into the sea.")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[-1] == "no match"
    assert "found" in next(line for line in lines if line.endswith('"North Korea"'))
    assert "missing" in next(line for line in lines if line.endswith("Russia"))


def test_topics_test_reads_standard_input() -> None:
    result = invoke("topics", "test", "Kursk", input="Fighting near KURSK continued.\n")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "match: Kursk"
    assert invoke("topics", "test", "Kursk", "-", input="Kherson\n").exit_code == 1


def test_topics_test_ignores_case_and_accents() -> None:
    result = invoke("topics", "test", '"Corée du Nord" AND Russie', "la coree du nord et la RUSSIE")
    assert result.exit_code == 0


def test_bad_query_is_one_line_with_its_position() -> None:
    result = invoke("topics", "test", "(Korea AND", "Korea")
    assert result.exit_code != 0
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("newswatch: ")
    assert "position" in result.stderr


# --- db upgrade ----------------------------------------------------------------------------


def test_db_upgrade_creates_the_database(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    path = write_config(site)
    database = site / "data" / "newswatch.db"
    assert not database.exists()
    result = invoke("--config", str(path), "db", "upgrade")
    assert result.exit_code == 0, result.output
    # A relative SQLite path is relative to the config's folder, not the working folder.
    assert database.is_file()
    assert result.stdout == f"database is up to date: sqlite:///{database}\n"
    again = invoke("--config", str(path), "db", "upgrade")
    assert again.exit_code == 0
    assert again.stdout == result.stdout


def test_database_url_from_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path)
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    assert invoke("--config", str(path), "db", "upgrade").exit_code == 0
    assert (tmp_path / "other.db").is_file()
    assert not (tmp_path / "data").exists()


def test_unusable_database_is_one_line(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    (tmp_path / "data").write_text("a file where the database folder should be")
    result = invoke("--config", str(path), "db", "upgrade")
    assert result.exit_code != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("newswatch: ")
    assert "Traceback" not in result.output


# --- export --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """A config and its database, holding four articles first seen at known times."""

    config: Path
    database: Database


DAY_1 = datetime(2024, 10, 14, 10, 0, tzinfo=UTC)
DAY_2 = datetime(2024, 10, 15, 10, 0, tzinfo=UTC)
DAY_3 = datetime(2024, 10, 16, 10, 0, tzinfo=UTC)
FORMULA_TITLE = '=HYPERLINK("https://evil.example/","North Korea and Russia")'


def record(
    source_id: int,
    key: str,
    title: str,
    summary: str = "",
    matches: dict[str, tuple[str, ...]] | None = None,
) -> ArticleRecord:
    url = f"https://news.example/{key}"
    return ArticleRecord(
        source_id=source_id,
        entry_key=key,
        url=url,
        canonical_url=url,
        content_hash=content_hash(title, summary),
        title=title,
        summary=summary,
        authors=("A. Writer",),
        language="en",
        published_at=DAY_1 - timedelta(hours=1),
        matches=matches or {},
    )


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[Stored]:
    config = write_config(tmp_path, TWO_FEEDS)
    database = Database.open(f"sqlite:///{tmp_path / 'data' / 'newswatch.db'}")
    database.upgrade()
    specs = [
        SourceSpec("world", "feed", "https://world.example/rss.xml"),
        SourceSpec("wire", "feed", "https://wire.example/atom.xml"),
    ]
    sync_sources(database, specs, 1800, DAY_1)
    sync_topics(database, [TopicSpec("dprk", DPRK_QUERY), TopicSpec("sport", "football")], DAY_1)
    ids = {s.name: s.id for s in due_sources(database, DAY_3, ("feed",), ["world", "wire"])}
    dprk: dict[str, tuple[str, ...]] = {"dprk": ('"North Korea"', "Russia")}
    store_articles(
        database, [record(ids["world"], "a1", "North Korea and Russia", "", dprk)], DAY_1
    )
    store_articles(
        database,
        [
            record(ids["world"], "a2", FORMULA_TITLE, "+7 -3 @home", dprk),
            record(ids["wire"], "w2", FORMULA_TITLE, "+7 -3 @home", dprk),
        ],
        DAY_2,
    )
    store_articles(database, [record(ids["wire"], "a3", "Cup final", "-1 goal")], DAY_3)
    store_articles(database, [record(ids["world"], "a4", "Fresh news")], datetime.now(UTC))
    try:
        yield Stored(config, database)
    finally:
        database.dispose()


def export(stored: Stored, *args: str) -> Result:
    return invoke("--config", str(stored.config), "export", *args)


def jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def titles(text: str) -> list[object]:
    return [item["title"] for item in jsonl(text)]


def test_export_writes_json_lines_to_standard_output(stored: Stored) -> None:
    result = export(stored)
    assert result.exit_code == 0, result.output
    items = jsonl(result.stdout)
    assert [i["title"] for i in items] == [
        "North Korea and Russia",
        FORMULA_TITLE,
        "Cup final",
        "Fresh news",
    ]
    first = items[0]
    assert first["first_seen_at"] == "2024-10-14T10:00:00Z"
    assert first["published_at"] == "2024-10-14T09:00:00Z"
    assert first["topics"] == ["dprk"]
    assert first["matches"] == {"dprk": ['"North Korea"', "Russia"]}
    assert first["authors"] == ["A. Writer"]
    # One article carried by two feeds lists both.
    assert items[1]["sources"] == ["wire", "world"]
    assert result.stderr == ""


def test_export_to_a_file_says_how_many(stored: Stored, tmp_path: Path) -> None:
    out = tmp_path / "out" / "articles.jsonl"
    result = export(stored, "--output", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"exported 4 articles to {out}\n"
    assert len(jsonl(out.read_text("utf-8"))) == 4


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--since", "2024-10-15"], [FORMULA_TITLE, "Cup final", "Fresh news"]),
        (["--until", "2024-10-15"], ["North Korea and Russia"]),
        (["--since", "2024-10-15", "--until", "2024-10-16"], [FORMULA_TITLE]),
        (["--since", "2024-10-15T12:00:00+02:00", "--until", "2024-10-16T10:00Z"], [FORMULA_TITLE]),
        (["--since", "2024-10-16T10:00:00"], ["Cup final", "Fresh news"]),
        (["--since", "24h"], ["Fresh news"]),
        (["--since", "today"], ["Fresh news"]),
        (["--topic", "dprk"], ["North Korea and Russia", FORMULA_TITLE]),
        (["--topic", "sport"], []),
        (["--topic", "dprk", "--since", "2024-10-15"], [FORMULA_TITLE]),
    ],
)
def test_export_selects_by_time_and_topic(
    stored: Stored, args: list[str], expected: list[str]
) -> None:
    result = export(stored, *args)
    assert result.exit_code == 0, result.output
    assert titles(result.stdout) == expected


@pytest.mark.parametrize("when", ["last tuesday", "2024-13-45", "soon"])
def test_unreadable_since_is_one_clear_line(stored: Stored, when: str) -> None:
    result = export(stored, "--since", when)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"newswatch: cannot read the time {when!r}.")
    assert "24h" in result.stderr  # it says what would work


def test_export_of_an_unknown_topic_is_one_line(stored: Stored) -> None:
    result = export(stored, "--topic", "dprk-rusia")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "no topic named 'dprk-rusia'" in result.stderr


def test_export_csv_with_header_and_lists(stored: Stored) -> None:
    result = export(stored, "--format", "csv", "--until", "2024-10-15")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1
    row = rows[0]
    assert row["title"] == "North Korea and Russia"
    assert row["sources"] == "world"
    assert row["first_seen_at"] == "2024-10-14T10:00:00Z"
    assert json.loads(row["matches"]) == {"dprk": ['"North Korea"', "Russia"]}
    assert list(row)[:3] == ["id", "url", "canonical_url"]


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    stored: Stored, tmp_path: Path
) -> None:
    out = tmp_path / "export.csv"
    result = export(stored, "-f", "csv", "-o", str(out), "--since", "2024-10-15")
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["title"] == "'" + FORMULA_TITLE
    assert rows[0]["summary"] == "'+7 -3 @home"
    assert rows[1]["summary"] == "'-1 goal"
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_export_duplicates_updates_and_dedupe_rebuild(stored: Stored) -> None:
    ids = {s.name: s.id for s in due_sources(stored.database, DAY_3, ("feed",), ["world", "wire"])}
    wire = (DATA / "dedupe" / "wire_story.txt").read_text(encoding="utf-8")
    copies = [
        dataclasses.replace(
            record(ids[source], key, title), text=text, content_hash=content_hash(title, text)
        )
        for source, key, title, text in [
            ("world", "n1", "North Korea sends troops", wire),
            ("wire", "n2", "Seoul: 1,500 troops sent", wire + "\nShare this article."),
        ]
    ]
    assert store_articles(stored.database, copies, DAY_3).near_duplicates == 1
    since = ("--since", "2024-10-16")
    rows = jsonl(export(stored, *since).stdout)
    assert [(r["title"], r["sources"]) for r in rows] == [
        ("Cup final", ["wire"]),
        ("Fresh news", ["world"]),
        ("North Korea sends troops", ["wire", "world"]),
    ]
    rows = jsonl(export(stored, *since, "--include-duplicates").stdout)
    first = rows[2]["id"]
    assert [(r["title"], r["duplicate_of"]) for r in rows[2:]] == [
        ("North Korea sends troops", None),
        ("Seoul: 1,500 troops sent", first),
    ]
    # A revised article from before --since shows only with --include-updates.
    revised = record(ids["world"], "a1", "North Korea and Russia", "Corrected: Russia, not Iran.")
    assert store_articles(stored.database, [revised], datetime.now(UTC)).updated == 1
    assert "North Korea and Russia" not in titles(export(stored, "--since", "1h").stdout)
    updates = titles(export(stored, "--since", "1h", "--include-updates").stdout)
    assert updates == ["North Korea and Russia", "Fresh news"]
    # A stricter threshold, then `dedupe rebuild`: the copy is its own story again.
    with stored.config.open("a", encoding="utf-8") as config:
        config.write("\n[dedupe]\nthreshold = 1.0\n")
    result = invoke("--config", str(stored.config), "dedupe", "rebuild")
    assert (result.exit_code, result.stdout) == (0, "articles: 6  near-duplicates: 0\n")
    assert len(titles(export(stored, *since).stdout)) == 4


def test_export_of_an_empty_database_is_empty(tmp_path: Path) -> None:
    config = write_config(tmp_path, TWO_FEEDS)
    as_jsonl = invoke("--config", str(config), "export")
    assert (as_jsonl.exit_code, as_jsonl.stdout) == (0, "")
    as_csv = invoke("--config", str(config), "export", "--format", "csv")
    assert as_csv.exit_code == 0
    assert as_csv.stdout.splitlines() == [",".join(EXPORT_FIELDS)]


def with_export(stored: Stored) -> Path:
    """Add a daily JSON Lines export into `out/` to the stored config."""
    text = stored.config.read_text(encoding="utf-8")
    text += '\n[[exports]]\nname = "daily"\ndir = "out"\n'
    stored.config.write_text(text, encoding="utf-8")
    return stored.config.parent / "out" / datetime.now(UTC).date().isoformat()


def runs(stored: Stored) -> list[tuple[int, str]]:
    with stored.database.session() as session:
        found = session.execute(select(ExportRun.id, ExportRun.status).order_by(ExportRun.id))
        return [(run_id, status) for run_id, status in found]


def test_export_name_runs_the_configured_export_and_moves_its_watermark(stored: Stored) -> None:
    day = with_export(stored)
    result = export(stored, "--name", "daily")
    assert result.exit_code == 0, result.output
    assert f"exported 4 articles to {day}\n" in result.stderr
    assert titles((day / "daily.jsonl").read_text(encoding="utf-8")) == [
        "North Korea and Russia",
        FORMULA_TITLE,
        "Cup final",
        "Fresh news",
    ]
    assert json.loads((day / "manifest.json").read_text())["count"] == 4
    assert runs(stored) == [(1, "done")]
    # Without --name nothing moves, whatever is written.
    assert len(jsonl(export(stored).stdout)) == 4
    assert export(stored, "-o", str(stored.config.parent / "x.jsonl")).exit_code == 0
    assert runs(stored) == [(1, "done")]
    # A second run the same day adds nothing new: the day's file still holds each once.
    again = export(stored, "--name", "daily")
    assert again.exit_code == 0, again.output
    assert runs(stored) == [(1, "done"), (2, "done")]
    assert len((day / "daily.jsonl").read_text().splitlines()) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "nope"], "newswatch: no export named 'nope' in "),
        (
            ["--name", "daily", "--since", "1h"],
            "--name runs the export as configured; drop --since",
        ),
        (["--name", "daily", "-f", "csv"], "drop --format"),
    ],
)
def test_export_name_mistakes_are_one_line(stored: Stored, args: list[str], message: str) -> None:
    with_export(stored)
    result = export(stored, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert runs(stored) == []


def test_export_parquet_and_atom_on_demand(stored: Stored, tmp_path: Path) -> None:
    out = tmp_path / "all.parquet"
    assert export(stored, "-f", "parquet", "-o", str(out)).exit_code == 0
    titles_in_parquet = pq.read_table(out).column("title").to_pylist()
    assert titles_in_parquet == titles(export(stored).stdout)
    atom = invoke("--config", str(stored.config), "export", "-f", "atom", "--topic", "dprk")
    assert atom.exit_code == 0, atom.output
    feed = feedparser.parse(atom.stdout_bytes)
    assert not feed.bozo
    assert feed.feed.title == "newswatch: dprk"
    assert [entry.title for entry in feed.entries] == titles(
        export(stored, "--topic", "dprk").stdout
    )


# --- sources -------------------------------------------------------------------------------


def test_sources_json_lists_each_source_with_its_health(stored: Stored) -> None:
    ids = {s.name: s.id for s in due_sources(stored.database, DAY_3, ("feed",), ["world"])}
    record_checks(
        stored.database,
        [CheckResult(ids["world"], DAY_3, 500, error="HTTP 500")],
    )
    result = invoke("--config", str(stored.config), "sources", "--json")
    assert result.exit_code == 0, result.output
    sources = {s["name"]: s for s in json.loads(result.stdout)}
    assert sorted(sources) == ["wire", "world"]
    world, wire = sources["world"], sources["wire"]
    assert world["state"] == "failing"
    assert world["error_count"] == 1
    assert world["last_error"] == "HTTP 500"
    assert world["last_status"] == 500
    assert world["articles"] == 3
    assert wire["state"] == "ok"
    assert wire["last_checked_at"] is None
    assert wire["url"] == "https://wire.example/atom.xml"
    assert wire["articles"] == 2


def test_sources_table_shows_each_source(stored: Stored, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: one line per source
    ids = {s.name: s.id for s in due_sources(stored.database, DAY_3, ("feed",), ["wire"])}
    record_checks(stored.database, [CheckResult(ids["wire"], DAY_3, 200, new_articles=2)])
    result = invoke("--config", str(stored.config), "sources")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "name" in line)
    for column in ("kind", "state", "status", "errors", "last new", "articles", "24h", "7d"):
        assert column in header
    world = next(line for line in result.stdout.splitlines() if "world" in line)
    assert "feed" in world and "ok" in world and "never" in world
    # The wire's last check brought new articles: its last check and last new article.
    days = (datetime.now(UTC) - DAY_3).days
    wire = next(line for line in result.stdout.splitlines() if "wire" in line)
    cells = dict(zip(_cells(header), _cells(wire), strict=True))
    assert cells["last check"] == cells["last new"] == f"{days}d ago"
    assert cells["articles"] == "2"


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().replace("┃", "│")[1:-1].split("│")]


def test_sources_lists_feeds_before_their_first_poll(tmp_path: Path) -> None:
    config = write_config(tmp_path, TWO_FEEDS)
    result = invoke("--config", str(config), "sources", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"world", "wire"}
    assert rows["world"]["last_checked_at"] is None and rows["world"]["state"] == "ok"


def test_piped_sources_table_never_cuts_a_cell(tmp_path: Path) -> None:
    config = write_config(tmp_path, TWO_FEEDS)
    result = invoke("--config", str(config), "sources")
    assert result.exit_code == 0, result.output
    assert "https://world.example/rss.xml" in result.stdout
    assert "…" not in result.stdout


def test_polling_a_disabled_feed_by_name_says_so(tmp_path: Path) -> None:
    feeds = (
        TWO_FEEDS + '\n[[feeds]]\nname = "off"\nurl = "https://off.example/rss"\nenabled = false\n'
    )
    config = write_config(tmp_path, feeds)
    result = invoke("--config", str(config), "poll", "off")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"newswatch: feed off is disabled (enabled = false in {config})"
    ]
