"""keccak256, from safe-pysha3 when it is installed (about four times faster than eth-hash's
default backend, and hashing is on every pay's path), else from eth-hash."""

from __future__ import annotations

from collections.abc import Callable

keccak: Callable[[bytes], bytes]

try:
    from sha3 import keccak_256

    def keccak(data: bytes) -> bytes:
        return bytes(keccak_256(data).digest())

except ImportError:  # pragma: no cover - the pinned dependencies include safe-pysha3
    from eth_hash.auto import keccak as _eth_hash_keccak

    keccak = _eth_hash_keccak
