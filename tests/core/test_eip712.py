"""EIP-712 in Python agrees with eth-account's encoder and with the contract."""

from __future__ import annotations

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from app.core.eip712 import (
    Domain,
    SignerAuthorization,
    Voucher,
    channel_id,
    signer_authorization_digest,
    typed_data,
    voucher_digest,
)
from app.core.types import Address, to_address
from tests.factories import make_voucher

addresses = st.binary(min_size=20, max_size=20).map(lambda b: to_address("0x" + b.hex()))
uint256 = st.integers(min_value=0, max_value=2**256 - 1)

GOLDEN_KEY = "0x" + "01" * 32
GOLDEN_DOMAIN = Domain(chain_id=31337, hub=to_address("0x5FbDB2315678afecb367f032d93F642f64180aa3"))
GOLDEN_VOUCHER = Voucher(
    payer=Account.from_key(GOLDEN_KEY).address,  # type: ignore[arg-type]
    payee=to_address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
    token=to_address("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"),
    cumulative_amount=1_250_000,
    purchase=bytes.fromhex("ab" * 32),
)


def eth_account_hash(data: dict[str, object]) -> bytes:
    signable = encode_typed_data(full_message=data)
    return b"\x19" + signable.version + signable.header + signable.body


@given(addresses, addresses, addresses, uint256, st.binary(min_size=32, max_size=32), st.integers(1, 2**64))
def test_voucher_digest_equals_eth_account_for_any_voucher(
    payer: Address, payee: Address, token: Address, amount: int, purchase: bytes, chain_id: int
) -> None:
    domain = Domain(chain_id=chain_id, hub=payee)
    voucher = Voucher(payer, payee, token, amount, purchase)
    assert voucher_digest(domain, voucher) == keccak(eth_account_hash(typed_data(domain, voucher)))


@given(addresses, addresses, uint256, uint256, uint256)
def test_signer_authorization_digest_equals_eth_account(
    payer: Address, signer: Address, allowance: int, valid_until: int, nonce: int
) -> None:
    auth = SignerAuthorization(payer, signer, payer, allowance, valid_until, nonce)
    assert signer_authorization_digest(GOLDEN_DOMAIN, auth) == keccak(
        eth_account_hash(typed_data(GOLDEN_DOMAIN, auth))
    )


def test_golden_vector_with_a_fixed_key() -> None:
    """Fixed inputs, fixed outputs: any change to the hashing or the types breaks this on purpose."""
    assert GOLDEN_DOMAIN.separator.hex() == "a3509be3ce281fc3f3db1bdc8598c607f55ce2c060b0aee1b1ce718a2442a137"
    assert (
        voucher_digest(GOLDEN_DOMAIN, GOLDEN_VOUCHER).hex()
        == "7596200964cd7c4504f9e4bd076f69b410bbd77b5d34d490f670d44b7f7b2166"
    )
    signed = Account.sign_typed_data(GOLDEN_KEY, full_message=typed_data(GOLDEN_DOMAIN, GOLDEN_VOUCHER))
    assert signed.signature.hex() == (
        "51a0af815e33433c7473f7d2f9cea464d541b31bce88d7241d7252840042b93b"
        "78a2ed54ab16792f30edc07f4ac45d4d749c4c0461a49e5373ab3502cc1d29ac1b"
    )


def test_channel_id_is_the_abi_encoding_hash() -> None:
    voucher = make_voucher()

    expected = keccak(
        encode(["address", "address", "address"], [voucher.payer, voucher.payee, voucher.token])
    )
    assert channel_id(voucher.payer, voucher.payee, voucher.token) == expected
