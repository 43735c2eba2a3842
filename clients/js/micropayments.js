// The micropayment hub's client for browsers and Node (>= 20), protocol v2: pay per action with
// EIP-712 PayerVouchers signed by a viem account, a browser wallet or a session key.
//
//   micropayments.js  the client: requests, subscriptions, the payment and session-key flows
//   typed-data.js     what it signs, and the checks it makes before signing (pure)
//   errors.js         MicropaymentsError
//
// Amounts are bigints in the token's base units; on the wire they are decimal strings.

import { getAddress, hashTypedData, isAddressEqual, keccak256, recoverTypedDataAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { MicropaymentsError } from "./errors.js";
import {
  ACKNOWLEDGEMENT_TYPES,
  checkGrantToSign,
  checkPermit,
  checkReceiveAuthorization,
  checkVoucherToSign,
  MAX_LANE_ENTRIES,
  entriesOf,
  hubDomain,
  raised,
  voucherPayload,
  withBigInts,
} from "./typed-data.js";

export { MicropaymentsError } from "./errors.js";
export { PAYWALL_SCHEME, createPaywallFetch } from "./paywall.js";
export {
  MAX_LANE_ENTRIES,
  checkGrantToSign,
  checkVoucherToSign,
  raised,
  withBigInts,
} from "./typed-data.js";

/**
 * @typedef {import("viem").Address} Address
 * @typedef {import("viem").Hex} Hex
 * @typedef {import("viem").LocalAccount} LocalAccount
 * @typedef {import("viem").WalletClient} WalletClient
 * @typedef {import("./typed-data.js").TypedData} TypedData
 * @typedef {import("./typed-data.js").Entry} Entry
 */

const REFUSAL = "... on Refusal { code message } ... on Refused { fields }";
const ACCOUNT = "payer token balance pendingWithdrawal withdrawalAvailableAt outstanding headroom";
const ENTRY = "{ payee cumulativeAmount }";
const SIGNED_VOUCHER = `payer token lane entries ${ENTRY} purchase signature acknowledgement signer`;
const RECEIPT = `id payer payee token cumulativeAmount price purchase resourceId signer signature status createdAt
  claimTx failure lane acknowledgement voucher { ${SIGNED_VOUCHER} }`;
const SESSION_KEY = "payer signer token lane maxTotal spent validUntil revokedAt";
const TRANSACTION = "chainId to data value description";
const RELAYED = `__typename ... on RelayedTransaction { txHash nonce } ${REFUSAL}`;

const Q = {
  config: `query Config { config { chainId hub operator maxLaneEntries withdrawDelay publicRpcUrl
    allowedTokens { address symbol name decimals } } }`,
  voucher: `query VoucherToSign($payer: Address!, $resourceId: String!, $signer: Address, $purchase: Bytes32) {
    voucherToSign(payer: $payer, resourceId: $resourceId, signer: $signer, purchase: $purchase) {
      typedData lane previousEntries ${ENTRY}
      resource { id payee token price title }
    }
  }`,
  pay: `mutation Pay($input: PayInput!, $key: String) {
    pay(input: $input, idempotencyKey: $key) {
      __typename
      ... on PaymentAccepted { receipt { ${RECEIPT} } }
      ... on CumulativeMismatch { latest { ${SIGNED_VOUCHER} } }
      ... on InsufficientFunds { headroom price }
      ${REFUSAL}
    }
  }`,
  account: `query Account($payer: Address!, $token: Address!) { account(payer: $payer, token: $token) { ${ACCOUNT} } }`,
  sessionKeys: `query SessionKeys($payer: Address!) { sessionKeys(payer: $payer) { ${SESSION_KEY} } }`,
  lanes: `query Lanes($payer: Address!) {
    lanes(payer: $payer) { lane token signer entries ${ENTRY} claimedEntries ${ENTRY} outstanding }
  }`,
  grant: `query GrantToSign($payer: Address!, $signer: Address!, $maxTotal: Amount!, $validUntil: Timestamp,
      $token: Address) {
    grantToSign(payer: $payer, signer: $signer, maxTotal: $maxTotal, validUntil: $validUntil, token: $token) {
      typedData
    }
  }`,
  authorize: `mutation AuthorizeSessionKey($grant: SessionGrantInput!, $signature: Bytes!, $key: String) {
    authorizeSessionKey(grant: $grant, signature: $signature, idempotencyKey: $key) {
      __typename ... on SessionKey { ${SESSION_KEY} } ${REFUSAL}
    }
  }`,
  revoke: `query Revoke($signer: Address!) { revokeSessionKeyTransaction(signer: $signer) { ${TRANSACTION} } }`,
  requestWithdrawal: `query RequestWithdrawal($token: Address!, $amount: Amount!) {
    requestWithdrawalTransaction(token: $token, amount: $amount) { ${TRANSACTION} }
  }`,
  cancelWithdrawal: `query CancelWithdrawal($token: Address!) {
    cancelWithdrawalTransaction(token: $token) { ${TRANSACTION} }
  }`,
  withdraw: `query Withdraw($token: Address!) { withdrawTransaction(token: $token) { ${TRANSACTION} } }`,
  withdrawEarnings: `query WithdrawEarnings($token: Address!, $to: Address!) {
    withdrawEarningsTransaction(token: $token, to: $to) { ${TRANSACTION} }
  }`,
  permit: `query Permit($owner: Address!, $token: Address!, $amount: Amount!, $deadline: Timestamp!) {
    permitToSign(owner: $owner, token: $token, amount: $amount, deadline: $deadline) { typedData }
  }`,
  depositWithPermit: `mutation DepositWithPermit($payer: Address!, $token: Address!, $amount: Amount!,
      $deadline: Timestamp!, $signature: Bytes!, $key: String) {
    depositWithPermit(payer: $payer, token: $token, amount: $amount, deadline: $deadline,
      signature: $signature, idempotencyKey: $key) { ${RELAYED} }
  }`,
  receiveAuthorization: `query ReceiveAuthorization($payer: Address!, $token: Address!, $amount: Amount!,
      $validAfter: Timestamp!, $validBefore: Timestamp!) {
    receiveAuthorizationToSign(payer: $payer, token: $token, amount: $amount, validAfter: $validAfter,
      validBefore: $validBefore) { typedData }
  }`,
  depositWithAuthorization: `mutation DepositWithAuthorization($payer: Address!, $token: Address!, $amount: Amount!,
      $validAfter: Timestamp!, $validBefore: Timestamp!, $nonce: Bytes32!, $signature: Bytes!, $key: String) {
    depositWithAuthorization(payer: $payer, token: $token, amount: $amount, validAfter: $validAfter,
      validBefore: $validBefore, nonce: $nonce, signature: $signature, idempotencyKey: $key) { ${RELAYED} }
  }`,
  signInMessage: "query SignInMessage($address: Address!) { signInMessage(address: $address) }",
  signIn: `mutation SignIn($message: String!, $signature: Bytes!) {
    signIn(message: $message, signature: $signature) {
      __typename ... on Session { token address expiresAt } ${REFUSAL}
    }
  }`,
  signOut: "mutation SignOut { signOut }",
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
 * Without `account` it only reads (anything that signs throws NO_ACCOUNT).
 * `payer` is whose money pays, when `account` is one of its session keys.
 * @param {import("./micropayments.js").Options} options
 * @returns {import("./micropayments.js").Micropayments}
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
  /** @type {Promise<any> | null} */
  let config = null;

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

  /** The hub's configuration, asked once. */
  function hubConfig() {
    config ??= request(Q.config).then(({ config }) => ({
      ...config,
      hub: getAddress(config.hub),
      operator: config.operator ? getAddress(config.operator) : null,
    }));
    config.catch(() => {
      config = null;
    });
    return config;
  }

  /** @param {Address | null | undefined} token  the hub's first allowed token when left out */
  async function tokenOr(token) {
    if (token) return getAddress(token);
    const [first] = (await hubConfig()).allowedTokens;
    if (!first) throw new MicropaymentsError("UNKNOWN_TOKEN", "the hub lists no token yet");
    return getAddress(first.address);
  }

  async function hub() {
    const { chainId, hub } = await hubConfig();
    return { chainId: Number(chainId), hub };
  }

  /** The session key signing, or null when the payer's own wallet signs. */
  async function keySigner() {
    const [address, paying] = await Promise.all([signer.address(), payer()]);
    return isAddressEqual(address, paying) ? null : address;
  }

  /** @param {Record<string, unknown>} input @param {Hex} signature */
  async function submit(input, signature) {
    // The key derives from the signed voucher: resending it can never pay twice.
    const variables = { input: { ...input, signature }, key: `pay:${keccak256(signature)}` };
    return (await request(Q.pay, variables, { retry: true })).pay;
  }

  /**
   * The voucher to sign after a CumulativeMismatch, if the server proves its lane moved on: its
   * latest voucher is of this payer, token and lane, and signed by the payer or one of its keys.
   * @param {any} mismatch
   * @param {ReturnType<typeof voucherPayload>} refused  the voucher that was refused
   */
  async function resynchronised(mismatch, refused) {
    const { latest } = mismatch;
    const { payer, token, purchase } = refused;
    const fail = (/** @type {string} */ why) => {
      throw new MicropaymentsError("CUMULATIVE_MISMATCH", `${mismatch.message} (not resynchronised: ${why})`, {
        latest,
      });
    };
    if (!latest) return fail("the server shows no voucher of this lane to check");
    if (!isAddressEqual(latest.payer, payer) || !isAddressEqual(latest.token, token)) {
      return fail("its latest voucher is of another payer or token");
    }
    if (BigInt(latest.lane) !== refused.lane) return fail(`its latest voucher is on lane ${latest.lane}`);
    const entries = entriesOf(latest.entries, "the latest voucher's entries");
    const domain = hubDomain(await hub());
    const proof = voucherPayload({ ...refused, domain, entries, purchase: latest.purchase });
    const recovered = await recoverTypedDataAddress({ ...withBigInts(proof.typedData), signature: latest.signature });
    if (!isAddressEqual(recovered, payer)) {
      const { sessionKeys } = await request(Q.sessionKeys, { payer });
      const key = sessionKeys.find((/** @type {any} */ key) => isAddressEqual(key.signer, recovered));
      if (!key || BigInt(key.lane) !== refused.lane) {
        return fail(`its latest voucher is signed by ${recovered}, neither the payer nor one of its keys on this lane`);
      }
    }
    const next = raised(entries, refused.payee, refused.price);
    if (next.length > MAX_LANE_ENTRIES) return fail(`the lane would pay ${next.length} payees`);
    return voucherPayload({ ...refused, domain, entries: next, purchase });
  }

  /**
   * A receipt, once its acknowledgement is checked: the operator's EIP-712 Acknowledgement of the
   * digest of the voucher that was signed.
   * @param {any} receipt
   * @param {ReturnType<typeof voucherPayload>} paid
   */
  async function acknowledged(receipt, paid) {
    const { operator } = await hubConfig();
    const voucherDigest = hashTypedData(withBigInts(paid.typedData));
    const by = await recoverTypedDataAddress({
      domain: { ...paid.typedData.domain, chainId: BigInt(paid.typedData.domain.chainId) },
      types: ACKNOWLEDGEMENT_TYPES,
      primaryType: "Acknowledgement",
      message: { voucherDigest },
      signature: receipt.acknowledgement,
    }).catch(() => null);
    if (!operator || !by || !isAddressEqual(by, operator)) {
      throw new MicropaymentsError(
        "UNACKNOWLEDGED",
        `the receipt's acknowledgement is signed by ${by}, not the operator ${operator}`,
        { receipt },
      );
    }
    return receiptOf(receipt);
  }

  /**
   * Subscribes over graphql-transport-ws; returns a function that unsubscribes.
   * @param {string} query
   * @param {Record<string, unknown>} variables
   * @param {(data: any) => void} onData
   * @param {(error: MicropaymentsError) => void} onError
   * @param {{ onOpen?: () => void }} [hooks]  onOpen: the server acknowledged the connection
   */
  function subscribe(query, variables, onData, onError, { onOpen } = {}) {
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
          onOpen?.();
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
      const code = event.code === 4403 ? "UNAUTHENTICATED" : "UNAVAILABLE";
      fail(new MicropaymentsError(code, `the WebSocket closed (${event.code} ${event.reason ?? ""})`));
    });
    return () => {
      if (done) return;
      done = true;
      if (socket.readyState === 1) send({ id: "1", type: "complete" });
      socket.close(1000);
    };
  }

  /** @param {string} query @param {Record<string, unknown>} variables @returns {Promise<any>} */
  async function transaction(query, variables) {
    const data = await request(query, variables);
    return transactionOf(Object.values(data)[0]);
  }

  /** @type {import("./micropayments.js").Micropayments} */
  const client = {
    payer,
    signer: () => signer.address(),
    request,
    subscribe,
    config: hubConfig,

    async pay(resourceId, { maxPrice, purchase } = {}) {
      const [address, key, hubOf] = await Promise.all([payer(), keySigner(), hub()]);
      const { voucherToSign } = await request(Q.voucher, {
        payer: address,
        resourceId,
        signer: key,
        purchase: purchase ?? null,
      });
      const expected = { payer: address, resourceId, hub: hubOf, maxPrice: maxPrice === undefined ? undefined : BigInt(maxPrice) };
      let voucher = checkVoucherToSign(voucherToSign, expected);
      let result = await submit(voucher.input, await signer.signTypedData(voucher.typedData));
      if (result.__typename === "CumulativeMismatch") {
        voucher = await resynchronised(result, voucher);
        result = await submit(voucher.input, await signer.signTypedData(voucher.typedData));
      }
      if (result.__typename === "PaymentAccepted") return acknowledged(result.receipt, voucher);
      throw refusalError(result);
    },

    async account(token) {
      const data = await request(Q.account, { payer: await payer(), token: await tokenOr(token) });
      return accountOf(data.account);
    },

    async sessionKeys() {
      const { sessionKeys } = await request(Q.sessionKeys, { payer: await payer() });
      return sessionKeys.map(sessionKeyOf);
    },

    async lanes() {
      const { lanes } = await request(Q.lanes, { payer: await payer() });
      return lanes.map((/** @type {any} */ lane) => ({
        ...lane,
        lane: BigInt(lane.lane),
        entries: lane.entries.map(entryOf),
        claimedEntries: lane.claimedEntries.map(entryOf),
        outstanding: BigInt(lane.outstanding),
      }));
    },

    async authorizeSessionKey({ maxTotal, validUntil, token }) {
      const address = await payer();
      if (await keySigner()) {
        throw new MicropaymentsError("WALLET_KEY_REQUIRED", "only the payer's own wallet can authorise a session key");
      }
      const privateKey = generatePrivateKey();
      const sessionKey = privateKeyToAccount(privateKey).address;
      const cap = BigInt(maxTotal);
      const until = validUntil === undefined || validUntil === null ? undefined : Number(validUntil);
      const pinned = token ? getAddress(token) : undefined;
      const { grantToSign } = await request(Q.grant, {
        payer: address,
        signer: sessionKey,
        maxTotal: String(cap),
        validUntil: until ?? null,
        token: pinned ?? null,
      });
      const checked = checkGrantToSign(grantToSign.typedData, {
        payer: address,
        signer: sessionKey,
        maxTotal: cap,
        validUntil: until,
        token: pinned ?? (await tokenOr(undefined)),
        hub: await hub(),
      });
      const signature = await signer.signTypedData(checked.typedData);
      const { authorizeSessionKey: result } = await request(
        Q.authorize,
        { grant: checked.grant, signature, key: `grant:${keccak256(signature)}` },
        { retry: true },
      );
      if (result.__typename !== "SessionKey") throw refusalError(result);
      return { sessionKey, privateKey, grant: sessionKeyOf(result), client: client.withSessionKey(privateKey) };
    },

    withSessionKey(privateKey) {
      return createMicropayments({ ...options, account: privateKeyToAccount(privateKey), payer });
    },

    revokeSessionKeyTransaction: (signerAddress) => transaction(Q.revoke, { signer: getAddress(signerAddress) }),

    async requestWithdrawalTransaction(amount, token) {
      return transaction(Q.requestWithdrawal, { token: await tokenOr(token), amount: String(amount) });
    },

    async cancelWithdrawalTransaction(token) {
      return transaction(Q.cancelWithdrawal, { token: await tokenOr(token) });
    },

    async withdrawTransaction(token) {
      return transaction(Q.withdraw, { token: await tokenOr(token) });
    },

    async withdrawEarningsTransaction(to, token) {
      const recipient = getAddress(to ?? (await signer.address()));
      return transaction(Q.withdrawEarnings, { token: await tokenOr(token), to: recipient });
    },

    async sendTransaction(tx) {
      return signer.sendTransaction(tx);
    },

    async depositWithPermit(token, amount, { deadline } = {}) {
      const owner = await signer.address();
      const until = Number(deadline ?? Math.floor(Date.now() / 1000) + 3600);
      const terms = { token: await tokenOr(token), amount: String(amount), deadline: until };
      const { permitToSign } = await request(Q.permit, { owner, ...terms });
      const typedData = checkPermit(permitToSign.typedData, {
        owner,
        token: terms.token,
        amount: BigInt(amount),
        deadline: until,
        hub: await hub(),
      });
      const signature = await signer.signTypedData(typedData);
      const { depositWithPermit } = await request(
        Q.depositWithPermit,
        { payer: owner, ...terms, signature, key: `permit:${keccak256(signature)}` },
        { retry: true },
      );
      return relayed(depositWithPermit);
    },

    async depositWithAuthorization(token, amount, { validAfter, validBefore } = {}) {
      const from = await signer.address();
      const now = Math.floor(Date.now() / 1000);
      const terms = {
        token: await tokenOr(token),
        amount: String(amount),
        validAfter: Number(validAfter ?? 0),
        validBefore: Number(validBefore ?? now + 3600),
      };
      const { receiveAuthorizationToSign } = await request(Q.receiveAuthorization, { payer: from, ...terms });
      const typedData = checkReceiveAuthorization(receiveAuthorizationToSign.typedData, {
        payer: from,
        token: terms.token,
        amount: BigInt(amount),
        hub: await hub(),
      });
      const signature = await signer.signTypedData(typedData);
      const { depositWithAuthorization } = await request(
        Q.depositWithAuthorization,
        { payer: from, ...terms, nonce: typedData.message.nonce, signature, key: `eip3009:${keccak256(signature)}` },
        { retry: true },
      );
      return relayed(depositWithAuthorization);
    },

    async signIn() {
      const address = await signer.address();
      const { signInMessage } = await request(Q.signInMessage, { address });
      const signature = await signer.signMessage(signInMessage);
      const { signIn } = await request(Q.signIn, { message: signInMessage, signature });
      if (signIn.__typename !== "Session") throw refusalError(signIn);
      sessionToken = signIn.token;
      return signIn;
    },

    useSession(token) {
      sessionToken = token;
    },

    async signOut() {
      if (sessionToken) await request(Q.signOut).catch(() => null);
      sessionToken = null;
    },

    async receipts({ first = 20, after = null } = {}) {
      const { receipts } = await request(Q.receipts, { first, after });
      return {
        receipts: receipts.edges.map((/** @type {any} */ edge) => receiptOf(edge.node)),
        ...receipts.pageInfo,
      };
    },

    async watchAccount(token, onChange, onError = () => {}) {
      const variables = { payer: await payer(), token: await tokenOr(token) };
      return subscribe(Q.accountChanged, variables, (data) => onChange(accountOf(data.accountChanged)), onError);
    },
  };
  return client;
}

