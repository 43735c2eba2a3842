// A test wallet for the browser: an EIP-1193 `window.ethereum` in the page whose every request
// is answered here, in Node, by viem with a local private key against the test chain. It counts
// what it signs, so a test can tell which actions prompted the wallet.

import { createPublicClient, createWalletClient, defineChain, http, numberToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

// Runs in the page before any of its scripts. The page sees an ordinary injected wallet.
function installProvider() {
  const listeners = {};
  window.ethereum = {
    isTestWallet: true,
    async request({ method, params }) {
      const answer = await window.__testWallet(method, params ?? []);
      if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
      return answer.result;
    },
    on(event, listener) {
      (listeners[event] ??= []).push(listener);
    },
    removeListener(event, listener) {
      listeners[event] = (listeners[event] ?? []).filter((l) => l !== listener);
    },
  };
}

/** Gives `context` (a Playwright BrowserContext) a wallet holding `privateKey`; returns its log. */
export async function installTestWallet(context, { privateKey, rpcUrl }) {
  const account = privateKeyToAccount(privateKey);
  const reader = createPublicClient({ transport: http(rpcUrl) });
  const chainId = await reader.getChainId();
  const chain = defineChain({
    id: chainId,
    name: "test chain",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const sender = createWalletClient({ account, chain, transport: http(rpcUrl) });
  const wallet = {
    address: account.address,
    authorised: false, // like a real wallet, it shares no account until eth_requestAccounts
    signed: { typedData: [], messages: 0, transactions: 0 },
  };

  const sameAccount = (address) => address?.toLowerCase() === account.address.toLowerCase();
  const refuse = (message, code = 4100) => ({ error: { message, code } });

  async function answer(method, params) {
    switch (method) {
      case "eth_requestAccounts":
        wallet.authorised = true;
        return [account.address];
      case "eth_accounts":
        return wallet.authorised ? [account.address] : [];
      case "eth_chainId":
        return numberToHex(chainId);
      case "eth_signTypedData_v4": {
        const [address, json] = params;
        if (!wallet.authorised || !sameAccount(address)) return refuse("not this wallet's account");
        const typedData = JSON.parse(json);
        wallet.signed.typedData.push(typedData.primaryType);
        return account.signTypedData(typedData);
      }
      case "personal_sign": {
        const [message, address] = params;
        if (!wallet.authorised || !sameAccount(address)) return refuse("not this wallet's account");
        wallet.signed.messages += 1;
        return account.signMessage({ message: { raw: message } });
      }
      case "eth_sendTransaction": {
        const [tx] = params;
        if (!wallet.authorised || !sameAccount(tx.from)) return refuse("not this wallet's account");
        wallet.signed.transactions += 1;
        return sender.sendTransaction({ to: tx.to, data: tx.data, value: BigInt(tx.value ?? 0) });
      }
      case "wallet_switchEthereumChain":
        return Number(params[0].chainId) === chainId ? null : refuse("unknown chain", 4902);
      default: // reads (eth_call, eth_getTransactionReceipt, ...) go to the node
        return reader.request({ method, params });
    }
  }

  await context.exposeFunction("__testWallet", async (method, params) => {
    try {
      const result = await answer(method, params);
      return result && typeof result === "object" && "error" in result ? result : { result };
    } catch (error) {
      return { error: { message: error.shortMessage ?? error.message, code: -32603 } };
    }
  });
  await context.addInitScript(installProvider);
  return wallet;
}
