// The client against a real server. tests/client/test_js_client.py starts one (with a chain,
// a funded payer and a listed resource) and runs `node --test clients/js/test/` with:
//   MICROPAYMENTS_URL  the server          RPC_URL         its chain node (anvil)
//   PAYER_KEY          a payer with a deposit, and tokens in its wallet
//   WALLET_ADDRESS     a payer with a deposit whose key the node holds (a JSON-RPC wallet)
//   RESOURCE_ID        a resource for sale  PRICE          its price    TOKEN   the hub's token

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createPublicClient, createWalletClient, getAddress, http } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { MicropaymentsError, createMicropayments, withBigInts } from "../micropayments.js";

const required = ["MICROPAYMENTS_URL", "RPC_URL", "PAYER_KEY", "WALLET_ADDRESS", "RESOURCE_ID", "PRICE", "TOKEN"];
const missing = required.filter((name) => !process.env[name]);
// Without a server (e.g. `npm test` in clients/js) only test/checks.test.js runs.
const skip = missing.length > 0 && `set ${missing.join(", ")} (tests/client/test_js_client.py runs these with a server)`;
const env = /** @type {Record<string, string>} */ (process.env);
const url = env.MICROPAYMENTS_URL;
const RESOURCE = env.RESOURCE_ID;
const PRICE = BigInt(env.PRICE ?? 0);
const TOKEN = skip ? "0x0000000000000000000000000000000000000000" : getAddress(env.TOKEN);
const payerKey = /** @type {`0x${string}`} */ (env.PAYER_KEY);
const payer = skip ? null : privateKeyToAccount(payerKey);
const node = createPublicClient({ transport: http(env.RPC_URL ?? "http://127.0.0.1:8545") });
/** @type {{ chainId: number, address: `0x${string}` }} */
let hub;

/** The hub's chain and address, as the server says. */
async function hubOf() {
  hub ??= await fetch(new URL("/graphql", url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ config { chainId hub } }" }),
  })
    .then((response) => response.json())
    .then(({ data }) => ({ chainId: data.config.chainId, address: data.config.hub }));
  return hub;
}

/** A new client of the funded payer. @param {Partial<import("../micropayments.js").Options>} [extra] */
const payerClient = (extra = {}) => createMicropayments({ url, account: privateKeyToAccount(payerKey), ...extra });

/** The chain's clock, which may run ahead of this machine's. */
const chainTime = async () => Number((await node.getBlock()).timestamp);

/**
 * `check()`'s first truthy result, polled every 100 ms for at most `seconds`.
 * @template T
 * @param {string} what
 * @param {() => Promise<T>} check
 * @returns {Promise<NonNullable<T>>}
 */
