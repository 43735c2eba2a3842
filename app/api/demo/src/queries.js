// Every GraphQL document the page sends (see schema.graphql).

const ACCOUNT_FIELDS = "balance outstanding headroom pendingWithdrawal";
const RECEIPT_FIELDS = "id payer payee price resourceId status createdAt claimTx failure";
const EARNINGS_FIELDS = "accepted withdrawable withdrawn";
const RESOURCE_FIELDS = "id payee token price title description";

export const CONFIG = `{
  config { chainId hub allowedTokens { address symbol name decimals } }
}`;

export const RESOURCES = `query Resources($payee: Address, $after: String) {
  resources(payee: $payee, first: 100, after: $after) {
    edges { node { ${RESOURCE_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const ACCOUNT = `query Account($payer: Address!, $token: Address!) {
  account(payer: $payer, token: $token) { ${ACCOUNT_FIELDS} }
}`;

export const ACCOUNT_CHANGED = `subscription AccountChanged($payer: Address!, $token: Address!) {
  accountChanged(payer: $payer, token: $token) { ${ACCOUNT_FIELDS} }
}`;

export const SIGN_IN_MESSAGE = `query SignInMessage($address: Address!) { signInMessage(address: $address) }`;

export const SIGN_IN = `mutation SignIn($message: String!, $signature: Bytes!) {
  signIn(message: $message, signature: $signature) {
    __typename
    ... on Session { token address expiresAt }
    ... on Refusal { code message }
  }
}`;

export const SIGN_OUT = "mutation SignOut { signOut }";

export const ME = "{ me }";

export const PERMIT_TO_SIGN = `query PermitToSign($owner: Address!, $token: Address!, $amount: Amount!, $deadline: Timestamp!) {
  permitToSign(owner: $owner, token: $token, amount: $amount, deadline: $deadline) { typedData }
}`;

const RELAY_RESULT = `__typename ... on RelayedTransaction { txHash } ... on Refusal { code message }`;

export const DEPOSIT_WITH_PERMIT = `mutation DepositWithPermit(
  $payer: Address!, $token: Address!, $amount: Amount!, $deadline: Timestamp!, $signature: Bytes!
) {
  depositWithPermit(payer: $payer, token: $token, amount: $amount, deadline: $deadline, signature: $signature) {
    ${RELAY_RESULT}
  }
}`;

export const SIGNER_AUTHORIZATION_TO_SIGN = `query SignerAuthorizationToSign(
  $payer: Address!, $signer: Address!, $token: Address!, $allowance: Amount!, $validUntil: Timestamp!
) {
  signerAuthorizationToSign(
    payer: $payer, signer: $signer, token: $token, allowance: $allowance, validUntil: $validUntil
  ) { typedData }
}`;

export const REGISTER_SESSION_KEY = `mutation RegisterSessionKey($authorization: SignerAuthorizationInput!, $signature: Bytes!) {
  registerSessionKey(authorization: $authorization, signature: $signature) { ${RELAY_RESULT} }
}`;

export const SESSION_KEYS = `query SessionKeys($payer: Address!) {
  sessionKeys(payer: $payer) { signer token allowance outstanding validUntil revokeAt }
}`;

export const VOUCHER_TO_SIGN = `query VoucherToSign($payer: Address!, $resourceId: String!) {
  voucherToSign(payer: $payer, resourceId: $resourceId) { typedData }
}`;

export const PAY = `mutation Pay($input: PayInput!) {
  pay(input: $input) {
    __typename
    ... on PaymentAccepted { receipt { ${RECEIPT_FIELDS} } }
    ... on InsufficientFunds { headroom price }
    ... on CumulativeMismatch { expected }
    ... on Refusal { code message }
  }
}`;

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

export const WITHDRAW_EARNINGS_TRANSACTION = `query WithdrawEarningsTransaction($token: Address!, $to: Address!) {
  withdrawEarningsTransaction(token: $token, to: $to) { chainId to data value description }
}`;
