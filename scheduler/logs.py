"""Log records as text lines or JSON objects, never with a password in them.

newswatch logs events as `event key=value ...` (`feed failed source=world status=500`).
`--log-format json` turns each record into one JSON object per line for log shippers,
with the keys as fields: the values come from the record's arguments, so a count stays
a number and an error message with spaces stays one string.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from storage.db import mask_password

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TEXT_DATES = "%Y-%m-%dT%H:%M:%S%z"

# A printf placeholder, as logging's %-formatting reads them.
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
# ` key=` starting a field, in a format string or a rendered message.
_FIELD = re.compile(r"(?:^|\s)([a-z][a-z0-9_]*)=")
# "key=" right before a placeholder.
_KEY_BEFORE = re.compile(r"(?:^|\s)([a-z][a-z0-9_]*)=$")
# Keys of every JSON record; a field of the same name is suffixed with "_".
_RESERVED = frozenset({"time", "level", "logger", "event", "message", "exception"})


class SecretsFilter(logging.Filter):
    """Mask passwords in URLs in every record's rendered message (database URLs mostly)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_password(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _masked(arg) for key, arg in record.args.items()}
        return True


def _masked(value: object) -> object:
    """Return `value`, or its text with passwords masked if its text holds one."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    masked = mask_password(text)
    return value if masked == text else masked


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, event, message, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        event, fields = _fields(record, message)
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": event,
            "message": message,
        }
        for key, value in fields.items():
            data[f"{key}_" if key in _RESERVED else key] = value
        if record.exc_info:
            data["exception"] = mask_password(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False, default=str)


def _fields(record: logging.LogRecord, message: str) -> tuple[str, dict[str, Any]]:
    """Return the record's event (the text before its first key) and its key=value fields."""
    event, fields = _parse(message)
    template = record.msg if isinstance(record.msg, str) else message
    args = record.args if isinstance(record.args, tuple) else ()
    # Each placeholder consumes one argument in order ("%%" consumes none); those right
    # after "key=" give that field the argument's own type (a count stays a number).
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.group() == "%%":
            continue
        key = _KEY_BEFORE.search(template, 0, match.start())
        if key and position < len(args):
            fields[key.group(1)] = _plain(args[position])
        position += 1
    return event, fields


def _parse(message: str) -> tuple[str, dict[str, Any]]:
    """Split a rendered `event key=value key=value` line; a value runs to the next key."""
    matches = list(_FIELD.finditer(message))
    if not matches:
        return message, {}
    fields: dict[str, Any] = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following is not None else len(message)
        fields[match.group(1)] = message[match.end() : end].strip()
    return message[: matches[0].start()].strip(), fields


def _plain(value: object) -> object:
    """Return a JSON-native value as it is, anything else as its text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def configure_logging(verbosity: int, log_format: str = "text") -> None:
    """Log one record per line to stderr; Scrapy's own chatter only when asked."""
    ours = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    libraries = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        verbosity, logging.DEBUG
    )
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, TEXT_DATES))
    handler.addFilter(SecretsFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(ours)
    for name in ("scrapy", "twisted", "py.warnings", "apscheduler", "trafilatura", "htmldate"):
        logging.getLogger(name).setLevel(libraries)
    # The spider logs each failed feed once, with its source; Scrapy's retry log repeats it.
    logging.getLogger("scrapy.downloadermiddlewares.retry").setLevel(
        logging.CRITICAL if verbosity < 1 else logging.DEBUG
    )
    logging.getLogger("alembic").setLevel(logging.WARNING if verbosity < 1 else logging.INFO)
