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
  key: null, // this tab's SessionKey, once registered on chain
  keyInfo: null, // the server's view of it: remaining allowance, outstanding, validUntil
  paid: new Map(), // resource id -> receipt, paid in this tab
  reading: null, // {id, opened}: the article on screen; `opened` counts the times one was opened
  receipts: null,
  sales: null,
  earnings: null,
  messages: {}, // status line name -> {tone, text, tx}
  busy: new Set(), // names of the actions running
  live: "connecting", // live updates: "connecting", "live" or "polling"
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
    for (const listener of listeners) listener();
  });
}

export function setMessage(name, tone, text, tx = null) {
  state.messages[name] = { tone, text, tx };
  changed();
}

export function clearMessage(name) {
  delete state.messages[name];
  changed();
}

export const sameAddress = (a, b) => a?.toLowerCase() === b?.toLowerCase();

export const connected = () => state.address !== null && state.walletChainId === state.config?.chainId;

export const resourceById = (id) => state.resources.find((resource) => resource.id === id);

/** Deposits raise it; claims leave it alone (balance and outstanding fall together); pays lower it. */
export const spendable = (account) => (account ? BigInt(account.balance) - BigInt(account.outstanding) : 0n);

/** "0.02 USDC" */
export function money(value) {
  return `${formatAmount(value, state.token.decimals)} ${state.token.symbol}`;
}
