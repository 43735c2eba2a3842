// The GraphQL documents the page sends itself: what the client (clients/js) has no method for.
// Paying, session keys, deposits, sign-in and the account go through the client.

const ACCOUNT_FIELDS = "balance outstanding headroom pendingWithdrawal withdrawalAvailableAt";
const RECEIPT_FIELDS = "id payer payee price resourceId status createdAt claimTx failure";
const EARNINGS_FIELDS = "accepted withdrawable withdrawn";
const RESOURCE_FIELDS = "id payee creatorName token price title description";

export const RESOURCES = `query Resources($payee: Address, $after: String) {
  resources(payee: $payee, first: 100, after: $after) {
    edges { node { ${RESOURCE_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const ACCOUNT_CHANGED = `subscription AccountChanged($payer: Address!, $token: Address!) {
  accountChanged(payer: $payer, token: $token) { ${ACCOUNT_FIELDS} }
}`;

export const ME = "query Me { me }";

export const RECEIPTS = `query Receipts { receipts(first: 50) { edges { node { ${RECEIPT_FIELDS} } } } }`;

export const RECEIPTS_CHANGED = `subscription ReceiptsChanged($payer: Address!) {
  receiptsChanged(payer: $payer) { id status }
}`;

export const SALES = `query Sales { sales(first: 50) { edges { node { ${RECEIPT_FIELDS} } } } }`;

export const EARNINGS = `query Earnings($payee: Address!, $token: Address!) {
  earnings(payee: $payee, token: $token) { ${EARNINGS_FIELDS} }
}`;

export const EARNINGS_CHANGED = `subscription EarningsChanged($payee: Address!, $token: Address!) {
  earningsChanged(payee: $payee, token: $token) { ${EARNINGS_FIELDS} }
}`;

export const CREATOR_PROFILE = `query CreatorProfile($address: Address!) {
  creatorProfile(address: $address) { displayName }
}`;

export const SET_DISPLAY_NAME = `mutation SetDisplayName($name: String!) {
  setDisplayName(name: $name) {
    __typename
    ... on CreatorProfile { displayName }
    ... on Refused { code message fields }
  }
}`;

export const SAVE_RESOURCE = `mutation SaveResource($input: ResourceInput!) {
  saveResource(input: $input) {
    __typename
    ... on ResourceSaved { resource { ${RESOURCE_FIELDS} } }
    ... on Refused { code message fields }
  }
}`;

export const EXPORT_VOUCHERS = `query ExportVouchers($payee: Address!) { exportVouchers(payee: $payee) }`;

export const CLAIM_TRANSACTION = `query ClaimTransaction($payee: Address!) {
  claimTransaction(payee: $payee) { chainId to data value description }
}`;
