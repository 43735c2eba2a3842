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

import { MicropaymentsError, createMicropayments } from "../micropayments.js";

const required = ["MICROPAYMENTS_URL", "RPC_URL", "PAYER_KEY", "WALLET_ADDRESS", "RESOURCE_ID", "PRICE", "TOKEN"];
const missing = required.filter((name) => !process.env[name]);
if (missing.length) {
  throw new Error(`set ${missing.join(", ")} (tests/client/test_js_client.py runs these tests with a server)`);
}
const env = /** @type {Record<string, string>} */ (process.env);
const url = env.MICROPAYMENTS_URL;
const RESOURCE = env.RESOURCE_ID;
const PRICE = BigInt(env.PRICE);
const TOKEN = getAddress(env.TOKEN);
const payerKey = /** @type {`0x${string}`} */ (env.PAYER_KEY);
const payer = privateKeyToAccount(payerKey);
const node = createPublicClient({ transport: http(env.RPC_URL) });
const hub = await fetch(new URL("/graphql", url), {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ query: "{ config { chainId hub } }" }),
})
  .then((response) => response.json())
  .then(({ data }) => ({ chainId: data.config.chainId, address: data.config.hub }));

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

/** The hub's EIP-712 Voucher of a PayInput-like object. @param {Record<string, string>} voucher */
function voucherTypedData(voucher) {
  return /** @type {const} */ ({
    domain: { name: "MicropaymentHub", version: "1", chainId: hub.chainId, verifyingContract: hub.address },
    types: {
      Voucher: [
        { name: "payer", type: "address" },
        { name: "payee", type: "address" },
        { name: "token", type: "address" },
        { name: "cumulativeAmount", type: "uint256" },
        { name: "purchase", type: "bytes32" },
      ],
    },
    primaryType: "Voucher",
    message: { ...voucher, cumulativeAmount: BigInt(voucher.cumulativeAmount) },
  });
}

/** @param {string} code */
const refusedWith = (code) => (/** @type {any} */ error) => {
  assert.ok(error instanceof MicropaymentsError, `expected a MicropaymentsError, got ${error}`);
  assert.equal(error.code, code, error.message);
  return true;
};

describe("paying", () => {
  test("paying three times lowers the headroom by three prices", async () => {
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
      assert.equal(receipt.payer, payer.address);
      assert.equal(receipt.price, PRICE);
      assert.equal(receipt.status, "ACCEPTED");
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
    assert.equal(pays, 2, "refused once, then paid at the amount the server expects");
    assert.equal(receipt.cumulativeAmount, otherReceipt.cumulativeAmount + PRICE);
    const after = await client.account(TOKEN);
    assert.equal(before.headroom - after.headroom, 2n * PRICE);
  });

  test("a mismatch whose latest voucher the payer never signed is not resynchronised", async () => {
    const forger = privateKeyToAccount(generatePrivateKey());
    let pays = 0;
    // A server that claims the channel is further along, with a voucher the payer did not sign.
    const client = payerClient({
      fetch: async (input, init) => {
        if (!isPay(init)) return fetch(input, init);
        pays += 1;
        const { input: voucher } = JSON.parse(String(init?.body)).variables;
        const latest = { ...voucher, cumulativeAmount: "1000000000" };
        delete latest.resourceId;
        latest.signature = await forger.signTypedData(voucherTypedData(latest));
        return Response.json({
          data: {
            pay: {
              __typename: "CumulativeMismatch",
              code: "CUMULATIVE_MISMATCH",
              message: "cumulativeAmount is not accepted + price",
              expected: String(1_000_000_000n + PRICE),
              latest,
            },
          },
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
    const wallet = createWalletClient({ account: getAddress(env.WALLET_ADDRESS), transport: http(env.RPC_URL) });
    const client = createMicropayments({ url, account: wallet });

    const receipt = await client.pay(RESOURCE);
    const session = await client.signIn();

    assert.equal(receipt.payer, getAddress(env.WALLET_ADDRESS));
    assert.equal(session.address, getAddress(env.WALLET_ADDRESS));
    assert.equal((await client.receipts()).receipts[0].id, receipt.id);
  });
});

describe("session keys", () => {
  test("a session key authorised once pays without the payer's signature", async () => {
    const client = payerClient();
    const { sessionKey, privateKey, txHash, client: sessionClient } = await client.authorizeSessionKey({
      allowance: 10n * PRICE,
      validUntil: (await chainTime()) + 7 * 24 * 3600,
    });
    assert.match(txHash, /^0x[0-9a-f]{64}$/);
    assert.match(privateKey, /^0x[0-9a-f]{64}$/);
    await eventually("the server indexes the session key", async () =>
      (await client.sessionKeys()).find((key) => key.signer === sessionKey),
    );

    const receipt = await sessionClient.pay(RESOURCE);

    assert.equal(receipt.payer, payer.address);
    assert.equal(receipt.signer, sessionKey);
    const [key] = (await client.sessionKeys()).filter((key) => key.signer === sessionKey);
    assert.equal(key.allowance, 10n * PRICE);
    assert.equal(key.outstanding, PRICE);
  });
});

describe("deposits", () => {
  test("a gasless deposit with a permit raises the balance once indexed", async () => {
    const client = payerClient();
    const before = await client.account(TOKEN);

    const { txHash } = await client.depositWithPermit(TOKEN, 50_000n, { deadline: (await chainTime()) + 3600 });

    assert.match(txHash, /^0x[0-9a-f]{64}$/);
    const after = await eventually("the server indexes the deposit", async () => {
      const account = await client.account(TOKEN);
      return account.balance > before.balance && account;
    });
    assert.equal(after.balance - before.balance, 50_000n);
    assert.equal(after.headroom - before.headroom, 50_000n);
  });
});

describe("signed in", () => {
  test("a payer signs in and lists its own receipts, newest first", async () => {
    const client = payerClient();
    const first = await client.pay(RESOURCE);
    const second = await client.pay(RESOURCE);

    const session = await client.signIn();
    const page = await client.receipts({ first: 2 });

    assert.equal(session.address, payer.address);
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

describe("subscriptions", () => {
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
      assert.equal(now.payer, payer.address);
    } finally {
      stop();
    }
  });
});
