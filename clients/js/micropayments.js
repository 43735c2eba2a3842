// The micropayment hub's client for browsers and Node (>= 20): pay per action with EIP-712
// vouchers signed by a viem account, a browser wallet or a session key.
//
//     MicropaymentsError    a refusal (stable `code`, `message`, structured `fields`), an
//                           error of the API (`extensions.code`), or UNAVAILABLE (no answer)
//
// Amounts are bigints in the token's base units; on the wire they are decimal strings.

import { getAddress, isAddressEqual, keccak256, recoverTypedDataAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

/**
 * @typedef {import("viem").Address} Address
 * @typedef {import("viem").Hex} Hex
 * @typedef {import("viem").LocalAccount} LocalAccount
 * @typedef {import("viem").WalletClient} WalletClient
 *
 * @typedef {{ domain: Record<string, unknown>, types: Record<string, { name: string, type: string }[]>,
 *   primaryType: string, message: Record<string, any> }} TypedData  as the API sends it
 *
 * @typedef {{ payer: Address, token: Address, balance: bigint, pendingWithdrawal: bigint,
 *   withdrawalAvailableAt: number | null, outstanding: bigint, headroom: bigint }} Account
 *
 * @typedef {{ id: string, payer: Address, payee: Address, token: Address, cumulativeAmount: bigint,
 *   price: bigint, purchase: Hex, resourceId: string, signer: Address, signature: Hex,
 *   status: "ACCEPTED" | "CLAIMED" | "PAID_OUT" | "FAILED", createdAt: number, claimTx: Hex | null,
 *   failure: string | null }} Receipt
 *
 * @typedef {{ signer: Address, token: Address, allowance: bigint, outstanding: bigint,
 *   validUntil: number, revokeAt: number | null }} SessionKey
 *
 * @typedef {{ token: string, address: Address, expiresAt: number }} Session
 *
 * @typedef {{ url: string, account: LocalAccount | WalletClient, payer?: Address | (() => Promise<Address>),
 *   fetch?: typeof globalThis.fetch, WebSocket?: any }} Options
 */

/** A refusal or an error of the API, with a stable `code` (e.g. INSUFFICIENT_FUNDS). */
export class MicropaymentsError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {Record<string, unknown>} [fields]
   */
  constructor(code, message, fields = {}) {
    super(message);
    this.name = "MicropaymentsError";
    this.code = code;
    this.fields = fields;
  }
}

const REFUSAL = "... on Refusal { code message } ... on Refused { fields }";
const ACCOUNT = "payer token balance pendingWithdrawal withdrawalAvailableAt outstanding headroom";
const RECEIPT =
  "id payer payee token cumulativeAmount price purchase resourceId signer signature status createdAt claimTx failure";
const SIGNED_VOUCHER = "payer payee token cumulativeAmount purchase signature";
const RELAYED = `__typename ... on RelayedTransaction { txHash nonce } ${REFUSAL}`;

