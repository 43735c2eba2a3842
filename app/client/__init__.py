"""A Python client for dApps, protocol v2: pay per action with PayerVouchers, session keys by a
signed grant (no transaction), gasless deposits.

    from app.client import Micropayments

    mp = Micropayments("http://127.0.0.1:8000", key=WALLET_KEY)
    mp.deposit_with_permit(None, 1_000_000)           # 1 USDC, gasless; None: the hub's first token
    print(mp.account()["headroom"])                 # base units, once the deposit is indexed
    receipt = mp.pay("article-1")                   # checks the next voucher, signs it, sends it
    session, grant = mp.authorize_session_key(max_total=500_000)  # one signature, no transaction
    app = Micropayments("http://127.0.0.1:8000", key=session.key, payer=mp.payer)
    app.pay("article-2")                            # at once, no wallet prompt: the key signs
    mp.sign_in()
    print([r["resourceId"] for r in mp.receipts()])

The client signs only what it has checked and built itself (app.core.eip712): a voucher is
signed only if its entries are the lane's previous entries with the resource's payee raised by
exactly the price (inserted in address order if new) and nothing else changed, for this payer
and the resource's token, at most 32 entries (`next_voucher`); a grant only for the key it made,
with the cap and expiry asked (`checked_grant`); a permit field by field. Before it signs again
after a CumulativeMismatch it checks the server's proof (the lane's latest voucher, signed by the
payer or one of its keys), and every receipt must carry the operator's acknowledgement. Amounts
are ints in base units; results are the API's JSON (docs/api.md) with amounts as ints.

    micropayments.py  Micropayments: requests, the payment, session-key, deposit and sign-in flows
    paywall.py        PaywallAuth: an httpx Auth that pays HTTP 402 paywalls (X-PAYMENT)
    checks.py         what it checks before signing (pure): next_voucher, checked_grant, raised
    errors.py         MicropaymentsError, TransportError
"""

from app.client.checks import Purchase, checked_grant, next_voucher, raised
from app.client.errors import MicropaymentsError, TransportError
from app.client.micropayments import Micropayments
from app.client.paywall import PaywallAuth

__all__ = [
    "Micropayments",
    "MicropaymentsError",
    "PaywallAuth",
    "Purchase",
    "TransportError",
    "checked_grant",
    "next_voucher",
    "raised",
]
