// The /demo page in headless Chromium against a fake API and a fake chain, all in this process:
// what the page checks before it asks the wallet anything, and that its messages say amounts in
// USDC and go away once no longer true. No chain, no server: the fake API is the JS client's
// (clients/js/test/fake-server.js) plus the page's own queries; the wallet signs with a local key.
//
// env: SCREENSHOT_DIR, CHROMIUM (optional). Run after scripts/build-demo.
// stdout: one JSON line with what the wallet was asked and the screenshots taken.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { CHAIN_ID, PAYEES, PRICE, TOKEN, fakeServer } from "../../../clients/js/test/fake-server.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ORIGIN = "http://demo.test";
const { SCREENSHOT_DIR } = process.env;
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const WITHDRAW_DELAY = 3600;

const api = fakeServer();
const reader = privateKeyToAccount(generatePrivateKey());
const hub = { balance: 0n, outstanding: 0n, pending: 0n, availableAt: null };
const chain = { time: Math.floor(Date.now() / 1000), walletBalance: 100_000_000n, sent: [] };
const asked = { typedData: [], messages: 0, transactions: 0 };
const problems = [];
const screenshots = [];
const resources = PAYEES.map((payee, i) => ({
  id: `article-${i}`,
  payee,
  token: TOKEN,
  price: String(PRICE),
  title: `Article ${i}`,
  description: "",
}));
/** Transactions the fake API prepared, by calldata: what mining one does to the hub. */
const effects = new Map();

function account() {
  return {
    payer: reader.address,
    token: TOKEN,
    balance: String(hub.balance),
    pendingWithdrawal: String(hub.pending),
    withdrawalAvailableAt: hub.availableAt,
    outstanding: String(hub.outstanding),
    headroom: String(hub.balance - hub.pending - hub.outstanding),
  };
}

/** A TransactionRequest whose mining runs `effect`. */
function transaction(description, effect) {
  const data = `0x${(effects.size + 1).toString(16).padStart(8, "0")}`;
  effects.set(data, effect);
  return { chainId: CHAIN_ID, to: PAYEES[0], data, value: "0", description };
}

/** The page's own queries; the rest go to the client's fake API. */
async function graphql({ query, variables }) {
  const operation = /^\s*(?:query|mutation|subscription)\s+(\w+)/.exec(query)?.[1];
  switch (operation) {
    case "Resources":
      return { resources: { edges: resources.map((node) => ({ node })), pageInfo: { hasNextPage: false } } };
    case "Account":
      return { account: account() };
    case "Me":
      return { me: reader.address };
    case "SignInMessage":
      return { signInMessage: "demo.test wants you to sign in" };
    case "SignIn":
      return { signIn: { __typename: "Session", token: "session", address: reader.address, expiresAt: 2e9 } };
    case "SignOut":
      return { signOut: true };
    case "Receipts":
      return { receipts: { edges: [] } };
    case "Sales":
      return { sales: { edges: [] } };
    case "Earnings":
      return { earnings: { accepted: "0", withdrawable: "0", withdrawn: "0" } };
    case "CreatorProfile":
      return { creatorProfile: { displayName: null } };
    case "Revoke":
      return { revokeSessionKeyTransaction: transaction("revokeSigner", () => {}) };
    case "RequestWithdrawal":
      return {
        requestWithdrawalTransaction: transaction("requestWithdrawal", () => {
          hub.pending = BigInt(variables.amount);
          hub.availableAt = chain.time + WITHDRAW_DELAY;
        }),
      };
    case "Withdraw":
      return {
        withdrawTransaction: transaction("withdraw", () => {
          hub.balance -= hub.pending;
          chain.walletBalance += hub.pending;
          hub.pending = 0n;
          hub.availableAt = null;
        }),
      };
    case "DepositWithPermit":
      hub.balance += BigInt(variables.amount);
      chain.walletBalance -= BigInt(variables.amount);
      break;
  }
  const response = await api.fetch(`${ORIGIN}/graphql`, { method: "POST", body: JSON.stringify({ query, variables }) });
  const { data, errors } = await response.json();
  if (errors) throw new Error(errors[0].message);
  if (data.pay?.__typename === "PaymentAccepted") hub.outstanding += BigInt(data.pay.receipt.price);
  return data;
}