const Q = {
  voucher: `query Voucher($payer: Address!, $resourceId: String!) {
    voucherToSign(payer: $payer, resourceId: $resourceId) { typedData }
    resource(id: $resourceId) { price }
  }`,
  pay: `mutation Pay($input: PayInput!, $key: String) {
    pay(input: $input, idempotencyKey: $key) {
      __typename
      ... on PaymentAccepted { receipt { ${RECEIPT} } }
      ... on CumulativeMismatch { expected latest { ${SIGNED_VOUCHER} } }
      ... on InsufficientFunds { headroom price }
      ${REFUSAL}
    }
  }`,
  account: `query Account($payer: Address!, $token: Address!) { account(payer: $payer, token: $token) { ${ACCOUNT} } }`,
  sessionKeys: `query SessionKeys($payer: Address!) {
    sessionKeys(payer: $payer) { signer token allowance outstanding validUntil revokeAt }
  }`,
  tokens: "query Tokens { config { allowedTokens { address } } }",
  signerAuthorization: `query SignerAuthorization($payer: Address!, $signer: Address!, $token: Address!,
      $allowance: Amount!, $validUntil: Timestamp!) {
    signerAuthorizationToSign(payer: $payer, signer: $signer, token: $token, allowance: $allowance,
      validUntil: $validUntil) { typedData }
  }`,
  registerSessionKey: `mutation RegisterSessionKey($authorization: SignerAuthorizationInput!, $signature: Bytes!,
      $key: String) {
    registerSessionKey(authorization: $authorization, signature: $signature, idempotencyKey: $key) { ${RELAYED} }
  }`,
  permit: `query Permit($owner: Address!, $token: Address!, $amount: Amount!, $deadline: Timestamp!) {
    permitToSign(owner: $owner, token: $token, amount: $amount, deadline: $deadline) { typedData }
  }`,
  depositWithPermit: `mutation DepositWithPermit($payer: Address!, $token: Address!, $amount: Amount!,
      $deadline: Timestamp!, $signature: Bytes!, $key: String) {
    depositWithPermit(payer: $payer, token: $token, amount: $amount, deadline: $deadline,
      signature: $signature, idempotencyKey: $key) { ${RELAYED} }
  }`,
  signInMessage: "query SignInMessage($address: Address!) { signInMessage(address: $address) }",
  signIn: `mutation SignIn($message: String!, $signature: Bytes!) {
    signIn(message: $message, signature: $signature) {
      __typename ... on Session { token address expiresAt } ${REFUSAL}
    }
  }`,
  receipts: `query Receipts($first: Int!, $after: String) {
    receipts(first: $first, after: $after) { edges { node { ${RECEIPT} } } pageInfo { hasNextPage endCursor } }
  }`,
  accountChanged: `subscription AccountChanged($payer: Address!, $token: Address!) {
    accountChanged(payer: $payer, token: $token) { ${ACCOUNT} }
  }`,
};

/**
 * A client of the micropayment API at `url` (the server, or its /graphql endpoint) that signs
 * with `account`: a viem LocalAccount (privateKeyToAccount, a session key) or a WalletClient
 * (createWalletClient({ transport: custom(window.ethereum) }), with or without an account).
 * `payer` is whose money pays, when `account` is one of its session keys.
 * @param {Options} options
 */
