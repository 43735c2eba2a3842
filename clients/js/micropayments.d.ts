// Types of micropayments.js (protocol v2). Amounts are bigints in base units.

import type { Address, Hex, LocalAccount, WalletClient } from "viem";

export declare const MAX_LANE_ENTRIES: 32;

/** A refusal of the server, an error of the API, a check of this client, or UNAVAILABLE (retry). */
export declare class MicropaymentsError extends Error {
  constructor(code: string, message: string, fields?: Record<string, unknown>);
  readonly name: string;
  /** Stable: INSUFFICIENT_FUNDS, CUMULATIVE_MISMATCH, LANE_FULL, SIGNER_CAP_EXCEEDED, UNEXPECTED_TYPED_DATA... */
  readonly code: string;
  readonly fields: Record<string, unknown>;
}

/** An EIP-712 payload as the API sends it: integers are decimal strings. */
export interface TypedData {
  domain: Record<string, unknown>;
  types: Record<string, { name: string; type: string }[]>;
  primaryType: string;
  message: Record<string, any>;
}

export interface Entry {
  payee: Address;
  cumulativeAmount: bigint;
}

export interface Options {
  /** The server, or its /graphql endpoint. */
  url: string;
  /** Who signs: a LocalAccount (a private key, a session key) or a WalletClient (JSON-RPC / EIP-1193).
   * Without one the client only reads: anything that signs throws NO_ACCOUNT. */
  account?: LocalAccount | WalletClient | null;
  /** Whose money pays, when `account` is one of its session keys. */
  payer?: Address | (() => Promise<Address>);
  fetch?: typeof globalThis.fetch;
  WebSocket?: any;
}

export interface Token {
  address: Address;
  symbol: string;
  name: string;
  decimals: number;
}

export interface HubConfig {
  chainId: number;
  hub: Address;
  operator: Address | null;
  maxLaneEntries: number;
  withdrawDelay: number | null;
  /** A JSON-RPC URL the server advertises for wallets to add the chain (PUBLIC_RPC_URL), or null. */
  publicRpcUrl: string | null;
  allowedTokens: Token[];
}

export interface Account {
  payer: Address;
  token: Address;
  balance: bigint;
  pendingWithdrawal: bigint;
  withdrawalAvailableAt: number | null;
  outstanding: bigint;
  headroom: bigint;
}

export interface SignedVoucher {
  payer: Address;
  token: Address;
  lane: bigint;
  entries: Entry[];
  purchase: Hex;
  signature: Hex;
  acknowledgement: Hex;
  signer: Address;
}

export interface Receipt {
  id: string;
  payer: Address;
  payee: Address;
  token: Address;
  /** The payee's amount in this voucher. */
  cumulativeAmount: bigint;
  price: bigint;
  purchase: Hex;
  resourceId: string;
  signer: Address;
  signature: Hex;
  status: "ACCEPTED" | "CLAIMED" | "PAID_OUT" | "FAILED";
  createdAt: number;
  claimTx: Hex | null;
  failure: string | null;
  lane: bigint;
  /** The operator's countersignature of the voucher's EIP-712 digest (checked by pay()). */
  acknowledgement: Hex;
  voucher: SignedVoucher;
}

export interface SessionKey {
  payer: Address;
  signer: Address;
  token: Address;
  lane: bigint;
  maxTotal: bigint;
  spent: bigint;
  validUntil: number;
  revokedAt: number | null;
}

export interface Lane {
  lane: bigint;
  token: Address;
  signer: Address;
  entries: Entry[];
  claimedEntries: Entry[];
  outstanding: bigint;
}

/** An unsigned transaction for the user's own wallet. */
export interface TransactionRequest {
  chainId: number;
  to: Address;
  data: Hex;
  value: bigint;
  description: string;
}

export interface Session {
  token: string;
  address: Address;
  expiresAt: number;
}

export interface Relayed {
  txHash: Hex;
  nonce: number;
}

type AmountLike = bigint | number | string;

export interface Micropayments {
  /** The address whose money pays. */
  payer(): Promise<Address>;
  /** The address that signs: the payer's, or its session key's. */
  signer(): Promise<Address>;
  /** The hub's configuration (asked once). */
  config(): Promise<HubConfig>;
  /** Any GraphQL request, with this client's session. */
  request(query: string, variables?: Record<string, unknown>, opts?: { retry?: boolean }): Promise<any>;
  /** Any subscription over graphql-transport-ws; returns the function that ends it. */
  subscribe(
    query: string,
    variables: Record<string, unknown>,
    onData: (data: any) => void,
    onError: (error: MicropaymentsError) => void,
    hooks?: { onOpen?: () => void },
  ): () => void;

