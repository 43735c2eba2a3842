"""keccak256, from safe-pysha3 when it is installed (faster), else from eth-hash (which eth-account
brings)."""

from __future__ import annotations

from collections.abc import Callable

keccak: Callable[[bytes], bytes]

try:
    from sha3 import keccak_256

    def keccak(data: bytes) -> bytes:
        return bytes(keccak_256(data).digest())

except ImportError:
    from eth_hash.auto import keccak as _eth_hash_keccak

    keccak = _eth_hash_keccak