export function createMicropayments(options) {
  const { account } = options;
  const endpoint = options.url.replace(/\/+$/, "").replace(/(\/graphql)?$/, "/graphql");
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  /** @type {string | null} */
  let sessionToken = null;
  const signer = signerOf(account);
  /** @returns {Promise<Address>} */
  const payer = async () => {
    const { payer } = options;
    return getAddress(typeof payer === "function" ? await payer() : (payer ?? (await signer.address())));
  };
  /** @type {Promise<Address> | null} */
  let onlyToken = null;

  /**
   * @param {string} query
   * @param {Record<string, unknown>} [variables]
   * @param {{ retry?: boolean }} [opts]  retry once when no answer came: only for idempotent requests
   * @returns {Promise<any>}
   */
  async function request(query, variables = {}, { retry = false } = {}) {
    /** @type {Record<string, string>} */
    const headers = { "content-type": "application/json", accept: "application/json" };
    if (sessionToken) headers.authorization = `Bearer ${sessionToken}`;
    let response;
    try {
      response = await fetchImpl(endpoint, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    } catch (error) {
      if (retry) return request(query, variables);
      const why = /** @type {Error} */ (error).message;
      throw new MicropaymentsError("UNAVAILABLE", `no answer from ${endpoint}: ${why}`);
    }
    /** @type {any} */
    let body;
    try {
      body = await response.json();
    } catch {
      if (retry && response.status >= 500) return request(query, variables);
      throw new MicropaymentsError("UNAVAILABLE", `${endpoint} answered HTTP ${response.status}, not JSON`);
    }
    if (body.errors?.length) {
      const error = errorOf(body.errors[0]);
      if (retry && error.code === "UNAVAILABLE") return request(query, variables);
      throw error;
    }
    return body.data;
  }

  /** @param {Address | undefined} token */
  async function tokenOr(token) {
    if (token) return getAddress(token);
    onlyToken ??= request(Q.tokens).then(({ config }) => {
      const tokens = config.allowedTokens;
      if (tokens.length !== 1) {
        throw new MicropaymentsError("INVALID_INPUT", `the hub lists ${tokens.length} tokens: name one`);
      }
      return getAddress(tokens[0].address);
    });
    onlyToken.catch(() => {
      onlyToken = null;
    });
    return onlyToken;
  }

  /**
   * The voucher signed, as a PayInput.
   * @param {TypedData} typedData
   * @param {string} resourceId
   */
  async function signVoucher(typedData, resourceId) {
    const signature = await signer.signTypedData(typedData);
    const { payer, payee, token, cumulativeAmount, purchase } = typedData.message;
    return { payer, payee, token, cumulativeAmount: String(cumulativeAmount), purchase, signature, resourceId };
  }

  /** @param {Record<string, unknown>} input */
  async function submit(input) {
    // The key derives from the signed voucher: resending it can never pay twice.
    const key = `pay:${keccak256(/** @type {Hex} */ (input.signature))}`;
    return (await request(Q.pay, { input, key }, { retry: true })).pay;
  }

  /**
   * Checks a CumulativeMismatch before signing more: the server's latest voucher must be ours
   * (signed by the payer or one of its session keys), and `expected` its amount plus the price.
   * @param {any} mismatch
   * @param {TypedData} typedData  the voucher that was refused
   * @param {bigint} price
   */
  async function checkMismatch(mismatch, typedData, price) {
    const { latest } = mismatch;
    const refuse = (/** @type {string} */ why) => {
      throw new MicropaymentsError("CUMULATIVE_MISMATCH", `${mismatch.message} (not resynchronised: ${why})`, {
        expected: mismatch.expected,
        latest,
      });
    };
    if (!latest) return refuse("the server shows no voucher of this channel to check");
    const ours = typedData.message;
    for (const field of ["payer", "payee", "token"]) {
      if (!isAddressEqual(latest[field], ours[field])) refuse(`its latest voucher has another ${field}`);
    }
    if (BigInt(mismatch.expected) !== BigInt(latest.cumulativeAmount) + price) {
      refuse(`${mismatch.expected} is not ${latest.cumulativeAmount} plus the price ${price}`);
    }
    const recovered = await recoverTypedDataAddress({
      ...withBigInts(typedData),
      message: withBigInts({ ...typedData, message: latest }).message,
      signature: latest.signature,
    });
    if (isAddressEqual(recovered, ours.payer)) return;
    const { sessionKeys } = await request(Q.sessionKeys, { payer: ours.payer });
    if (!sessionKeys.some((/** @type {any} */ key) => isAddressEqual(key.signer, recovered))) {
      refuse(`its latest voucher is signed by ${recovered}, neither the payer nor one of its session keys`);
    }
  }

  /**
   * Subscribes over graphql-transport-ws; returns a function that unsubscribes.
   * @param {string} query
   * @param {Record<string, unknown>} variables
   * @param {(data: any) => void} onData
   * @param {(error: MicropaymentsError) => void} onError
   */
  function subscribe(query, variables, onData, onError) {
    const WebSocketImpl = options.WebSocket ?? globalThis.WebSocket;
    if (!WebSocketImpl) {
      throw new MicropaymentsError(
        "NOT_SUPPORTED",
        "no WebSocket: pass one as the WebSocket option (Node 20: run with --experimental-websocket, or pass ws's)",
      );
    }
    const socket = new WebSocketImpl(endpoint.replace(/^http/, "ws"), "graphql-transport-ws");
    const send = (/** @type {object} */ message) => socket.send(JSON.stringify(message));
    let done = false;
    const fail = (/** @type {MicropaymentsError} */ error) => {
      if (done) return;
      done = true;
      socket.close(1000);
      onError(error);
    };
    socket.addEventListener("open", () => {
      send({ type: "connection_init", payload: sessionToken ? { authorization: `Bearer ${sessionToken}` } : {} });
    });
    socket.addEventListener("message", (/** @type {any} */ event) => {
      const text = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data);
      const message = JSON.parse(text);
      switch (message.type) {
        case "connection_ack":
          send({ id: "1", type: "subscribe", payload: { query, variables } });
          break;
        case "ping":
          send({ type: "pong" });
          break;
        case "next": {
          const [error] = message.payload.errors ?? [];
          if (error) fail(errorOf(error));
          else if (!done) onData(message.payload.data);
          break;
        }
        case "error": {
          fail(errorOf(message.payload[0] ?? { message: "the subscription was refused" }));
          break;
        }
        case "complete":
          fail(new MicropaymentsError("COMPLETE", "the server ended the subscription"));
          break;
      }
    });
    socket.addEventListener("close", (/** @type {any} */ event) => {
      fail(new MicropaymentsError("UNAVAILABLE", `the WebSocket closed (${event.code} ${event.reason ?? ""})`));
    });
    return () => {
      if (done) return;
      done = true;
      if (socket.readyState === 1) send({ id: "1", type: "complete" });
      socket.close(1000);
    };
  }

  const client = {
    /** The address whose money pays. */
    payer,

    /**
     * Pays for one action on `resourceId`; resynchronises once if another client of the same
     * payer paid meanwhile. Throws MicropaymentsError with the refusal's code.
     * @param {string} resourceId
     * @returns {Promise<Receipt>}
     */
    async pay(resourceId) {
      const address = await payer();
      const data = await request(Q.voucher, { payer: address, resourceId });
      /** @type {TypedData} */
      const typedData = data.voucherToSign.typedData;
      if (!isAddressEqual(typedData.message.payer, address)) {
        throw new MicropaymentsError("INVALID_INPUT", `the server's voucher is for ${typedData.message.payer}`);
      }
      const price = BigInt(data.resource.price);
      let result = await submit(await signVoucher(typedData, resourceId));
      if (result.__typename === "CumulativeMismatch") {
        await checkMismatch(result, typedData, price);
        const resync = { ...typedData, message: { ...typedData.message, cumulativeAmount: result.expected } };
        result = await submit(await signVoucher(resync, resourceId));
      }
      if (result.__typename === "PaymentAccepted") return receiptOf(result.receipt);
      throw refusalError(result);
    },

    /**
     * The payer's money in `token` (by default the hub's only token), as the server sees it.
     * @param {Address} [token]
     * @returns {Promise<Account>}
     */
    async account(token) {
      const data = await request(Q.account, { payer: await payer(), token: await tokenOr(token) });
      return accountOf(data.account);
    },

    /**
     * The payer's session keys, as registered on chain.
     * @returns {Promise<SessionKey[]>}
     */
    async sessionKeys() {
      const { sessionKeys } = await request(Q.sessionKeys, { payer: await payer() });
      return sessionKeys.map((/** @type {any} */ key) => ({
        ...key,
        allowance: BigInt(key.allowance),
        outstanding: BigInt(key.outstanding),
      }));
    },

    /**
     * Authorises a fresh session key to pay up to `allowance` until `validUntil` (unix seconds),
     * relayed by the server (no gas). The key pays once the server has indexed the relay
     * (see sessionKeys()). Keep `privateKey` secret: it spends the payer's money.
     * @param {{ allowance: bigint | number | string, validUntil: number | bigint, token?: Address }} params
     */
    async authorizeSessionKey({ allowance, validUntil, token }) {
      const address = await payer();
      if (!isAddressEqual(address, await signer.address())) {
        throw new MicropaymentsError("FORBIDDEN", "only the payer itself can authorise a session key");
      }
      const privateKey = generatePrivateKey();
      const sessionKey = privateKeyToAccount(privateKey).address;
      const data = await request(Q.signerAuthorization, {
        payer: address,
        signer: sessionKey,
        token: await tokenOr(token),
        allowance: String(allowance),
        validUntil: Number(validUntil),
      });
      /** @type {TypedData} */
      const typedData = data.signerAuthorizationToSign.typedData;
      const signature = await signer.signTypedData(typedData);
      const m = typedData.message;
      const authorization = Object.fromEntries(
        ["payer", "signer", "token", "allowance", "validUntil", "nonce"].map((name) => [name, String(m[name])]),
      );
      const { registerSessionKey } = await request(
        Q.registerSessionKey,
        { authorization, signature, key: `session-key:${keccak256(signature)}` },
        { retry: true },
      );
      const { txHash } = relayed(registerSessionKey);
      return { sessionKey, privateKey, txHash, client: client.withSessionKey(privateKey) };
    },

    /**
     * A client of the same payer that signs with a session key (no wallet prompts).
     * @param {Hex} privateKey
     */
    withSessionKey(privateKey) {
      return createMicropayments({ ...options, account: privateKeyToAccount(privateKey), payer });
    },

    /**
     * Deposits `amount` of `token` from the payer's wallet with an EIP-2612 permit the server
     * relays (no gas). `deadline` (unix seconds) defaults to an hour from now.
     * @param {Address} token
     * @param {bigint | number | string} amount
     * @param {{ deadline?: number | bigint }} [opts]
     */
    async depositWithPermit(token, amount, { deadline } = {}) {
      const owner = await signer.address();
      const until = Number(deadline ?? Math.floor(Date.now() / 1000) + 3600);
      const terms = { token: getAddress(token), amount: String(amount), deadline: until };
      const { permitToSign } = await request(Q.permit, { owner, ...terms });
      const signature = await signer.signTypedData(permitToSign.typedData);
      const { depositWithPermit } = await request(
        Q.depositWithPermit,
        { payer: owner, ...terms, signature, key: `permit:${keccak256(signature)}` },
        { retry: true },
      );
      return relayed(depositWithPermit);
    },

    /**
     * Signs in with Sign-In with Ethereum (personal_sign); later requests and subscriptions of
     * this client carry the session.
     * @returns {Promise<Session>}
     */
    async signIn() {
      const address = await signer.address();
      const { signInMessage } = await request(Q.signInMessage, { address });
      const signature = await signer.signMessage(signInMessage);
      const { signIn } = await request(Q.signIn, { message: signInMessage, signature });
      if (signIn.__typename !== "Session") throw refusalError(signIn);
      sessionToken = signIn.token;
      return signIn;
    },

    /**
     * The signed-in payer's receipts, newest first, a page at a time.
     * @param {{ first?: number, after?: string | null }} [page]
     * @returns {Promise<{ receipts: Receipt[], hasNextPage: boolean, endCursor: string | null }>}
     */
    async receipts({ first = 20, after = null } = {}) {
      const { receipts } = await request(Q.receipts, { first, after });
      return {
        receipts: receipts.edges.map((/** @type {any} */ edge) => receiptOf(edge.node)),
        ...receipts.pageInfo,
      };
    },

    /**
     * Calls `onChange` with the payer's account now, then after every change to it, until the
     * returned function is called. Needs a WebSocket: global in browsers and Node >= 22;
     * on Node 20 pass one as the WebSocket option (or run node with --experimental-websocket).
     * @param {Address | undefined} token
     * @param {(account: Account) => void} onChange
     * @param {(error: MicropaymentsError) => void} [onError]
     * @returns {Promise<() => void>}
     */
    async watchAccount(token, onChange, onError = () => {}) {
      const variables = { payer: await payer(), token: await tokenOr(token) };
      return subscribe(Q.accountChanged, variables, (data) => onChange(accountOf(data.accountChanged)), onError);
    },
  };
  return client;
}

