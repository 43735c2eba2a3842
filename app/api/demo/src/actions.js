// What the page does: load from the API, follow it live, and the users' actions. Each action
// changes `state` (state.js) and the view follows.

import { Api, Live } from "./api.js";
import { parseAmount } from "./format.js";
import * as Q from "./queries.js";
import { SessionKey } from "./session-key.js";
import { changed, clearMessage, money, sameAddress, setMessage, spendable, state } from "./state.js";
import { Wallet } from "./wallet.js";

const SESSION_KEY_LIFETIME_S = 24 * 3600;
const PERMIT_LIFETIME_S = 3600;
const RELAY_TIMEOUT_MS = 60000; // a relayed transaction not indexed by then is reported

const api = new Api(new URL("/graphql", location.href).href);
const live = new Live(webSocketUrl(), (mode) => {
  state.live = mode;
  changed();
});
const wallet = Wallet.detect();
const subscriptions = {};

function webSocketUrl() {
  const url = new URL("/graphql", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

function now() {
  return Math.floor(Date.now() / 1000);
}

/** Runs `task` as the named action: its button is busy meanwhile, its failure goes to a status line. */
async function action(name, task, messageName = name) {
  if (state.busy.has(name)) return;
  state.busy.add(name);
  changed();
  try {
    await task();
  } catch (error) {
    setMessage(messageName, "error", error?.message ?? String(error));
  } finally {
    state.busy.delete(name);
    changed();
  }
}

/** A function that runs `load` now, or once more after the current run when called meanwhile. */
function coalesced(load) {
  let running = null;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await load();
          state.loadError = null;
        } catch (error) {
          state.loadError = `Could not refresh: ${error.message}`;
        }
      } while (again);
      running = null;
      changed();
    })();
    return running;
  };
}

function subscribe(name, query, variables, onData, poll) {
  subscriptions[name]?.();
  subscriptions[name] = live.subscribe(query, variables, {
    onData,
    poll,
    onError: (error) => {
      if (error.extensions?.code === "UNAUTHENTICATED") forgetSession();
      else state.error = `Live updates stopped: ${error.message}`;
      changed();
    },
  });
}

// ------------------------------------------------------------------------------ start

/** Loads the hub's configuration and the articles, starts live updates, and reconnects a wallet
 * that already trusts this page (without a prompt). */
export async function start() {
  state.hasWallet = wallet !== null;
  changed();
  try {
    const { config } = await api.request(Q.CONFIG);
    state.config = config;
    state.token = config.allowedTokens[0] ?? null;
    if (!state.token) throw new Error("the hub accepts no token yet");
    await loadResources();
  } catch (error) {
    state.error = `The demo cannot start: ${error.message}`;
    state.loadingResources = false;
    changed();
    return;
  }
  live.connect();
  changed();
  if (!wallet) return;
  // Another account or chain in the wallet: start afresh rather than show one account's data to another.
  wallet.onChange((change) => {
    const moved = Array.isArray(change)
      ? state.address !== null && !sameAddress(change[0], state.address)
      : state.walletChainId !== null && Number(change) !== state.walletChainId;
    if (moved) location.reload();
  });
  const accounts = await wallet.request("eth_accounts").catch(() => []);
  if (accounts.length) await connect();
}

// ------------------------------------------------------------------------------ loading

async function loadResources() {
  const resources = [];
  let after = null;
  do {
    const { resources: page } = await api.request(Q.RESOURCES, { after });
    resources.push(...page.edges.map((edge) => edge.node));
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after);
  state.resources = resources.filter((resource) => sameAddress(resource.token, state.token.address));
  state.loadingResources = false;
}

const loadAccount = coalesced(async () => {
  const { account } = await api.request(Q.ACCOUNT, { payer: state.address, token: state.token.address });
  onAccount(account);
});

const loadWalletBalance = coalesced(async () => {
  state.walletBalance = await wallet.tokenBalance(state.token.address, state.address);
});

const loadReceipts = coalesced(async () => {
  if (!state.session) return;
  const { receipts } = await api.request(Q.RECEIPTS);
  state.receipts = receipts.edges.map((edge) => edge.node);
});

const loadSales = coalesced(async () => {
  if (!state.session) return;
  const { sales } = await api.request(Q.SALES);
  state.sales = sales.edges.map((edge) => edge.node);
});

const loadEarnings = coalesced(async () => {
  if (!state.session) return;
  const { earnings } = await api.request(Q.EARNINGS, { payee: state.address, token: state.token.address });
  state.earnings = earnings;
});

const loadKeyInfo = coalesced(async () => {
  if (!state.key) return;
  const { sessionKeys } = await api.request(Q.SESSION_KEYS, { payer: state.address });
  state.keyInfo = sessionKeys.find((row) => sameAddress(row.signer, state.key.address)) ?? null;
});

