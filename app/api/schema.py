"""The schema: what each field is and which resolver answers it.

`schema` is built at import time without services (they come with each
request's context) and without limits: it is what `export_sdl` prints. A
served schema is the same types with the extensions of its settings
(`build_schema(schema_extensions(settings, ...))`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from app.api import mutations, profiles, queries, subscriptions, transactions
from app.api.masking import is_unexpected
from app.api.results import REFUSAL_HANDLERS
from app.api.scalars import SCALARS

log = logging.getLogger(__name__)

_OWNER = " Only to the signed-in owner."


@strawberry.type(
    description="What the server knows: the hub, accounts, receipts, resources, payloads to sign."
)
class Query:
    config = strawberry.field(
        resolver=queries.config, description="The chain, the hub and the EIP-712 types to sign."
    )
    tokens = strawberry.field(resolver=queries.tokens, description="Every token the hub has listed.")
    account = strawberry.field(
        resolver=queries.account,
        description="A payer's balance and headroom in one token (public, like balances on chain).",
    )
    lanes = strawberry.field(
        resolver=queries.lanes,
        description="A payer's lanes: each an ordered vector of cumulative amounts per payee." + _OWNER,
    )
    receipts = strawberry.field(
        resolver=queries.receipts,
        description="Receipts of the signed-in payer (its vouchers), newest first." + _OWNER,
    )
    sales = strawberry.field(
        resolver=queries.sales,
        description="Receipts paid to the signed-in creator (its sales), newest first." + _OWNER,
    )
    receipt = strawberry.field(
        resolver=queries.receipt,
        description="A receipt of the signed-in payer or payee. Null when there is none or it is "
        "someone else's: receipt ids derive from vouchers, so they must not reveal what exists.",
    )
    session_keys = strawberry.field(
        resolver=queries.session_keys, description="A payer's session keys: the grants it signed."
    )
    resources = strawberry.field(
        resolver=queries.resources,
        description="Resources for sale, ordered by id; optionally of one creator.",
    )
    resource = strawberry.field(resolver=queries.resource, description="A resource by id.")
    access = strawberry.field(
        resolver=queries.access,
        description="What a payer holds of a resource now: a purchase owned, a pass running (and until "
        "when). Public like balances; the receipt only for the payer or payee signed in.",
    )
    earnings = strawberry.field(
        resolver=queries.earnings, description="A creator's earnings in one token." + _OWNER
    )
    voucher_to_sign = strawberry.field(
        resolver=queries.voucher_to_sign,
        description="The next voucher to pay for a resource: the lane's last vector with the resource's "
        "payee raised by its price. With `signer` (a session key with a grant), on the key's lane; else on "
        "the payer's wallet lane. Without `purchase`, a fresh random one binds the voucher to this purchase.",
    )
    grant_to_sign = strawberry.field(
        resolver=queries.grant_to_sign,
        description="A SessionGrant letting `signer` sign the payer's vouchers on a fresh lane, while the "
        "lane totals at most `maxTotal`, until `validUntil` (default: 30 days; token: the first listed).",
    )
    permit_to_sign = strawberry.field(
        resolver=queries.permit_to_sign,
        description="An EIP-2612 permit for a gasless deposit (depositWithPermit).",
    )
    receive_authorization_to_sign = strawberry.field(
        resolver=queries.receive_authorization_to_sign,
        description="An EIP-3009 ReceiveWithAuthorization for a gasless deposit (depositWithAuthorization).",
    )
    sign_in_message = strawberry.field(
        resolver=queries.sign_in_message,
        description="A Sign-In with Ethereum (EIP-4361) message for `address` to sign with personal_sign "
        "and pass to signIn. Its nonce is single-use and expires.",
    )
    me = strawberry.field(resolver=queries.me, description="The signed-in address, or null.")
    creator_profile = strawberry.field(
        resolver=profiles.creator_profile, description="How a creator is shown: its display name."
    )
    export_vouchers = strawberry.field(
        resolver=transactions.export_vouchers,
        description="The creator's exit: the latest unclaimed voucher of each lane that pays it, in the form "
        "hub.claim takes, with the hub and chain: enough to be paid with no server at all." + _OWNER,
    )
    claim_transaction = strawberry.field(
        resolver=transactions.claim_transaction,
        description="A hub.claim transaction of the creator's unclaimed vouchers, for its own wallet."
        + _OWNER,
    )
    revoke_session_key_transaction = strawberry.field(
        resolver=transactions.revoke_session_key_transaction,
        description="hub.revokeSigner(signer), for the payer's wallet: the key's vouchers stay claimable "
        "for the withdrawal delay, then it signs nothing more.",
    )
    withdraw_earnings_transaction = strawberry.field(
        resolver=transactions.withdraw_earnings_transaction,
        description="hub.withdrawEarnings(token, to), for the payee's wallet to send.",
    )
    request_withdrawal_transaction = strawberry.field(
        resolver=transactions.request_withdrawal_transaction,
        description="The payer's exit, step 1: hub.requestWithdrawal(token, amount). Vouchers already "
        "accepted are still settled during the delay; the headroom shrinks as soon as it is seen.",
    )
    cancel_withdrawal_transaction = strawberry.field(
        resolver=transactions.cancel_withdrawal_transaction,
        description="hub.cancelWithdrawal(token), for the payer's wallet.",
    )
    withdraw_transaction = strawberry.field(
        resolver=transactions.withdraw_transaction,
        description="The payer's exit, step 2, after the delay: hub.withdraw(token) pays "
        "min(requested, balance).",
    )
    meta = strawberry.field(
        resolver=queries.meta, name="_meta", description="How far the index has followed the chain."
    )


@strawberry.type(description="Payments, sign-in, listings, and transactions the operator relays.")
class Mutation:
    pay = strawberry.mutation(
        resolver=mutations.pay,
        description="Pays for a resource with a signed voucher. Paying the same voucher again returns "
        "the same receipt and charges nothing.",
    )
    pay_batch = strawberry.mutation(
        resolver=mutations.pay_batch,
        description="Pays many vouchers in one transaction; each is accepted or refused on its own, the "
        "results in the order of `inputs`. More than MAX_BATCH inputs are refused as a whole.",
    )
    sign_in = strawberry.mutation(
        resolver=mutations.sign_in,
        description="Signs in with a signInMessage signed by EIP-191 personal_sign; each message once.",
    )
    sign_out = strawberry.mutation(
        resolver=mutations.sign_out,
        description="Ends the session of the bearer token; false if there was none.",
    )
    save_resource = strawberry.mutation(
        resolver=mutations.save_resource,
        description="Lists a resource for sale by the signed-in creator (its payee), or updates its own.",
    )
    set_display_name = strawberry.mutation(
        resolver=profiles.set_display_name,
        description="Sets the signed-in creator's display name, shown with its address on its resources.",
    )
    authorize_session_key = strawberry.mutation(
        resolver=transactions.authorize_session_key,
        description="Saves a SessionGrant the payer signed (see grantToSign): no transaction, the key can "
        "pay at once. The grant rides with the claims of the key's vouchers.",
    )
    deposit_with_permit = strawberry.mutation(
        resolver=transactions.deposit_with_permit,
        description="A gasless deposit: relays an EIP-2612 permit (see permitToSign) with "
        "hub.depositWithPermit.",
    )
    deposit_with_authorization = strawberry.mutation(
        resolver=transactions.deposit_with_authorization,
        description="A gasless deposit: relays an EIP-3009 ReceiveWithAuthorization (see "
        "receiveAuthorizationToSign) with hub.depositWithAuthorization.",
    )


@strawberry.type(description="Live updates over WebSocket (graphql-transport-ws).")
class Subscription:
    account_changed = strawberry.subscription(
        resolver=subscriptions.account_changed,
        description="The account now, then after every change to it (deposits, withdrawals, accepted "
        "vouchers, claims).",
    )
    receipts_changed = strawberry.subscription(
        resolver=subscriptions.receipts_changed,
        description="Each receipt of the payer as it is accepted, and the latest of a lane when a "
        "claim changes its status. Authenticate the WebSocket in connection_init first." + _OWNER,
    )
    earnings_changed = strawberry.subscription(
        resolver=subscriptions.earnings_changed,
        description="A creator's earnings now, then after every sale, claim or withdrawal." + _OWNER,
    )


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Refusals and bad requests are the client's business; limits.Masking logs the rest.
        for error in errors:
            if is_unexpected(error):
                log.debug("error to be masked: %s", error.message)


def build_schema(extensions: Iterable[Callable[[], SchemaExtension]] = ()) -> Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=list(extensions),
        config=StrawberryConfig(scalar_map=SCALARS),
        exception_handlers=REFUSAL_HANDLERS,
    )


schema = build_schema()
