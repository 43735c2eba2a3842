// The demo's pure pieces, without a browser: `node --test app/api/demo/test/`.

import assert from "node:assert/strict";
import { test } from "node:test";

import { receiptsCsv } from "../src/files.js";
import { formatAmount, parseAmount } from "../src/format.js";

const TOKEN = { symbol: "USDC", decimals: 6 };
const receipt = (overrides) => ({
  id: "r1",
  payer: "0xPayer",
  payee: "0xAda",
  price: "20000",
  resourceId: "essay",
  status: "CLAIMED",
  createdAt: 1_800_000_000,
  claimTx: null,
  ...overrides,
});
const options = { counterparty: "payee", token: TOKEN, title: (id) => `Title of ${id}`, name: () => "Ada" };

test("receipts become CSV rows, oldest first, dated in UTC, with a total", () => {
  const csv = receiptsCsv([receipt({ id: "r2", createdAt: 1_800_000_060, price: "10000" }), receipt()], options);
  assert.equal(
    csv,
    [
      "Date (UTC),Article,Creator,Address,Price (USDC),Status,Receipt,Claim transaction",
      "2027-01-15T08:00:00.000Z,Title of essay,Ada,0xAda,0.02,CLAIMED,r1,",
      "2027-01-15T08:01:00.000Z,Title of essay,Ada,0xAda,0.01,CLAIMED,r2,",
      "Total,2 receipts,,,0.03,,,",
      "",
    ].join("\r\n"),
  );
});

test("a title is quoted when it holds commas or quotes, and never runs as a formula", () => {
  const titles = { a: 'Cents, "mostly"', b: "=HYPERLINK(1)", c: "-1 reasons" };
  const csv = receiptsCsv(["a", "b", "c"].map((id) => receipt({ resourceId: id })), { ...options, title: (id) => titles[id] });
  const rows = csv.split("\r\n");
  assert.match(rows[1], /,"Cents, ""mostly""",/);
  assert.match(rows[2], /,'=HYPERLINK\(1\),/);
  assert.match(rows[3], /,'-1 reasons,/);
});

test("amounts are exact in both directions", () => {
  assert.equal(formatAmount(123_456_789n, 6), "123.456789");
  assert.equal(formatAmount(10_000n, 6), "0.01");
  assert.equal(parseAmount("0.01", 6), 10_000n);
  assert.throws(() => parseAmount("0.0000001", 6), /at most 6 decimals/);
});
