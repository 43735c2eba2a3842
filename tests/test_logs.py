"""LOG_FORMAT=json: one JSON object per line, for a log collector; text stays the default."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from app import logs


def emit(env: dict[str, str]) -> str:
    """What one INFO line with an extra field looks like under the configuration for `env`."""
    config = logs.config(env)
    formatter = logging.config.DictConfigurator(config).configure_formatter(config["formatters"]["default"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.Logger("app.test")
    logger.addHandler(handler)
    logger.info("nonce %d sent", 7, extra={"nonce": 7})
    return stream.getvalue()


def test_json_logs_are_one_object_per_line_with_level_logger_message_and_extras() -> None:
    line = json.loads(emit({"LOG_FORMAT": "json"}))
    assert (line["level"], line["logger"], line["message"], line["nonce"]) == (
        "INFO",
        "app.test",
        "nonce 7 sent",
        7,
    )
    assert line["timestamp"].endswith("+00:00")


def test_text_logs_are_the_default() -> None:
    assert emit({}).rstrip().endswith("INFO app.test: nonce 7 sent")


def test_an_unknown_log_format_is_refused_with_the_choices() -> None:
    with pytest.raises(logs.LogConfigError, match="text, json"):
        logs.config({"LOG_FORMAT": "xml"})


def test_the_level_comes_from_log_level() -> None:
    assert logs.config({"LOG_LEVEL": "debug"})["root"]["level"] == "DEBUG"
