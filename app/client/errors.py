"""The client's errors.

Exception
└── MicropaymentsError    refused: stable .code (UNKNOWN_RESOURCE, INSUFFICIENT_FUNDS,
    │                     UNEXPECTED_TYPED_DATA, UNVERIFIED_RESYNC, ...), .fields
    └── TransportError    no usable answer (NETWORK, TIMEOUT, HTTP_5xx, UNAVAILABLE): retry later
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class MicropaymentsError(Exception):
    """Refused by the server (or by this client checking the server): `code` is stable."""

    def __init__(self, code: str, message: str, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.fields = code, message, dict(fields or {})


class TransportError(MicropaymentsError):
    """The server gave no usable answer; the same call may succeed later."""