/** The wallet's answers (EIP-1193), counting what it signs and sends. It starts on mainnet and
 * does not know the local chain: the page must add it (wallet_addEthereumChain), then switch. */
let connected = false;
let walletChain = 1;
const addedChains = [];
let declineNext = false; // the user says no to the next signature
async function walletAnswer(method, params) {
  if (declineNext && /^(eth_sign|personal_sign|eth_sendTransaction)/.test(method)) {
    declineNext = false;
    throw Object.assign(new Error("User rejected the request."), { code: 4001 });
  }
  switch (method) {
    case "eth_requestAccounts":
      connected = true;
      return [reader.address];
    case "eth_accounts":
      return connected ? [reader.address] : [];
    case "eth_chainId":
      return `0x${walletChain.toString(16)}`;
    case "wallet_switchEthereumChain": {
      const wanted = Number(params[0].chainId);
      if (!addedChains.some((chain) => Number(chain.chainId) === wanted)) {
        throw Object.assign(new Error("Unrecognized chain ID. Try adding the chain first."), { code: 4902 });
      }
      walletChain = wanted;
      return null;
    }
    case "wallet_addEthereumChain":
      addedChains.push(params[0]);
      walletChain = Number(params[0].chainId); // wallets switch to a chain they just added
      return null;
    case "eth_call": // balanceOf(reader) of the token: the only call the page makes
      return `0x${chain.walletBalance.toString(16).padStart(64, "0")}`;
    case "eth_getBalance": // ether for gas: the reader has some
      return "0xde0b6b3a7640000";
    case "eth_getBlockByNumber":
      return { timestamp: `0x${chain.time.toString(16)}` };
    case "eth_signTypedData_v4": {
      const typedData = JSON.parse(params[1]);
      asked.typedData.push(typedData.primaryType);
      return reader.signTypedData(typedData);
    }
    case "personal_sign":
      asked.messages += 1;
      return reader.signMessage({ message: { raw: params[0] } });
    case "eth_sendTransaction": {
      asked.transactions += 1;
      effects.get(params[0].data)?.();
      return `0x${String(asked.transactions).padStart(64, "0")}`;
    }
    case "eth_getTransactionReceipt":
      return { status: "0x1" };
    default:
      throw Object.assign(new Error(`the fake wallet does not answer ${method}`), { code: 4200 });
  }
}

function installProvider() {
  window.ethereum = {
    async request({ method, params }) {
      const answer = await window.__wallet(method, params ?? []);
      if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
      return answer.result;
    },
    on() {},
  };
}

const FILES = {
  "/demo/": ["app/api/demo/index.html", "text/html"],
  "/demo/demo.css": ["app/api/demo/demo.css", "text/css"],
  "/demo/demo.js": ["build/demo/demo.js", "text/javascript"],
};

