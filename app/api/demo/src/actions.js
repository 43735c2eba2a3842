// What the page does: load from the API, follow it live, and the users' actions. Each action
// changes `state` (state.js) and the view follows. Everything that signs or pays goes through the
// micropayments client (clients/js), which checks what it signs; the wallet signs with no other path.

import { createMicropayments } from "../../../../clients/js/micropayments.js";
import { download, receiptsCsv } from "./files.js";
import { formatDateTime, parseAmount } from "./format.js";
import { Live } from "./live.js";
import * as Q from "./queries.js";
import {
  changed,
  clearMessage,
  creatorName,
  headroom,
  keyLeft,
  money,
  resourceById,
  sameAddress,
  setMessage,
  spendable,
  state,
} from "./state.js";
import { Wallet, explain } from "./wallet.js";

const SESSION_KEY_LIFETIME_S = 24 * 3600;
const PERMIT_LIFETIME_S = 3600;
const RELAY_TIMEOUT_MS = 60000; // a relayed deposit not indexed by then is reported
const MAX_AMOUNT = 2n ** 128n - 1n; // the protocol's bound on every amount

const wallet = Wallet.detect();
// The client signs with the browser's wallet; a session key's client (state.key.client) without it.
const client = createMicropayments({
  url: new URL("/graphql", location.href).href,
  account: wallet?.viemClient(),
});
const live = new Live(client, {
  onState: (mode) => {
    state.live = mode;
    changed();
  },
  onUnauthenticated: () => forgetSession(),
});

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
    setMessage(messageName, "error", explainError(error));
  } finally {
    state.busy.delete(name);
    changed();
  }
}

/** An error in words for the reader, amounts in the token's units. */
function explainError(error) {
  const fields = error?.fields ?? {};
  switch (error?.code) {
    case "INSUFFICIENT_FUNDS":
      return depositFirst(BigInt(fields.headroom ?? 0), BigInt(fields.price ?? 0));
    case "SIGNER_CAP_EXCEEDED":
      return "Your session key has reached its spending cap: authorise a new key (step 3).";
    case "LANE_FULL":
      return "Your session key has paid as many creators as one key can: authorise a new key (step 3).";
    case "SIGNER_EXPIRED":
    case "SIGNER_REVOKED":
    case "SIGNER_NOT_AUTHORIZED":
      return "Your session key can no longer pay: authorise a new key (step 3).";
    case "UNEXPECTED_TYPED_DATA":
    case "PRICE_ABOVE_MAX":
    case "UNACKNOWLEDGED":
      return `The server asked for something other than this article's price, so nothing was signed (${error.message}).`;
    case "UNAVAILABLE":
      return "The server does not answer. Is it running?";
    case "UNKNOWN_RESOURCE":
      return "This article is no longer for sale.";
    case "RATE_LIMITED":
      return "Too many requests at once: wait a moment and try again.";
  }
  // Not the client's: the wallet's (declined, not connected) or the page's own.
  if (error?.name !== "MicropaymentsError") return explain(error).message;
  return error.message;
}

function depositFirst(available, price) {
  const missing = price > available ? price - available : price;
  return `Deposit at least ${money(missing)} first (step 2): this article costs ${money(price)} and you can spend ${money(available)}.`;
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
          state.loadError = `Could not refresh: ${explainError(error)}`;
        }
      } while (again);
      running = null;
      changed();
    })();
    return running;
  };
}

// ------------------------------------------------------------------------------ start

/** Loads the hub's configuration and the articles, and reconnects a wallet that already trusts
 * this page (without a prompt). */
export async function start() {
  state.hasWallet = wallet !== null;
  changed();
  try {
    state.config = await client.config();
    state.token = state.config.allowedTokens[0] ?? null;
    if (!state.token) throw new Error("the hub accepts no token yet");
    await loadResources();
  } catch (error) {
    state.error = `The demo cannot start: ${explainError(error)}`;
    state.loadingResources = false;
    changed();
    return;
  }
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
    const { resources: page } = await client.request(Q.RESOURCES, { after });
    resources.push(...page.edges.map((edge) => edge.node));
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after);
  state.resources = resources.filter((resource) => sameAddress(resource.token, state.token.address));
  state.loadingResources = false;
}

let accountPushes = 0; // accounts the subscription delivered: each is newer than any load started before it

const loadAccount = coalesced(async () => {
  const pushesBefore = accountPushes;
  const account = await client.account(state.token.address);
  // A push that arrived while this load was on its way is newer: the load's answer would undo it.
  if (accountPushes === pushesBefore) onAccount(account);
});

