"""ECDSA recovery for EIP-712 digests, with the hub's rule (OpenZeppelin's ECDSA.tryRecover):
65-byte (r, s, v) with v 27 or 28, or 64-byte EIP-2098 (r, vs); v = 0/1, high s and malformed
signatures recover nothing, so the client never trusts a signature the hub would refuse."""

from __future__ import annotations

from coincurve import PublicKey

from micropayments_client.addresses import Address, checksum
from micropayments_client.keccak import keccak

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2


def split(signature: bytes) -> tuple[int, int, int] | None:
    """(r, s, y_parity) of a 65- or 64-byte signature, or None if it cannot be one."""
    if len(signature) == 65:
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:64], "big")
        parity = signature[64] - 27  # v must be 27 or 28, as ecrecover wants; 0/1 end up out of range
    elif len(signature) == 64:
        r = int.from_bytes(signature[:32], "big")
        vs = int.from_bytes(signature[32:], "big")
        s, parity = vs & ((1 << 255) - 1), vs >> 255
    else:
        return None
    if parity not in (0, 1) or not 0 < r < SECP256K1_N or not 0 < s <= _HALF_N:
        return None
    return r, s, parity


def recover(digest: bytes, signature: bytes) -> Address | None:
    """The address that signed `digest`, or None for a signature the hub would refuse."""
    parts = split(signature)
    if parts is None:
        return None
    r, s, parity = parts
    try:
        public_key = PublicKey.from_signature_and_message(
            r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([parity]), digest, hasher=None
        )
    except ValueError:  # no point on the curve for this r
        return None
    # The address is the last 20 bytes of keccak256 of the uncompressed key without its 0x04 prefix.
    return checksum(keccak(public_key.format(compressed=False)[1:])[12:])