async function eventually(what, check, seconds = 20) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await check();
    if (value) return /** @type {NonNullable<T>} */ (value);
    if (Date.now() > deadline) throw new Error(`not within ${seconds} s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether a request is the pay mutation. @param {RequestInit | undefined} init */
const isPay = (init) => String(init?.body).includes("mutation Pay");

/** @param {string} code */
const refusedWith = (code) => (/** @type {any} */ error) => {
  assert.ok(error instanceof MicropaymentsError, `expected a MicropaymentsError, got ${error}`);
  assert.equal(error.code, code, error.message);
  return true;
};

/** The JSON-RPC wallet of WALLET_ADDRESS (anvil signs for it, like a browser wallet would). */
const rpcWallet = () => createWalletClient({ account: getAddress(env.WALLET_ADDRESS), transport: http(env.RPC_URL) });

describe("paying", { skip }, () => {
  test("paying three times raises the payee's amount and lowers the headroom by three prices", async () => {
    const client = payerClient();
    const before = await client.account(TOKEN);

    const receipts = [];
    for (let i = 0; i < 3; i++) receipts.push(await client.pay(RESOURCE));

    const after = await client.account(TOKEN);
    assert.equal(before.headroom - after.headroom, 3n * PRICE);
    assert.deepEqual(
      receipts.map((receipt) => receipt.cumulativeAmount - receipts[0].cumulativeAmount),
      [0n, PRICE, 2n * PRICE],
    );
    for (const receipt of receipts) {
      assert.equal(receipt.payer, payer?.address);
      assert.equal(receipt.price, PRICE);
      assert.equal(receipt.status, "ACCEPTED");
      assert.equal(receipt.lane, receipts[0].lane, "the wallet's lane");
      assert.match(receipt.acknowledgement, /^0x[0-9a-f]{128,130}$/);
      const entry = receipt.voucher.entries.find((e) => e.payee === receipt.payee);
      assert.equal(entry?.cumulativeAmount, receipt.cumulativeAmount);
    }
  });

  test("a client resynchronises when another client of the same payer paid meanwhile", async () => {
    const other = payerClient();
    /** @type {import("../micropayments.js").Receipt | undefined} */
    let otherReceipt;
    // The other client pays between this client's voucherToSign and its pay.
    let pays = 0;
    const client = payerClient({
      fetch: async (input, init) => {
        if (isPay(init)) {
          pays += 1;
          otherReceipt ??= await other.pay(RESOURCE);
        }
        return fetch(input, init);
      },
    });
    const before = await client.account(TOKEN);

    const receipt = await client.pay(RESOURCE);

    assert.ok(otherReceipt);
    assert.equal(pays, 2, "refused once, then paid above the other client's voucher");
    assert.equal(receipt.cumulativeAmount, otherReceipt.cumulativeAmount + PRICE);
    const after = await client.account(TOKEN);
    assert.equal(before.headroom - after.headroom, 2n * PRICE);
  });

  test("a mismatch whose latest voucher the payer never signed is not resynchronised", async () => {
    const forger = privateKeyToAccount(generatePrivateKey());
    const { chainId, address } = await hubOf();
    let pays = 0;
    // A server that claims the lane is further along, with a voucher the payer did not sign.
    const client = payerClient({
      fetch: async (input, init) => {
        if (!isPay(init)) return fetch(input, init);
        pays += 1;
        const { input: sent } = JSON.parse(String(init?.body)).variables;
        const entries = sent.entries.map((/** @type {any} */ e) => ({ ...e, cumulativeAmount: "1000000000" }));
        const message = { payer: sent.payer, token: sent.token, lane: sent.lane, entries, purchase: sent.purchase };
        const signature = await forger.signTypedData(
          withBigInts({
            domain: { name: "MicropaymentHub", version: "2", chainId, verifyingContract: address },
            types: {
              PayerVoucher: [
                { name: "payer", type: "address" },
                { name: "token", type: "address" },
                { name: "lane", type: "uint256" },
                { name: "entries", type: "Entry[]" },
                { name: "purchase", type: "bytes32" },
              ],
              Entry: [
                { name: "payee", type: "address" },
                { name: "cumulativeAmount", type: "uint256" },
              ],
            },
            primaryType: "PayerVoucher",
            message,
          }),
        );
        const latest = { ...message, signature, acknowledgement: "0x", signer: forger.address };
        return Response.json({
          data: { pay: { __typename: "CumulativeMismatch", code: "CUMULATIVE_MISMATCH", message: "stale", latest } },
        });
      },
    });

    await assert.rejects(client.pay(RESOURCE), (error) => {
      refusedWith("CUMULATIVE_MISMATCH")(error);
      assert.match(error.message, new RegExp(`signed by ${forger.address}, neither the payer`));
      return true;
    });
    assert.equal(pays, 1, "nothing more was signed and sent");
  });

  test("a payer with no deposit is refused with INSUFFICIENT_FUNDS and its headroom", async () => {
    const broke = createMicropayments({ url, account: privateKeyToAccount(generatePrivateKey()) });

    await assert.rejects(broke.pay(RESOURCE), (error) => {
      refusedWith("INSUFFICIENT_FUNDS")(error);
      assert.deepEqual(error.fields, { headroom: "0", price: String(PRICE) });
      return true;
    });
  });

  test("a resource that is not for sale is refused with UNKNOWN_RESOURCE", async () => {
    await assert.rejects(payerClient().pay("no-such-article"), refusedWith("UNKNOWN_RESOURCE"));
  });

  test("a JSON-RPC wallet (eth_signTypedData_v4, like a browser's) pays and signs in", async () => {
    const client = createMicropayments({ url, account: rpcWallet() });

    const receipt = await client.pay(RESOURCE);
    const session = await client.signIn();

    assert.equal(receipt.payer, getAddress(env.WALLET_ADDRESS));
    assert.equal(session.address, getAddress(env.WALLET_ADDRESS));
    assert.equal((await client.receipts()).receipts[0].id, receipt.id);
  });
});

describe("session keys", { skip }, () => {
  test("a session key authorised by one signed grant pays at once, on its own lane", async () => {
    const client = payerClient();
    const validUntil = (await chainTime()) + 7 * 24 * 3600;
    const { sessionKey, privateKey, grant, client: sessionClient } = await client.authorizeSessionKey({
      maxTotal: 10n * PRICE,
      validUntil,
    });
    assert.match(privateKey, /^0x[0-9a-f]{64}$/);
    assert.equal(grant.signer, sessionKey);
    assert.equal(grant.validUntil, validUntil);

    const receipt = await sessionClient.pay(RESOURCE); // no wait for any chain event

    assert.equal(receipt.payer, payer?.address);
    assert.equal(receipt.signer, sessionKey);
    assert.equal(receipt.lane, grant.lane);
    const [key] = (await client.sessionKeys()).filter((key) => key.signer === sessionKey);
    assert.equal(key.maxTotal, 10n * PRICE);
    assert.equal(key.spent, PRICE);
  });

  test("the payer's wallet revokes a key with the transaction the server prepares", async () => {
    const wallet = createMicropayments({ url, account: rpcWallet() });
    const { sessionKey } = await wallet.authorizeSessionKey({ maxTotal: PRICE });

    const tx = await wallet.revokeSessionKeyTransaction(sessionKey);
    const hash = await wallet.sendTransaction(tx);

    assert.equal(tx.to, (await hubOf()).address);
    assert.equal((await node.waitForTransactionReceipt({ hash })).status, "success");
    await eventually("the server sees the revocation", async () =>
      (await wallet.sessionKeys()).find((key) => key.signer === sessionKey && key.revokedAt !== null),
    );
  });
});

describe("deposits and withdrawals", { skip }, () => {
  test("a gasless deposit with a permit, token left out, raises the balance once indexed", async () => {
    const client = payerClient();
    const before = await client.account();

    const { txHash } = await client.depositWithPermit(undefined, 50_000n, { deadline: (await chainTime()) + 3600 });

    assert.match(txHash, /^0x[0-9a-f]{64}$/);
    const after = await eventually("the server indexes the deposit", async () => {
      const account = await client.account(TOKEN);
      return account.balance > before.balance && account;
    });
    assert.equal(after.balance - before.balance, 50_000n);
    assert.equal(after.headroom - before.headroom, 50_000n);
  });

  test("a gasless deposit with an EIP-3009 authorization raises the balance once indexed", async () => {
    const client = payerClient();
    const before = await client.account(TOKEN);

    const { txHash } = await client.depositWithAuthorization(TOKEN, 30_000n, {
      validBefore: (await chainTime()) + 3600,
    });

    assert.match(txHash, /^0x[0-9a-f]{64}$/);
    const after = await eventually("the server indexes the deposit", async () => {
      const account = await client.account(TOKEN);
      return account.balance > before.balance && account;
    });
    assert.equal(after.balance - before.balance, 30_000n);
  });

  test("a withdrawal requested by the wallet shows as pending and lowers the headroom", async () => {
    const client = createMicropayments({ url, account: rpcWallet() });
    const before = await client.account(TOKEN);

    const hash = await client.sendTransaction(await client.requestWithdrawalTransaction(PRICE));

    assert.equal((await node.waitForTransactionReceipt({ hash })).status, "success");
    const after = await eventually("the server indexes the request", async () => {
      const account = await client.account(TOKEN);
      return account.pendingWithdrawal === PRICE && account;
    });
    assert.equal(before.headroom - after.headroom, PRICE);
    assert.ok(after.withdrawalAvailableAt !== null);
    const cancelled = await client.sendTransaction(await client.cancelWithdrawalTransaction(TOKEN));
    assert.equal((await node.waitForTransactionReceipt({ hash: cancelled })).status, "success");
  });
});

describe("signed in", { skip }, () => {
  test("a payer signs in and lists its own receipts, newest first", async () => {
    const client = payerClient();
    const first = await client.pay(RESOURCE);
    const second = await client.pay(RESOURCE);

    const session = await client.signIn();
    const page = await client.receipts({ first: 2 });

    assert.equal(session.address, payer?.address);
    assert.deepEqual(
      page.receipts.map((receipt) => receipt.id),
      [second.id, first.id],
    );
    assert.equal(page.hasNextPage, true);
  });

  test("receipts are refused before signing in", async () => {
    await assert.rejects(payerClient().receipts(), refusedWith("UNAUTHENTICATED"));
  });
});

describe("subscriptions", { skip }, () => {
  const noWebSocket =
    typeof WebSocket === "undefined" &&
    `no global WebSocket in Node ${process.versions.node}: run with --experimental-websocket (Node 20) or Node >= 22`;

  test("watchAccount shows the account now, then after each payment", { skip: noWebSocket }, async () => {
    const client = payerClient();
    /** @type {import("../micropayments.js").Account[]} */
    const seen = [];
    /** @type {unknown[]} */
    const errors = [];
    const stop = await client.watchAccount(TOKEN, (account) => seen.push(account), (error) => errors.push(error));
    try {
      const [now] = await eventually("the account now", async () => seen.length > 0 && seen);

      await client.pay(RESOURCE);

      await eventually("the account after the payment", async () =>
        seen.find((account) => account.headroom === now.headroom - PRICE),
      );
      assert.deepEqual(errors, []);
      assert.equal(now.payer, payer?.address);
    } finally {
      stop();
    }
  });
});