const loadWalletBalance = coalesced(async () => {
  state.walletBalance = await wallet.tokenBalance(state.token.address, state.address);
});

const loadReceipts = coalesced(async () => {
  if (!state.session) return;
  const { receipts } = await client.request(Q.RECEIPTS);
  state.receipts = receipts.edges.map((edge) => edge.node);
});

const loadSales = coalesced(async () => {
  if (!state.session) return;
  const { sales } = await client.request(Q.SALES);
  state.sales = sales.edges.map((edge) => edge.node);
});

const loadEarnings = coalesced(async () => {
  if (!state.session) return;
  const { earnings } = await client.request(Q.EARNINGS, { payee: state.address, token: state.token.address });
  state.earnings = earnings;
});

const loadProfile = coalesced(async () => {
  const { creatorProfile } = await client.request(Q.CREATOR_PROFILE, { address: state.address });
  state.profile = creatorProfile;
});

const loadKeyInfo = coalesced(async () => {
  const keys = await client.sessionKeys();
  state.keys = keys; // all of the payer's keys: those of other tabs and devices can be revoked too
  if (state.key) state.keyInfo = keys.find((key) => sameAddress(key.signer, state.key.address)) ?? null;
});

function onAccount(account) {
  state.account = account;
  const pending = state.deposit;
  if (pending && spendable(account) > pending.baseline) {
    state.deposit = null;
    setMessage("deposit", "success", `Credited: ${money(pending.amount)} is in the hub.`, pending.txHash);
    loadWalletBalance();
  }
  tick();
  changed();
}

let ticker = null;
let chainOffset = 0; // the chain's clock minus ours: a withdrawal becomes available in chain time
let offsetReadAt = 0;

/** Keeps `state.now` on the chain's clock, once a second, while a withdrawal counts down to its
 * withdrawalAvailableAt; the chain's clock is read again every few seconds meanwhile. */
function tick() {
  state.now = now() + chainOffset;
  const counting = state.account?.withdrawalAvailableAt && BigInt(state.account.pendingWithdrawal) > 0n;
  if (counting && !ticker) {
    ticker = setInterval(() => {
      if (Date.now() - offsetReadAt > 5000) {
        offsetReadAt = Date.now();
        wallet
          .chainTime()
          .then((time) => {
            chainOffset = Math.max(0, time - now()); // the next block is at least now
          })
          .catch(() => {});
      }
      state.now = now() + chainOffset;
      changed();
    }, 1000);
  } else if (!counting && ticker) {
    clearInterval(ticker);
    ticker = null;
  }
}

// ------------------------------------------------------------------------------ wallet and sign-in

function storageKey(what) {
  return `micropayments-demo:${what}:${state.config.hub}:${state.address}`.toLowerCase();
}

