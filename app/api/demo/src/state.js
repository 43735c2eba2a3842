// What the page knows, in one object. Actions change it and call changed(); the view renders
// from it alone.

import { formatAmount } from "./format.js";

export const state = {
  hasWallet: false,
  config: null,
  token: null, // {address, symbol, decimals}: the hub's first allowed token
  resources: [],
  loadingResources: true,
  address: null,
  walletChainId: null,
  session: null, // {token, address, expiresAt}: Sign-In with Ethereum
  account: null, // the hub account, live
  walletBalance: null,
  deposit: null, // {baseline, amount, txHash} while a relayed deposit is pending
  key: null, // this tab's session key: {privateKey, address, client}, once its grant is on file
  keyInfo: null, // the server's view of it: maxTotal, spent, validUntil, revokedAt, lane
  keys: null, // all of the payer's session keys, as the server knows them
  revoked: new Set(), // signers (lower case) this tab revoked, before the server has seen it
  withdrawal: null, // {txHash} while a requested withdrawal or a withdrawal is being mined
  now: Math.floor(Date.now() / 1000), // ticks while a countdown is on screen
  paid: new Map(), // resource id -> receipt, paid in this tab
  reading: null, // {id, opened}: the article on screen; `opened` counts the times one was opened
  receipts: null,
  sales: null,
  earnings: null,
  profile: null, // the connected creator's {displayName}, once read
  messages: {}, // status line name -> {tone, text, tx, clearWhen}: clearWhen() true drops it
  busy: new Set(), // names of the actions running
  live: "idle", // live updates: "idle" (nothing to follow yet), "connecting", "live" or "polling"
  error: null, // what stops the demo, or stopped live updates
  loadError: null, // the last refresh that failed, until one succeeds
};

const listeners = [];
let scheduled = false;

/** Calls `listener` after changes, once for any number of changes made in one go. */
export function whenChanged(listener) {
  listeners.push(listener);
}

export function changed() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    // A message that is no longer true goes: "Deposit at least …" once the deposit is in.
    for (const [name, message] of Object.entries(state.messages)) {
      if (message.clearWhen?.()) delete state.messages[name];
    }
    for (const listener of listeners) listener();
  });
}

/** Shows `text` in the status line `name`; `clearWhen()`, checked after every change, drops it. */
export function setMessage(name, tone, text, tx = null, clearWhen = null) {
  state.messages[name] = { tone, text, tx, clearWhen };
  changed();
}

export function clearMessage(name) {
  delete state.messages[name];
  changed();
}

export const sameAddress = (a, b) => a?.toLowerCase() === b?.toLowerCase();

export const connected = () => state.address !== null && state.walletChainId === state.config?.chainId;

export const resourceById = (id) => state.resources.find((resource) => resource.id === id);

/** A creator's display name, as its listings carry it (and the connected creator's own); null if none. */
export function creatorName(address) {
  if (sameAddress(address, state.address) && state.profile) return state.profile.displayName;
  return state.resources.find((resource) => sameAddress(resource.payee, address) && resource.creatorName)?.creatorName ?? null;
}

/** Deposits raise it; claims leave it alone (balance and outstanding fall together); pays lower it. */
export const spendable = (account) => (account ? BigInt(account.balance) - BigInt(account.outstanding) : 0n);

/** "0.02 USDC" */
export function money(value) {
  return `${formatAmount(value, state.token.decimals)} ${state.token.symbol}`;
}

/** What the payer can still spend, as the server last said (0 before it said anything). */
export const headroom = () => (state.account ? BigInt(state.account.headroom) : 0n);

/** What this tab's session key may still sign, or null without a usable key. */
export function keyLeft() {
  const info = state.keyInfo;
  if (!state.key || !info || info.revokedAt !== null || info.validUntil <= state.now) return null;
  return BigInt(info.maxTotal) - BigInt(info.spent);
}