/**
 * How to sign with either a LocalAccount or a WalletClient (JSON-RPC / EIP-1193 wallets).
 * @param {LocalAccount | WalletClient} account
 */
function signerOf(account) {
  const local = /** @type {LocalAccount} */ (account);
  if (local?.type === "local") {
    return {
      address: async () => local.address,
      signTypedData: (/** @type {TypedData} */ typedData) => local.signTypedData(withBigInts(typedData)),
      signMessage: (/** @type {string} */ message) => local.signMessage({ message }),
    };
  }
  const wallet = /** @type {WalletClient} */ (account);
  if (typeof wallet?.signTypedData !== "function" || typeof wallet?.request !== "function") {
    throw new TypeError("account must be a viem LocalAccount or a WalletClient");
  }
  /** @type {Promise<any> | null} */
  let resolved = null;
  const walletAccount = async () => {
    resolved ??= (async () => {
      if (wallet.account) return wallet.account;
      // eth_accounts first: eth_requestAccounts prompts, and only when the site is not yet connected.
      let addresses = await wallet.getAddresses();
      if (!addresses.length) addresses = await wallet.requestAddresses();
      const [address] = addresses;
      if (!address) throw new MicropaymentsError("UNAUTHENTICATED", "the wallet has no account");
      return address;
    })();
    resolved.catch(() => {
      resolved = null; // a refused prompt may be accepted next time
    });
    return resolved;
  };
  return {
    address: async () => {
      const which = await walletAccount();
      return getAddress(typeof which === "string" ? which : which.address);
    },
    signTypedData: async (/** @type {TypedData} */ typedData) =>
      wallet.signTypedData({ account: await walletAccount(), ...withBigInts(typedData) }),
    signMessage: async (/** @type {string} */ message) =>
      wallet.signMessage({ account: await walletAccount(), message }),
  };
}

