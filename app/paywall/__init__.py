"""HTTP 402 for any route: x402's headers and JSON, paid by our lane vouchers (docs/paywall.md).

wire.py        the x402 shapes of our scheme: the 402 body, X-PAYMENT, X-PAYMENT-RESPONSE
middleware.py  Paywall: an ASGI middleware that prices routes by catalog resource and accepts
               the voucher through the same Payments service as GraphQL's pay
"""

from app.paywall.middleware import Paywall
from app.paywall.wire import PAYER_HEADER, PAYMENT_HEADER, PAYMENT_RESPONSE_HEADER, SCHEME, X402_VERSION

__all__ = ["PAYER_HEADER", "PAYMENT_HEADER", "PAYMENT_RESPONSE_HEADER", "SCHEME", "X402_VERSION", "Paywall"]