  /**
   * Pays for one action on `resourceId`: voucherToSign (for this client's session key, if it is
   * one), checks it (payer, token, entries = previousEntries with the payee raised by exactly the
   * price, at most 32 entries; throws UNEXPECTED_TYPED_DATA otherwise), signs it, sends it with an
   * idempotency key; resynchronises once on CUMULATIVE_MISMATCH if the server proves its lane.
   */
  pay(resourceId: string, opts?: { maxPrice?: AmountLike; purchase?: Hex }): Promise<Receipt>;
  account(token?: Address | null): Promise<Account>;
  sessionKeys(): Promise<SessionKey[]>;
  lanes(): Promise<Lane[]>;

  /** A fresh session key: grantToSign, checked, signed by the wallet, authorizeSessionKey. No transaction. */
  authorizeSessionKey(params: {
    maxTotal: AmountLike;
    validUntil?: number | bigint | null;
    token?: Address | null;
  }): Promise<{ sessionKey: Address; privateKey: Hex; grant: SessionKey; client: Micropayments }>;
  /** A client of the same payer that signs with that session key. */
  withSessionKey(privateKey: Hex): Micropayments;

  revokeSessionKeyTransaction(signer: Address): Promise<TransactionRequest>;
  requestWithdrawalTransaction(amount: AmountLike, token?: Address | null): Promise<TransactionRequest>;
  cancelWithdrawalTransaction(token?: Address | null): Promise<TransactionRequest>;
  withdrawTransaction(token?: Address | null): Promise<TransactionRequest>;
  withdrawEarningsTransaction(to?: Address | null, token?: Address | null): Promise<TransactionRequest>;
  /** Sends a TransactionRequest with the wallet (WalletClient only). Returns its hash. */
  sendTransaction(tx: TransactionRequest): Promise<Hex>;

  /** A gasless deposit: an EIP-2612 permit the server relays. `token` defaults to the hub's first. */
  depositWithPermit(token: Address | null | undefined, amount: AmountLike, opts?: { deadline?: number | bigint }): Promise<Relayed>;
  /** A gasless deposit: an EIP-3009 ReceiveWithAuthorization the server relays. */
  depositWithAuthorization(
    token: Address | null | undefined,
    amount: AmountLike,
    opts?: { validAfter?: number | bigint; validBefore?: number | bigint },
  ): Promise<Relayed>;

  /** Sign-In with Ethereum; later requests and subscriptions carry the session. */
  signIn(): Promise<Session>;
  /** Carries a session token obtained earlier (or none). */
  useSession(token: string | null): void;
  signOut(): Promise<void>;
  receipts(page?: { first?: number; after?: string | null }): Promise<{
    receipts: Receipt[];
    hasNextPage: boolean;
    endCursor: string | null;
  }>;
  watchAccount(
    token: Address | null | undefined,
    onChange: (account: Account) => void,
    onError?: (error: MicropaymentsError) => void,
  ): Promise<() => void>;
}

export declare function createMicropayments(options: Options): Micropayments;

/** `entries` with `payee` raised by `price` (inserted in address order when new). */
export declare function raised(entries: Entry[], payee: Address, price: bigint): Entry[];

/** The checks pay() makes before signing; returns the typed data it signs and the PayInput. */
export declare function checkVoucherToSign(
  toSign: any,
  expected: { payer: Address; resourceId: string; hub: { chainId: number; hub: Address }; maxPrice?: bigint },
): { typedData: TypedData; input: Record<string, unknown>; price: bigint; payee: Address; lane: bigint; entries: Entry[] };

/** The checks authorizeSessionKey() makes before signing. */
export declare function checkGrantToSign(
  typedData: any,
  expected: {
    payer: Address;
    signer: Address;
    maxTotal: bigint;
    validUntil?: number;
    token?: Address;
    hub: { chainId: number; hub: Address };
  },
): { typedData: TypedData; grant: Record<string, unknown> };

/** The API's typed data with its integers as bigints, as viem signs it. */
export declare function withBigInts(typedData: TypedData): any;

/** The x402 scheme of our lane vouchers (docs/paywall.md). */
export declare const PAYWALL_SCHEME: "micropayment-lane-v2";

/** A receipt from X-PAYMENT-RESPONSE, its acknowledgement checked; `charged` is 0n for a read of what is owned. */
export interface PaywallReceipt {
  id: string;
  resourceId: string;
  payer: Address;
  payee: Address;
  token: Address;
  lane: string;
  price: bigint;
  cumulativeAmount: string;
  acknowledgement: `0x${string}`;
  charged: bigint;
  [field: string]: unknown;
}

/** A fetch that pays HTTP 402s of scheme micropayment-lane-v2 (clients/js/paywall.js). */
export declare function createPaywallFetch(options: {
  account: unknown;
  payer?: Address;
  hub?: { chainId: number; hub: Address };
  operator?: Address;
  maxPrice?: bigint;
  fetch?: typeof fetch;
  /** The payer's receipts with their vouchers (a signed-in client's receipts): proves ownership on this device. */
  receipts?: () => Promise<{ receipts: any[] }>;
}): ((input: RequestInfo | URL, init?: RequestInit) => Promise<Response>) & { receipts: PaywallReceipt[] };
