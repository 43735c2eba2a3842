"""How the server logs: text lines for people (the default), or one JSON object per line for a
log collector (LOG_FORMAT=json). LOG_LEVEL sets the level (INFO by default).

The same configuration goes to uvicorn, so its own lines, and those of every worker process it
starts, come out in the same format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# python-json-logger adds whatever a call passes as `extra=` to these fields, and an ISO 8601
# UTC "timestamp".
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class LogConfigError(Exception):
    pass


def config(env: Mapping[str, str]) -> dict[str, Any]:
    """A logging.config.dictConfig dictionary from LOG_FORMAT and LOG_LEVEL."""
    log_format = env.get("LOG_FORMAT", "text").lower()
    if log_format not in FORMATS:
        raise LogConfigError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,
        }
        if log_format == "json"
        else {"format": TEXT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "default"}},
        "root": {"level": env.get("LOG_LEVEL", "INFO").upper(), "handlers": ["default"]},
        # uvicorn's loggers keep no handlers of their own: their lines reach the root's.
        "loggers": {name: {"handlers": [], "propagate": True} for name in UVICORN_LOGGERS},
    }
