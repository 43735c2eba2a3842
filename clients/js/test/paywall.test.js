// createPaywallFetch against a real server with the example paid API. tests/paywall/test_paywall_js.py
// starts one and runs this file with PAYWALL_URL (the example's root), PAYER_KEY (a payer with a
// deposit) and PRICE (each route's price).

import assert from "node:assert/strict";
import { test } from "node:test";

import { privateKeyToAccount } from "viem/accounts";

import { MicropaymentsError, createMicropayments, createPaywallFetch } from "../micropayments.js";

const env = /** @type {Record<string, string>} */ (process.env);
const skip = !env.PAYWALL_URL && "set PAYWALL_URL, PAYER_KEY, PRICE (tests/paywall/test_paywall_js.py does)";
const url = env.PAYWALL_URL;
const PRICE = BigInt(env.PRICE ?? 0);
const account = skip ? null : privateKeyToAccount(/** @type {`0x${string}`} */ (env.PAYER_KEY));

test("a paid route is paid per call, each receipt acknowledged", { skip }, async () => {
  const paidFetch = createPaywallFetch({ account, maxPrice: PRICE });
  const first = await paidFetch(`${url}/joke`);
  const second = await paidFetch(`${url}/joke`);
  assert.equal(first.status, 200);
  assert.equal(second.status, 200);
  assert.ok((await first.json()).joke);
  assert.deepEqual(
    paidFetch.receipts.map((receipt) => receipt.charged),
    [PRICE, PRICE],
  );
});

test("a purchase read twice is charged once", { skip }, async () => {
  const paidFetch = createPaywallFetch({ account });
  assert.equal((await paidFetch(`${url}/article`)).status, 200);
  assert.equal((await paidFetch(`${url}/article`)).status, 200);
  assert.deepEqual(
    paidFetch.receipts.map((receipt) => receipt.charged),
    [PRICE, 0n],
  );
  assert.equal(paidFetch.receipts[0].id, paidFetch.receipts[1].id);
});

test("a price above maxPrice is refused before signing", { skip }, async () => {
  const paidFetch = createPaywallFetch({ account, maxPrice: PRICE - 1n });
  await assert.rejects(paidFetch(`${url}/joke`), (error) => error instanceof MicropaymentsError && error.code === "PRICE_ABOVE_MAX");
});

test("a free route passes through", { skip }, async () => {
  const paidFetch = createPaywallFetch({ account });
  assert.deepEqual(await (await paidFetch(`${url}/hello`)).json(), { hello: "free for everyone" });
  assert.equal(paidFetch.receipts.length, 0);
});

test("a purchase is read on another device from the payer's receipts", { skip }, async () => {
  const laptop = createPaywallFetch({ account });
  // Bought here or by an earlier test: either way this fetch holds no proof of it.
  await laptop(`${url}/article`).catch((error) => assert.equal(error.code, "ALREADY_OWNED"));
  await assert.rejects(createPaywallFetch({ account })(`${url}/article`), (error) => error.code === "ALREADY_OWNED");
  const client = createMicropayments({ url: new URL("/", url).href, account });
  await client.signIn();
  const phone = createPaywallFetch({ account, receipts: () => client.receipts({ first: 100 }) });
  assert.equal((await phone(`${url}/article`)).status, 200);
  assert.deepEqual(
    phone.receipts.map((receipt) => receipt.charged),
    [0n],
  );
});