/**
 * The typed data with its integers as bigints, which viem needs (the API sends decimal strings).
 * @param {TypedData} typedData
 * @returns {any}
 */
export function withBigInts(typedData) {
  const { types } = typedData;
  /** @type {(type: string, value: any) => any} */
  const convert = (type, value) => {
    if (type.endsWith("]")) return value.map((/** @type {any} */ item) => convert(type.replace(/\[\d*\]$/, ""), item));
    if (types[type]) {
      return Object.fromEntries(types[type].map((field) => [field.name, convert(field.type, value[field.name])]));
    }
    return /^u?int\d*$/.test(type) ? BigInt(value) : value;
  };
  const domain = { ...typedData.domain };
  if (domain.chainId !== undefined) domain.chainId = BigInt(/** @type {any} */ (domain.chainId));
  const { EIP712Domain: _, ...messageTypes } = types;
  return {
    domain,
    types: messageTypes,
    primaryType: typedData.primaryType,
    message: convert(typedData.primaryType, typedData.message),
  };
}

/** @param {any} account @returns {Account} */
function accountOf(account) {
  return {
    ...account,
    balance: BigInt(account.balance),
    pendingWithdrawal: BigInt(account.pendingWithdrawal),
    outstanding: BigInt(account.outstanding),
    headroom: BigInt(account.headroom),
  };
}

/** @param {any} receipt @returns {Receipt} */
function receiptOf(receipt) {
  return { ...receipt, cumulativeAmount: BigInt(receipt.cumulativeAmount), price: BigInt(receipt.price) };
}

/** @param {any} result */
function relayed(result) {
  if (result.__typename !== "RelayedTransaction") throw refusalError(result);
  return { txHash: /** @type {Hex} */ (result.txHash), nonce: /** @type {number} */ (result.nonce) };
}

/**
 * A GraphQL error as an error: its `extensions.code` and `extensions.fields` (refusals have both).
 * @param {{ message: string, extensions?: { code?: string, fields?: Record<string, unknown> } }} error
 */
function errorOf(error) {
  return new MicropaymentsError(error.extensions?.code ?? "GRAPHQL_ERROR", error.message, error.extensions?.fields);
}

/**
 * A member of a result union that is a refusal, as an error.
 * @param {any} refusal
 */
function refusalError(refusal) {
  const { __typename, code, message, fields, ...rest } = refusal;
  return new MicropaymentsError(code, message, fields ?? rest);
}