/**
 * How to sign with either a LocalAccount or a WalletClient (JSON-RPC / EIP-1193 wallets).
 * @param {LocalAccount | WalletClient | null | undefined} account
 */
function signerOf(account) {
  if (account === undefined || account === null) {
    const none = async () => {
      throw new MicropaymentsError("NO_ACCOUNT", "this client has no account to sign with");
    };
    return { address: none, signTypedData: none, signMessage: none, sendTransaction: none };
  }
  const local = /** @type {LocalAccount} */ (account);
  if (local?.type === "local") {
    return {
      address: async () => local.address,
      signTypedData: (/** @type {TypedData} */ typedData) => local.signTypedData(withBigInts(typedData)),
      signMessage: (/** @type {string} */ message) => local.signMessage({ message }),
      sendTransaction: async () => {
        throw new MicropaymentsError("NOT_SUPPORTED", "a local account sends no transactions: use a WalletClient");
      },
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
  const address = async () => {
    const which = await walletAccount();
    return getAddress(typeof which === "string" ? which : which.address);
  };
  return {
    address,
    signTypedData: async (/** @type {TypedData} */ typedData) =>
      wallet.signTypedData({ account: await walletAccount(), ...withBigInts(typedData) }),
    signMessage: async (/** @type {string} */ message) =>
      wallet.signMessage({ account: await walletAccount(), message }),
    sendTransaction: async (/** @type {any} */ tx) =>
      /** @type {Promise<Hex>} */ (
        wallet.request(/** @type {any} */ ({
          method: "eth_sendTransaction",
          params: [
            {
              from: await address(),
              to: tx.to,
              data: tx.data,
              value: `0x${BigInt(tx.value ?? 0).toString(16)}`,
              ...(tx.chainId ? { chainId: `0x${Number(tx.chainId).toString(16)}` } : {}),
            },
          ],
        }))
      ),
  };
}

/** @param {any} entry @returns {Entry} */
const entryOf = (entry) => ({ payee: getAddress(entry.payee), cumulativeAmount: BigInt(entry.cumulativeAmount) });

/** @param {any} account */
function accountOf(account) {
  return {
    ...account,
    balance: BigInt(account.balance),
    pendingWithdrawal: BigInt(account.pendingWithdrawal),
    outstanding: BigInt(account.outstanding),
    headroom: BigInt(account.headroom),
  };
}

/** @param {any} key */
function sessionKeyOf(key) {
  return { ...key, lane: BigInt(key.lane), maxTotal: BigInt(key.maxTotal), spent: BigInt(key.spent) };
}

/** @param {any} receipt */
function receiptOf(receipt) {
  return {
    ...receipt,
    cumulativeAmount: BigInt(receipt.cumulativeAmount),
    price: BigInt(receipt.price),
    lane: receipt.lane === undefined ? undefined : BigInt(receipt.lane),
    voucher: receipt.voucher && {
      ...receipt.voucher,
      lane: BigInt(receipt.voucher.lane),
      entries: receipt.voucher.entries.map(entryOf),
    },
  };
}

/** @param {any} tx */
function transactionOf(tx) {
  return { ...tx, to: getAddress(tx.to), value: BigInt(tx.value) };
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
