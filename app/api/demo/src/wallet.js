// The user's wallet through EIP-1193 (window.ethereum): connecting, its chain, receipts and
// balances. Signatures and transactions go through the micropayments client (clients/js), to
// which `viemClient()` hands this wallet.

import { createWalletClient, custom, encodeFunctionData, erc20Abi, getAddress, hexToBigInt, numberToHex } from "viem";

export class WalletError extends Error {}

/** Chains the page may add to a wallet that lacks them: the local test chain of scripts/dev
 * (anvil's chain id; its RPC URL is the one the server advertises, PUBLIC_RPC_URL, which scripts/dev
 * sets to wherever CHAIN_PORT put the chain). */
const LOCAL_CHAINS = {
  31337: {
    chainName: "Local test chain (scripts/dev)",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: ["http://127.0.0.1:8545"],
  },
};

/** The EIP-1193 code of a wallet error, also when viem wrapped it. */
function codeOf(error) {
  for (let cause = error; cause; cause = cause.cause) if (typeof cause.code === "number") return cause.code;
  return null;
}

/** Why a wallet request failed, in words: a refusal by the user is not an error to apologise for. */
export function explain(error) {
  const code = codeOf(error);
  if (code === 4001) return new WalletError("You declined the request in your wallet.");
  if (code === 4100) return new WalletError("The wallet has not authorised this page: connect first.");
  return new WalletError(error?.shortMessage ?? error?.message ?? String(error));
}

/** Whether `error` is the user declining in the wallet. */
export const declined = (error) => codeOf(error) === 4001;

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

  /** Asks the wallet to switch to `chainId`, adding the local test chain first when the wallet
   * does not know it (EIP-3085); false when it cannot. */
  async switchChain(chainId, rpcUrl = null) {
    const hex = numberToHex(chainId);
    try {
      await this.provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: hex }] });
    } catch (error) {
      const known = LOCAL_CHAINS[chainId];
      const local = known && rpcUrl ? { ...known, rpcUrls: [rpcUrl] } : known;
      if (codeOf(error) !== 4902 || !local) return false;
      try {
        await this.provider.request({ method: "wallet_addEthereumChain", params: [{ chainId: hex, ...local }] });
      } catch {
        return false;
      }
    }
    return (await this.chainId().catch(() => null)) === chainId;
  }

  /** The wallet's ether, in wei: what pays the gas of the transactions it sends. */
  async etherBalance(address) {
    return hexToBigInt(await this.request("eth_getBalance", [address, "latest"]));
  }

  /** This wallet as a viem WalletClient, for the micropayments client to sign and send with. */
  viemClient() {
    return createWalletClient({ transport: custom(this.provider) });
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

  /** The chain's clock: the latest block's timestamp (unix seconds), which may run ahead of ours. */
  async chainTime() {
    const block = await this.request("eth_getBlockByNumber", ["latest", false]);
    return Number(BigInt(block.timestamp));
  }

  onChange(callback) {
    this.provider.on?.("accountsChanged", callback);
    this.provider.on?.("chainChanged", callback);
  }
}