function onAccount(account) {
  state.account = account;
  const pending = state.deposit;
  if (pending && spendable(account) > pending.baseline) {
    state.deposit = null;
    setMessage("deposit", "success", `Credited: ${money(pending.amount)} is in the hub.`, pending.txHash);
    loadWalletBalance();
  }
  changed();
}

// ------------------------------------------------------------------------------ wallet and sign-in

function sessionStorageKey() {
  return `micropayments-demo:session:${state.config.hub}:${state.address}`.toLowerCase();
}

export async function connect() {
  await action("connect", async () => {
    const address = await wallet.connect();
    state.walletChainId = await wallet.chainId();
    if (state.walletChainId !== state.config.chainId && !(await wallet.switchChain(state.config.chainId))) {
      state.address = address;
      throw new Error(
        `Your wallet is on chain ${state.walletChainId}; this server settles on chain ${state.config.chainId}. Switch networks in your wallet.`,
      );
    }
    state.walletChainId = state.config.chainId;
    state.address = address;
    clearMessage("connect");
    await onConnected();
  });
}

async function onConnected() {
  subscribe(
    "account",
    Q.ACCOUNT_CHANGED,
    { payer: state.address, token: state.token.address },
    (data) => onAccount(data.accountChanged),
    loadAccount,
  );
  loadAccount();
  loadWalletBalance();
  const key = SessionKey.load(state.config.hub, state.address);
  if (key) {
    state.key = key;
    await loadKeyInfo();
    if (!state.keyInfo) state.key = null;
  }
  await restoreSession();
}

async function restoreSession() {
  const saved = JSON.parse(sessionStorage.getItem(sessionStorageKey()) ?? "null");
  if (!saved || saved.expiresAt <= now()) return;
  api.token = saved.token;
  const { me } = await api.request(Q.ME).catch(() => ({ me: null }));
  if (sameAddress(me, state.address)) await onSignedIn(saved);
  else forgetSession();
}

export async function signIn() {
  await action(
    "sign-in",
    async () => {
      setMessage("connect", "pending", "Sign the message in your wallet: it costs nothing.");
      const { signInMessage } = await api.request(Q.SIGN_IN_MESSAGE, { address: state.address });
      const signature = await wallet.personalSign(state.address, signInMessage);
      const { signIn: result } = await api.request(Q.SIGN_IN, { message: signInMessage, signature });
      if (result.__typename !== "Session") throw new Error(result.message);
      sessionStorage.setItem(sessionStorageKey(), JSON.stringify(result));
      clearMessage("connect");
      await onSignedIn(result);
    },
    "connect",
  );
}

async function onSignedIn(session) {
  state.session = session;
  api.token = session.token;
  live.connect(session.token); // the socket authenticates in connection_init; subscriptions follow it
  const payee = { payee: state.address, token: state.token.address };
  subscribe("receipts", Q.RECEIPTS_CHANGED, { payer: state.address }, loadReceipts, loadReceipts);
  subscribe(
    "earnings",
    Q.EARNINGS_CHANGED,
    payee,
    (data) => {
      state.earnings = data.earningsChanged;
      loadSales();
      changed();
    },
    () => Promise.all([loadEarnings(), loadSales()]),
  );
  await Promise.all([loadReceipts(), loadSales(), loadEarnings()]);
}

function forgetSession() {
  if (state.address) sessionStorage.removeItem(sessionStorageKey());
  for (const name of ["receipts", "earnings"]) {
    subscriptions[name]?.();
    delete subscriptions[name];
  }
  state.session = null;
  state.receipts = state.sales = state.earnings = null;
  api.token = null;
  live.connect(null);
  changed();
}

export async function signOut() {
  await action("sign-out", async () => {
    await api.request(Q.SIGN_OUT).catch(() => null);
    forgetSession();
  });
}

// ------------------------------------------------------------------------------ reader actions

/** A gasless deposit of `amountText` (e.g. "5.00"): the wallet signs a permit, the server relays it. */
export async function deposit(amountText) {
  await action("deposit", async () => {
    const amount = parseAmount(amountText, state.token.decimals);
    const deadline = now() + PERMIT_LIFETIME_S;
    const variables = { token: state.token.address, amount: amount.toString(), deadline };
    setMessage("deposit", "pending", "Sign the permit in your wallet: no gas, no transaction.");
    const { permitToSign } = await api.request(Q.PERMIT_TO_SIGN, { owner: state.address, ...variables });
    const signature = await wallet.signTypedData(state.address, permitToSign.typedData);
    setMessage("deposit", "pending", "Relaying your deposit…");
    const baseline = spendable(state.account);
    const { depositWithPermit: result } = await api.request(Q.DEPOSIT_WITH_PERMIT, {
      payer: state.address,
      signature,
      ...variables,
    });
    if (result.__typename !== "RelayedTransaction") throw new Error(result.message);
    const pending = { baseline, amount, txHash: result.txHash };
    state.deposit = pending;
    setMessage("deposit", "pending", `Pending: the server relayed your deposit of ${money(amount)}.`, result.txHash);
    onAccount(state.account);
    setTimeout(() => {
      if (state.deposit !== pending) return;
      state.deposit = null;
      setMessage("deposit", "error", "The deposit was relayed but has not reached the hub yet: check the transaction.", pending.txHash);
    }, RELAY_TIMEOUT_MS);
  });
}