async function screenshot(page, name) {
  const path = join(SCREENSHOT_DIR, `${String(screenshots.length + 1).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  screenshots.push(path);
}

mkdirSync(SCREENSHOT_DIR, { recursive: true });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, reducedMotion: "reduce" });
  await context.exposeFunction("__wallet", async (method, params) => {
    try {
      return { result: await walletAnswer(method, params) };
    } catch (error) {
      return { error: { message: error.message, code: error.code ?? -32603 } };
    }
  });
  await context.addInitScript(installProvider);
  await context.route(`${ORIGIN}/**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === "/graphql") {
      try {
        return route.fulfill({ json: { data: await graphql(route.request().postDataJSON()) } });
      } catch (error) {
        return route.fulfill({ json: { data: null, errors: [{ message: error.message }] } });
      }
    }
    const file = FILES[url.pathname];
    if (!file) return route.fulfill({ status: 404, body: "not found" });
    return route.fulfill({ body: readFileSync(join(ROOT, file[0])), contentType: file[1] });
  });
  page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  // No WebSocket here: the page falls back to polling, which is what this checks.
  page.on("console", (m) => m.type() === "error" && !/WebSocket/.test(m.text()) && problems.push(m.text()));
  await page.goto(`${ORIGIN}/demo/`);

  await page.getByRole("button", { name: "Connect wallet" }).click();
  await page.getByRole("button", { name: "Sign in with Ethereum" }).click();
  assert.deepEqual(
    addedChains.map(({ chainId, rpcUrls }) => ({ chainId, rpcUrls })),
    [{ chainId: "0x7a69", rpcUrls: ["http://127.0.0.1:8545"] }],
    "the local chain added to the wallet",
  );
  await page.getByRole("tabpanel").getByText("Signed in as").waitFor();

  // Reading with nothing deposited: told how much to deposit, in USDC; the wallet is asked nothing.
  await page.getByRole("button", { name: "Read “Article 0” for 0.01 USDC" }).click();
  const depositFirst = page.getByText(
    "Deposit at least 0.01 USDC first (step 2): this article costs 0.01 USDC and you can spend 0.00 USDC.",
  );
  await depositFirst.waitFor();
  await screenshot(page, "offline-deposit-first");
  assert.deepEqual(asked, { typedData: [], messages: 1, transactions: 0 }, "the wallet was asked to sign");

  // More than the wallet holds: refused before the permit prompt, in USDC.
  await page.getByLabel("Amount to deposit").fill("500");
  await page.getByLabel("Amount to deposit").press("Enter");
  await page.getByText("Your wallet holds 100.00 USDC: deposit at most that much.").waitFor();
  assert.deepEqual(asked.typedData, []);

  await page.getByLabel("Amount to deposit").fill("5");
  await page.getByLabel("Amount to deposit").press("Enter");
  await page.getByText("Credited: 5.00 USDC is in the hub.").waitFor();
  await depositFirst.waitFor({ state: "detached" }); // no longer true: gone

  // A declined signature is said as such, and the next try works.
  declineNext = true;
  await page.getByLabel("Spending cap").fill("0.02");
  await page.getByRole("button", { name: "Authorise", exact: true }).click();
  await page.getByText("You declined the request in your wallet.").waitFor();

  // A key with a cap of two reads: the third read is stopped before any signature.
  await page.getByRole("button", { name: "Authorise", exact: true }).click();
  await page.getByText("Session key active.").waitFor();
  for (const i of [0, 1]) {
    await page.getByRole("button", { name: `Read “Article ${i}” for 0.01 USDC` }).click();
    await page.getByRole("button", { name: `Open “Article ${i}” (paid)` }).waitFor();
  }
  await page.getByRole("button", { name: "Read “Article 2” for 0.01 USDC" }).click();
  await page
    .getByText("Your session key has 0.00 USDC left of its cap and this article costs 0.01 USDC: authorise a new key (step 3).")
    .waitFor();
  await screenshot(page, "offline-cap-used-up");
  // A creator without a display name is shown by its address alone.
  assert.match((await page.locator("#reading-byline").textContent()).trim(), /^by\s*0x1000…0001\s*·\s*Paid 0\.01 USDC$/);
  assert.deepEqual(asked.typedData, ["Permit", "SessionGrant"], "reading prompted the wallet");

  // Revoked: the tab forgets the key; a read is then one voucher signed by the wallet.
  await page.getByRole("button", { name: "Revoke key" }).click();
  await page.getByText(/^Revoked: the key can no longer pay/).waitFor();
  await page.getByRole("button", { name: "Read “Article 2” for 0.01 USDC" }).click();
  await page.getByRole("button", { name: "Open “Article 2” (paid)" }).waitFor();
  assert.deepEqual(asked.typedData, ["Permit", "SessionGrant", "PayerVoucher"]);

  // Leaving: a request, a countdown on the chain's clock, then the withdrawal.
  await page.getByLabel("Amount to withdraw").fill("0.40");
  await page.getByRole("button", { name: "Request", exact: true }).click();
  await page.getByText("You can withdraw it in").waitFor();
  assert.ok(await page.getByRole("button", { name: "Withdraw 0.40 USDC" }).isDisabled());
  await screenshot(page, "offline-countdown");
  chain.time += WITHDRAW_DELAY + 1;
  await page.getByText("You can withdraw it now.").waitFor();
  await page.getByRole("button", { name: "Withdraw 0.40 USDC" }).click();
  await page.getByText("Withdrawn to your wallet.").waitFor();
  await screenshot(page, "offline-withdrawn");
  assert.equal(asked.transactions, 3);
} catch (error) {
  if (page) await screenshot(page, "offline-failure").catch(() => {});
  console.log(JSON.stringify({ asked, screenshots, problems }));
  throw error;
} finally {
  await browser.close();
}
console.log(JSON.stringify({ asked, screenshots, problems }));