export async function connect() {
  await action("connect", async () => {
    const address = await wallet.connect();
    state.walletChainId = await wallet.chainId();
    if (state.walletChainId !== state.config.chainId && !(await wallet.switchChain(state.config.chainId, state.config.publicRpcUrl))) {
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
  wallet
    .chainTime()
    .then((time) => {
      chainOffset = Math.max(0, time - now()); // the next block is at least now
    })
    .catch(() => {});
  live.subscribe(
    "account",
    Q.ACCOUNT_CHANGED,
    { payer: state.address, token: state.token.address },
    {
      onData: (data) => {
        accountPushes += 1;
        onAccount(data.accountChanged);
      },
      poll: loadAccount,
    },
  );
  loadAccount();
  loadWalletBalance();
  loadProfile();
  await restoreKey();
  loadKeyInfo();
  await restoreSession();
}

/** This tab's session key, if its grant is still on file and usable. */
async function restoreKey() {
  const privateKey = sessionStorage.getItem(storageKey("session-key"));
  if (!privateKey) return;
  const keyClient = client.withSessionKey(privateKey);
  state.key = { privateKey, address: await keyClient.signer(), client: keyClient };
  await loadKeyInfo();
  if (keyLeft() === null) forgetKey();
}

function forgetKey() {
  if (state.address) sessionStorage.removeItem(storageKey("session-key"));
  state.key = null;
  state.keyInfo = null;
  changed();
}

async function restoreSession() {
  const saved = JSON.parse(sessionStorage.getItem(storageKey("session")) ?? "null");
  if (!saved || saved.expiresAt <= now()) return;
  client.useSession(saved.token);
  const { me } = await client.request(Q.ME).catch(() => ({ me: null }));
  if (sameAddress(me, state.address)) await onSignedIn(saved);
  else forgetSession();
}

export async function signIn() {
  await action(
    "sign-in",
    async () => {
      setMessage("connect", "pending", "Sign the message in your wallet: it costs nothing.");
      const session = await client.signIn();
      sessionStorage.setItem(storageKey("session"), JSON.stringify(session));
      clearMessage("connect");
      await onSignedIn(session);
    },
    "connect",
  );
}

async function onSignedIn(session) {
  state.session = session;
  live.reconnect(); // the socket authenticates in connection_init; subscriptions follow it
  live.subscribe("receipts", Q.RECEIPTS_CHANGED, { payer: state.address }, { onData: loadReceipts, poll: loadReceipts });
  live.subscribe(
    "earnings",
    Q.EARNINGS_CHANGED,
    { payee: state.address, token: state.token.address },
    {
      onData: (data) => {
        state.earnings = data.earningsChanged;
        loadSales();
        changed();
      },
      poll: () => Promise.all([loadEarnings(), loadSales()]),
    },
  );
  await Promise.all([loadReceipts(), loadSales(), loadEarnings()]);
}

function forgetSession() {
  if (state.address) sessionStorage.removeItem(storageKey("session"));
  live.unsubscribe("receipts");
  live.unsubscribe("earnings");
  state.session = null;
  state.receipts = state.sales = state.earnings = null;
  client.useSession(null);
  live.reconnect();
  changed();
}

export async function signOut() {
  await action("sign-out", async () => {
    await client.signOut();
    forgetSession();
  });
}

// ------------------------------------------------------------------------------ reader actions

/** A gasless deposit of `amountText` (e.g. "5.00"): the wallet signs a permit, the server relays it. */
export async function deposit(amountText) {
  await action("deposit", async () => {
    const amount = parseAmount(amountText, state.token.decimals);
    // Checked before the wallet is asked anything: a permit for more than the wallet holds fails.
    const held = await wallet.tokenBalance(state.token.address, state.address);
    state.walletBalance = held;
    if (held < amount) {
      setMessage(
        "deposit",
        "error",
        `Your wallet holds ${money(held)}: deposit at most that much.`,
        null,
        () => state.walletBalance === null || state.walletBalance >= amount,
      );
      return;
    }
    setMessage("deposit", "pending", "Sign the permit in your wallet: no gas, no transaction.");
    const baseline = spendable(state.account);
    const deadline = now() + PERMIT_LIFETIME_S;
    const { txHash } = await client.depositWithPermit(state.token.address, amount, { deadline });
    const pending = { baseline, amount, txHash };
    state.deposit = pending;
    setMessage("deposit", "pending", `Pending: the server relayed your deposit of ${money(amount)}.`, txHash);
    onAccount(state.account);
    setTimeout(() => {
      if (state.deposit !== pending) return;
      state.deposit = null;
      setMessage("deposit", "error", "The deposit was relayed but has not reached the hub yet: check the transaction.", txHash);
    }, RELAY_TIMEOUT_MS);
  });
}

/** A new session key for this tab, allowed to spend `capText` (e.g. "1.00") for a day: the wallet
 * signs one grant, no transaction, and the key pays at once. */
export async function authoriseSessionKey(capText) {
  await action("key", async () => {
    const maxTotal = parseAmount(capText, state.token.decimals);
    setMessage("key", "pending", "Sign the session key's grant in your wallet: no gas, no transaction.");
    const { privateKey, sessionKey, grant, client: keyClient } = await client.authorizeSessionKey({
      maxTotal,
      validUntil: now() + SESSION_KEY_LIFETIME_S,
      token: state.token.address,
    });
    sessionStorage.setItem(storageKey("session-key"), privateKey);
    state.key = { privateKey, address: sessionKey, client: keyClient };
    state.keyInfo = grant;
    clearMessage("key");
    loadKeyInfo();
  });
}

/** Revokes a session key on chain (this tab's by default): the wallet sends hub.revokeSigner and
 * pays the gas. The hub refuses the key's vouchers once its delay has passed; the server at once. */
export async function revokeSessionKey(address = state.key?.address) {
  const mine = sameAddress(address, state.key?.address);
  const slot = mine ? "key" : "keys"; // this tab's key, or another of the payer's
  await action(
    mine ? "revoke" : `revoke:${address}`,
    async () => {
      await ensureGas();
      const tx = await client.revokeSessionKeyTransaction(address);
      setMessage(slot, "pending", "Confirm the revocation in your wallet (a transaction: it costs gas).");
      const hash = await client.sendTransaction(tx);
      state.revoked.add(address.toLowerCase());
      if (mine) forgetKey(); // this tab stops using it now, whatever the chain says later
      setMessage(slot, "pending", "Sent: waiting for it to be mined…", hash);
      const receipt = await wallet.waitForReceipt(hash);
      if (!receipt.succeeded) throw new Error("The hub refused the revocation: the transaction reverted.");
      const effective = state.now + Number(state.config.withdrawDelay ?? 0);
      setMessage(
        slot,
        "success",
        `Revoked: the key can no longer pay from ${formatDateTime(effective)}, after the hub's delay (what it already paid settles meanwhile). The server refuses it now.`,
        hash,
        mine ? () => state.key !== null : null, // a new key of this tab makes it old news
      );
      loadKeyInfo();
    },
    slot,
  );
}

export async function read(resource) {
  if (state.paid.has(resource.id)) {
    open(resource);
    return;
  }
  const price = BigInt(resource.price);
  // Checked before anything is signed: the server would refuse, and the reader would have signed for nothing.
  if (!state.account) await loadAccount();
  if (headroom() < price) {
    setMessage("read", "error", depositFirst(headroom(), price), null, () => headroom() >= price);
    return;
  }
  state.now = now() + chainOffset;
  const left = keyLeft();
  if (state.key && left !== null && left < price) {
    setMessage(
      "read",
      "error",
      `Your session key has ${money(left)} left of its cap and this article costs ${money(price)}: authorise a new key (step 3).`,
      null,
      () => keyLeft() === null || keyLeft() >= price,
    );
    return;
  }
  await action(
    `read:${resource.id}`,
    async () => {
      const payer = left !== null ? state.key.client : client;
      setMessage(
        "read",
        "pending",
        left !== null ? `Paying ${money(price)} with your session key…` : `Sign the voucher for ${money(price)} in your wallet…`,
      );
      const receipt = await payer.pay(resource.id, { maxPrice: price });
      if (payer !== client && state.keyInfo) {
        // The key's cap bounds its lane's total: the vector just signed says what is left, before any reload.
        const total = receipt.voucher.entries.reduce((sum, entry) => sum + entry.cumulativeAmount, 0n);
        state.keyInfo = { ...state.keyInfo, spent: total };
      }
      state.paid.set(resource.id, receipt);
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

/** Step 1 of leaving: hub.requestWithdrawal, sent by the wallet; the money stays spendable by
 * vouchers already accepted until `withdrawalAvailableAt`. */
export async function requestWithdrawal(amountText) {
  await action("hub-withdraw", async () => {
    const amount = parseAmount(amountText, state.token.decimals);
    if (amount > spendable(state.account)) {
      const most = spendable(state.account);
      setMessage("hub-withdraw", "error", `You can withdraw at most ${money(most)}.`, null, () => spendable(state.account) >= amount);
      return;
    }
    await sendAndWait("hub-withdraw", await client.requestWithdrawalTransaction(amount, state.token.address));
    clearMessage("hub-withdraw"); // the request shows with its countdown once the server has seen it
    await loadAccount();
  });
}

/** Step 2, after the delay: hub.withdraw pays min(requested, balance) to the wallet. */
export async function completeWithdrawal() {
  await action("hub-withdraw", async () => {
    await sendAndWait("hub-withdraw", await client.withdrawTransaction(state.token.address));
    setMessage("hub-withdraw", "success", "Withdrawn to your wallet.");
    await Promise.all([loadAccount(), loadWalletBalance()]);
  });
}

export async function cancelWithdrawal() {
  await action("hub-withdraw", async () => {
    await sendAndWait("hub-withdraw", await client.cancelWithdrawalTransaction(state.token.address));
    clearMessage("hub-withdraw");
    await loadAccount();
  });
}

/** Checked before the wallet is asked to send anything: a wallet without ether cannot pay the gas. */
async function ensureGas() {
  if ((await wallet.etherBalance(state.address)) === 0n) {
    throw new Error("Your wallet has no ether to pay this transaction's gas: fund it first (on the local chain, any demo account has some).");
  }
}

async function sendAndWait(messageName, tx) {
  await ensureGas();
  setMessage(messageName, "pending", "Confirm the transaction in your wallet.");
  const hash = await client.sendTransaction(tx);
  setMessage(messageName, "pending", "Sent: waiting for it to be mined…", hash);
  const receipt = await wallet.waitForReceipt(hash);
  if (!receipt.succeeded) throw new Error("The hub refused it: the transaction reverted.");
  return hash;
}

// ------------------------------------------------------------------------------ creator actions

export async function withdraw() {
  await action("withdraw", async () => {
    const amount = BigInt(state.earnings.withdrawable);
    const tx = await client.withdrawEarningsTransaction(state.address, state.token.address);
    const hash = await sendAndWait("withdraw", tx);
    setMessage("withdraw", "success", `Withdrawn: ${money(amount)} sent to your wallet.`, hash);
    await Promise.all([loadWalletBalance(), loadEarnings()]);
  });
}

/** Claims the creator's own vouchers with its own wallet (the exit that needs no settler): the
 * server prepares hub.claim with the operator's acknowledgements; the wallet sends it. */
export async function claimOwnVouchers() {
  await action("claim", async () => {
    const due = BigInt(state.earnings?.accepted ?? 0);
    if (due === 0n) {
      setMessage("claim", "error", "Nothing is waiting to be claimed.", null, () => BigInt(state.earnings?.accepted ?? 0) > 0n);
      return;
    }
    const { claimTransaction } = await client.request(Q.CLAIM_TRANSACTION, { payee: state.address });
    const hash = await sendAndWait("claim", { ...claimTransaction, value: BigInt(claimTransaction.value) });
    // True until the creator withdraws it (the server may index the claim a moment after this).
    const withdrawn = BigInt(state.earnings.withdrawn);
    setMessage("claim", "success", `Claimed: ${money(due)} is yours to withdraw.`, hash, () => BigInt(state.earnings?.withdrawn ?? 0) > withdrawn);
    await loadEarnings();
  });
}

/** Saves the creator's unclaimed vouchers as a file: with it, `python -m app claim-exported` (or
 * any wallet) claims them with no server at all. */
export async function exportVouchers() {
  await action("export", async () => {
    const { exportVouchers: exported } = await client.request(Q.EXPORT_VOUCHERS, { payee: state.address });
    const count = exported.claims.length; // one claim block per lane that owes the creator
    if (count === 0) {
      setMessage("claim", "error", "You have no unclaimed vouchers to export.");
      return;
    }
    download(`vouchers-${state.address.slice(0, 10).toLowerCase()}.json`, JSON.stringify(exported, null, 2), "application/json");
    setMessage("claim", "success", `Saved ${count} ${count === 1 ? "voucher" : "vouchers"} (${money(state.earnings.accepted)}): anyone can claim them for you with that file.`);
  }, "claim");
}

/** Sets the creator's display name, shown to readers with its address. */
export async function saveDisplayName(text) {
  await action("profile", async () => {
    const { setDisplayName: result } = await client.request(Q.SET_DISPLAY_NAME, { name: text });
    if (result.__typename !== "CreatorProfile") throw new Error(result.message);
    state.profile = { displayName: result.displayName };
    setMessage("profile", "success", `Saved: readers see your articles by ${result.displayName}.`, null, () => state.profile?.displayName !== result.displayName);
    await loadResources();
  });
}

/** Lists an article (or updates the creator's own listing with this id) at `priceText` USDC;
 * true once saved. */
export async function saveListing({ id, title, description, priceText }) {
  let saved = false;
  await action("listing", async () => {
    const price = parseAmount(priceText, state.token.decimals);
    if (price > MAX_AMOUNT) throw new Error(`A price is at most ${money(MAX_AMOUNT)}.`);
    const input = { id: id.trim() || slug(title), token: state.token.address, price: String(price), title, description };
    const { saveResource: result } = await client.request(Q.SAVE_RESOURCE, { input });
    if (result.__typename !== "ResourceSaved") throw new Error(result.message);
    await loadResources();
    setMessage("listing", "success", `Listed “${result.resource.title}” at ${money(result.resource.price)} a read.`, null, () => !resourceById(input.id));
    saved = true;
  });
  return saved;
}

/** "A Field Guide!" -> "a-field-guide" (an id the API accepts). */
function slug(title) {
  const text = title.normalize("NFKD").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return (text || "article").slice(0, 100);
}

/** The receipts (or sales) shown, as a CSV file with a total row. */
export function downloadReceipts(which) {
  const receipts = which === "sales" ? state.sales : state.session ? state.receipts : [...state.paid.values()];
  const csv = receiptsCsv(receipts ?? [], {
    counterparty: which === "sales" ? "payer" : "payee",
    token: state.token,
    title: (id) => resourceById(id)?.title ?? id,
    name: creatorName,
  });
  download(`${which}-${new Date().toISOString().slice(0, 10)}.csv`, csv, "text/csv");
}
