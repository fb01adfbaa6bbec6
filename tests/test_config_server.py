"""Config keys for servers: daemon.lease, daemon.metrics, daemon.log_format."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.config import ConfigError, config_from_text


def daemon(tmp_path: Path, body: str) -> object:
    return config_from_text(f"[daemon]\n{body}\n", tmp_path / "config.toml").daemon


def test_defaults_keep_the_endpoint_off(tmp_path: Path) -> None:
    config = config_from_text("", tmp_path / "config.toml")
    assert config.daemon.lease_s == 300
    assert config.daemon.metrics is None
    assert config.daemon.log_format == "text"
    assert config.storage.keep_s is None


def test_server_keys_are_read(tmp_path: Path) -> None:
    text = (
        '[storage]\nkeep = "180d"\n'
        '[daemon]\nlease = "90s"\nmetrics = "[::1]:9108"\nlog_format = "json"\n'
    )
    config = config_from_text(text, tmp_path / "config.toml")
    assert config.storage.keep_s == 180 * 86400
    assert (config.daemon.lease_s, config.daemon.metrics) == (90, ("::1", 9108))
    assert config.daemon.log_format == "json"


@pytest.mark.parametrize(
    ("body", "key", "message"),
    [
        ('metrics = "9108"', "daemon.metrics", "use HOST:PORT"),
        ('metrics = "127.0.0.1:70000"', "daemon.metrics", "not an address"),
        ('metrics = "127.0.0.1:0"', "daemon.metrics", "port 0"),
        ("metrics = 9108", "daemon.metrics", "expected a string"),
        ('log_format = "xml"', "daemon.log_format", "use text or json"),
        ('lease = "0s"', "daemon.lease", "longer than 0s"),
        ('lease = "soon"', "daemon.lease", "not a duration"),
    ],
)
def test_bad_server_keys_name_key_and_line(
    tmp_path: Path, body: str, key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        daemon(tmp_path, body)
    (problem,) = caught.value.problems
    assert (problem.key, problem.line) == (key, 2)
    assert message in problem.message
