// The user's wallet through EIP-1193 (window.ethereum): accounts, signatures, transactions.
// Only what the wallet alone can do goes through it; everything else goes to the server.

import { encodeFunctionData, erc20Abi, getAddress, hexToBigInt, numberToHex, stringToHex } from "viem";

export class WalletError extends Error {}

/** Why a wallet request failed, in words: a refusal by the user is not an error to apologise for. */
function explain(error) {
  if (error?.code === 4001) return new WalletError("You declined the request in your wallet.");
  if (error?.code === 4100) return new WalletError("The wallet has not authorised this page: connect first.");
  return new WalletError(error?.message ?? String(error));
}

export class Wallet {
  constructor(provider) {
    this.provider = provider;
  }

  /** The browser's wallet, or null when there is none. */
  static detect() {
    return window.ethereum ? new Wallet(window.ethereum) : null;
  }

  async request(method, params = []) {
    try {
      return await this.provider.request({ method, params });
    } catch (error) {
      throw explain(error);
    }
  }

  async connect() {
    const [account] = await this.request("eth_requestAccounts");
    if (!account) throw new WalletError("The wallet shared no account.");
    return getAddress(account);
  }

  async chainId() {
    return Number(await this.request("eth_chainId"));
  }

  /** Asks the wallet to switch to `chainId`; false when it cannot. */
  async switchChain(chainId) {
    try {
      await this.request("wallet_switchEthereumChain", [{ chainId: numberToHex(chainId) }]);
      return (await this.chainId()) === chainId;
    } catch {
      return false;
    }
  }

  /** EIP-712 typed data, signed as the server sent it (integers as decimal strings). */
  signTypedData(address, typedData) {
    return this.request("eth_signTypedData_v4", [address, JSON.stringify(typedData)]);
  }

  /** EIP-191 personal_sign of a text message (Sign-In with Ethereum). */
  personalSign(address, message) {
    return this.request("personal_sign", [stringToHex(message), address]);
  }

  /** A transaction the server prepared (TransactionRequest), sent and paid for by the wallet. */
  sendTransaction(from, tx) {
    return this.request("eth_sendTransaction", [
      { from, to: tx.to, data: tx.data, value: numberToHex(BigInt(tx.value)), chainId: numberToHex(tx.chainId) },
    ]);
  }

  /** The mined receipt of `hash`; polls the wallet's node for up to `timeoutMs`. */
  async waitForReceipt(hash, timeoutMs = 120000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const receipt = await this.request("eth_getTransactionReceipt", [hash]);
      if (receipt) return { ...receipt, succeeded: receipt.status === "0x1" };
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new WalletError(`Transaction ${hash} was not mined within ${timeoutMs / 1000} s.`);
  }

  /** An ERC-20 balance, read through the wallet's node. */
  async tokenBalance(token, owner) {
    const data = encodeFunctionData({ abi: erc20Abi, functionName: "balanceOf", args: [owner] });
    return hexToBigInt(await this.request("eth_call", [{ to: token, data }, "latest"]));
  }

  onChange(callback) {
    this.provider.on?.("accountsChanged", callback);
    this.provider.on?.("chainChanged", callback);
  }
}
