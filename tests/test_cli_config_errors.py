"""Every config mistake is one clear line, no traceback, for `run`, `poll`, `config check`.

tests/test_config.py checks that each mistake is found, with its key and line; this file
checks what a user sees when a command meets it. Mistakes in the file are caught before
any command starts work, so those run in-process; a database that cannot be reached is
only found when a command opens it, so `run` and `poll` meet it as the console script.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.daemon_helpers import run_command

# Each test runs in an empty folder without NEWSWATCH_* variables, and gets back the
# logging set-up the CLI changes (an autouse fixture).
from tests.test_cli import invoke, isolated  # noqa: F401

COMMANDS = [["run"], ["poll"], ["config", "check"]]
FEED = '\n[[feeds]]\nname = "a"\nurl = "https://a.example/rss.xml"\n'


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


MISTAKES = [
    pytest.param(None, "config.toml: no such file; create it", id="missing-file"),
    pytest.param('[daemon\ntick = "1m"\n', "config.toml:1: invalid TOML", id="invalid-toml"),
    pytest.param(
        '[daemon]\ntik = "1m"\n' + FEED,
        'config.toml:2: daemon.tik: unknown key (did you mean "tick"?)',
        id="unknown-key",
    ),
    pytest.param(
        '[polling]\ndefault_interval = "half an hour"\n' + FEED,
        'config.toml:2: polling.default_interval: "half an hour" is not a duration',
        id="bad-duration",
    ),
    pytest.param(
        FEED + '\n[[sites]]\nname = "s"\nstart_urls = ["https://s.example/"]\n'
        'schedule = "0 25 * * *"\n',
        'config.toml:9: sites[0].schedule: "0 25 * * *" is not a cron schedule',
        id="bad-cron",
    ),
    pytest.param(
        "[[topics]]\nname = \"t\"\nquery = '(Korea AND Russia'\n" + FEED,
        "config.toml:3: topics[0].query: ",
        id="bad-query",
    ),
    pytest.param(
        '[storage]\nurl = "postgres//nowhere"\n' + FEED,
        "config.toml:2: storage.url: not a database URL",
        id="bad-database-url",
    ),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(("text", "line"), MISTAKES)
def test_a_config_mistake_is_one_line_for_every_command(
    tmp_path: Path, command: list[str], text: str | None, line: str
) -> None:
    if text is not None:
        config_file(tmp_path, text)
    result = invoke(*command)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(line), result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --------------------------------------------------------------------------------------
# A database that cannot be reached


def closed_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


UNREACHABLE = [
    pytest.param(
        lambda tmp: f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test",
        "Connection refused",
        id="postgresql-closed-port",
    ),
    pytest.param(
        lambda tmp: f"sqlite:///{tmp / 'a-file' / 'data' / 'newswatch.db'}",
        "a-file is a file, not a folder",
        id="sqlite-folder-is-a-file",
    ),
    # /proc takes no new files, even from root (for whom file modes mean nothing).
    pytest.param(
        lambda tmp: "sqlite:////proc/newswatch/newswatch.db",
        "No such file or directory",
        id="sqlite-folder-not-writable",
    ),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(("make_url", "reason"), UNREACHABLE)
def test_an_unusable_database_is_one_line_for_every_command(
    tmp_path: Path, command: list[str], make_url: object, reason: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    url = make_url(tmp_path)  # type: ignore[operator]
    config = config_file(tmp_path, f'[storage]\nurl = "{url}"\n' + FEED)
    if command == ["config", "check"]:
        result = invoke("--config", str(config), *command)
        status, stdout, stderr = result.exit_code, result.stdout, result.stderr
    else:  # these install the reactor first: not in the test process
        done = run_command(config, *command, timeout=60)
        status, stdout, stderr = done.returncode, done.stdout, done.stderr
    assert status == 1, stderr
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("newswatch: storage: cannot open database "), lines[0]
    assert reason in lines[0], lines[0]
    # Nothing was created: no folder, no database file.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "config.toml"]


# --------------------------------------------------------------------------------------
# An export folder that cannot be written


@pytest.mark.parametrize("command", [["run"], ["config", "check"], ["export", "--name", "daily"]])
def test_an_unwritable_export_folder_is_one_line(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'data' / 'newswatch.db'}"
    export = '\n[[exports]]\nname = "daily"\ndir = "a-file/exports"\n'
    config = config_file(tmp_path, f'[storage]\nurl = "{url}"\n' + FEED + export)
    done = run_command(config, *command, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines == [
        f"newswatch: storage: export 'daily' cannot write to {tmp_path / 'a-file' / 'exports'}:"
        f" {tmp_path / 'a-file'} is a file, not a folder"
    ], done.stderr
    assert not (tmp_path / "data").exists()  # refused before the database was made