/** A new session key for this tab, allowed to spend `capText` (e.g. "1.00") for a day. */
export async function authoriseSessionKey(capText) {
  await action("key", async () => {
    const allowance = parseAmount(capText, state.token.decimals);
    const key = SessionKey.generate();
    setMessage("key", "pending", "Sign the authorisation in your wallet: no gas, no transaction.");
    const { signerAuthorizationToSign } = await api.request(Q.SIGNER_AUTHORIZATION_TO_SIGN, {
      payer: state.address,
      signer: key.address,
      token: state.token.address,
      allowance: allowance.toString(),
      validUntil: now() + SESSION_KEY_LIFETIME_S,
    });
    const typed = signerAuthorizationToSign.typedData;
    const signature = await wallet.signTypedData(state.address, typed);
    const { payer, signer, token, validUntil, nonce } = typed.message;
    setMessage("key", "pending", "Relaying your authorisation…");
    const { registerSessionKey: result } = await api.request(Q.REGISTER_SESSION_KEY, {
      authorization: { payer, signer, token, allowance: typed.message.allowance, validUntil, nonce },
      signature,
    });
    if (result.__typename !== "RelayedTransaction") throw new Error(result.message);
    key.authorization = typed.message;
    key.save(state.config.hub, state.address);
    setMessage("key", "pending", "Pending: the server relayed your authorisation.", result.txHash);
    const previous = state.key;
    state.key = key;
    const deadline = Date.now() + RELAY_TIMEOUT_MS;
    for (state.keyInfo = null; !state.keyInfo; await new Promise((resolve) => setTimeout(resolve, 400))) {
      if (Date.now() > deadline) {
        state.key = previous;
        throw new Error("The authorisation was relayed but has not reached the chain yet: try again later.");
      }
      await loadKeyInfo();
    }
    clearMessage("key");
  });
}

export async function read(resource) {
  if (state.paid.has(resource.id)) {
    open(resource);
    return;
  }
  await action(
    `read:${resource.id}`,
    async () => {
      const signer = state.keyInfo ? state.key : null;
      setMessage(
        "read",
        "pending",
        signer ? `Paying ${money(resource.price)} with your session key…` : "Sign the voucher in your wallet…",
      );
      let result;
      // A mismatch means this channel moved on elsewhere (another tab): sign the next amount once more.
      for (let attempt = 0; attempt < 2 && result?.__typename !== "PaymentAccepted"; attempt++) {
        const { voucherToSign } = await api.request(Q.VOUCHER_TO_SIGN, {
          payer: state.address,
          resourceId: resource.id,
        });
        const typed = voucherToSign.typedData;
        const signature = signer ? await signer.signTypedData(typed) : await wallet.signTypedData(state.address, typed);
        const { payer, payee, token, cumulativeAmount, purchase } = typed.message;
        const input = { payer, payee, token, cumulativeAmount, purchase, signature, resourceId: resource.id };
        ({ pay: result } = await api.request(Q.PAY, { input }));
        if (result.__typename !== "CumulativeMismatch") break;
      }
      if (result.__typename === "InsufficientFunds") {
        throw new Error(
          `Not enough in the hub: you can spend ${money(result.headroom)} and this article costs ${money(result.price)}. Deposit more (step 2).`,
        );
      }
      if (result.__typename !== "PaymentAccepted") throw new Error(result.message);
      state.paid.set(resource.id, result.receipt);
      clearMessage("read");
      open(resource);
      loadKeyInfo();
      loadReceipts();
    },
    "read",
  );
}

function open(resource) {
  state.reading = { id: resource.id, opened: (state.reading?.opened ?? 0) + 1 };
  changed();
}

// ------------------------------------------------------------------------------ creator actions

export async function withdraw() {
  await action("withdraw", async () => {
    const amount = BigInt(state.earnings.withdrawable);
    const { withdrawEarningsTransaction: tx } = await api.request(Q.WITHDRAW_EARNINGS_TRANSACTION, {
      token: state.token.address,
      to: state.address,
    });
    setMessage("withdraw", "pending", "Confirm the transaction in your wallet.");
    const hash = await wallet.sendTransaction(state.address, tx);
    setMessage("withdraw", "pending", "Sent: waiting for it to be mined…", hash);
    const receipt = await wallet.waitForReceipt(hash);
    if (!receipt.succeeded) throw new Error("The hub refused the withdrawal: the transaction reverted.");
    setMessage("withdraw", "success", `Withdrawn: ${money(amount)} sent to your wallet.`, hash);
    await Promise.all([loadWalletBalance(), loadEarnings()]);
  });
}
