// The session key: generated in this tab, authorised once by the wallet with a spending cap,
// then it signs every voucher with no prompt. It lives in sessionStorage, so it goes away with
// the tab; the cap, enforced on chain, bounds what a leaked key could ever spend.

import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

function storageKey(hub, payer) {
  return `micropayments-demo:session-key:${hub}:${payer}`.toLowerCase();
}

export class SessionKey {
  constructor(privateKey, authorization = null) {
    this.privateKey = privateKey;
    this.account = privateKeyToAccount(privateKey);
    this.address = this.account.address;
    this.authorization = authorization; // the SignerAuthorization message, once the wallet signed it
  }

  /** This tab's key for `payer` on `hub`, or null. */
  static load(hub, payer) {
    const saved = sessionStorage.getItem(storageKey(hub, payer));
    if (!saved) return null;
    try {
      const { privateKey, authorization } = JSON.parse(saved);
      return new SessionKey(privateKey, authorization);
    } catch {
      return null;
    }
  }

  static generate() {
    return new SessionKey(generatePrivateKey());
  }

  save(hub, payer) {
    const value = JSON.stringify({ privateKey: this.privateKey, authorization: this.authorization });
    sessionStorage.setItem(storageKey(hub, payer), value);
  }

  static forget(hub, payer) {
    sessionStorage.removeItem(storageKey(hub, payer));
  }

  /** Signs typed data from the server as is: no wallet, no prompt. */
  signTypedData({ domain, types, primaryType, message }) {
    return this.account.signTypedData({ domain, types, primaryType, message });
  }
}
