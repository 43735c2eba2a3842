"""JSON request bodies and WebSocket messages, decoded with bounded nesting.

The standard library's decoder recurses once per level, bounded only by the recursion limit;
with that limit raised (see app/interpreter.py) 80,000 levels overran the C stack and the
process died without a word. orjson stops at 1,024 levels; anything past MAX_DEPTH is then
refused here, so that no code after decoding (coercion, logging, repr) recurses deeply either.
"""

from __future__ import annotations

import json

import orjson

MAX_DEPTH = 64  # objects and arrays: requests nest a handful of levels


class TooDeep(json.JSONDecodeError):
    """Nested deeper than MAX_DEPTH: refused like undecodable JSON (HTTP 400, WebSocket 4400)."""


def decode(data: str | bytes) -> object:
    """The JSON value of `data`; json.JSONDecodeError (or TooDeep) if it is not one."""
    message = f"JSON nested more than {MAX_DEPTH} levels deep: send flatter variables"
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if "depth limit exceeded" in str(error):  # orjson's own, at 1,024
            raise TooDeep(message, error.doc, error.pos) from error
        raise
    if depth(value, MAX_DEPTH) > MAX_DEPTH:
        raise TooDeep(message, "", 0)
    return value


def depth(value: object, limit: int) -> int:
    """How deep objects and arrays nest in `value`, counted without recursion up to limit + 1."""
    deepest = 0
    stack: list[tuple[dict[str, object] | list[object], int]] = []
    if isinstance(value, dict | list):
        stack.append((value, 1))
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            break
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, level + 1))
    return deepest
