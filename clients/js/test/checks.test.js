// The client's checks before it signs, against a fake server (test/fake-server.js): no chain,
// no server. `node --test clients/js/test/` runs these with or without a real server.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { getAddress, hashTypedData, keccak256, recoverTypedDataAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { MicropaymentsError, createMicropayments, raised } from "../micropayments.js";
import { ACKNOWLEDGEMENT_TYPES, SESSION_GRANT_TYPES, voucherPayload, withBigInts } from "../typed-data.js";
import { HUB, OTHER_TOKEN, PAYEES, PRICE, TOKEN, fakeServer } from "./fake-server.js";

const URL = "http://fake.test";

/** A payer's client against `server`, counting what its key signs. */
function payerOf(server, key = generatePrivateKey()) {
  const account = privateKeyToAccount(key);
  const signed = [];
  const counting = {
    ...account,
    signTypedData: (/** @type {any} */ typedData) => {
      signed.push(typedData);
      return account.signTypedData(typedData);
    },
  };
  return { client: createMicropayments({ url: URL, account: counting, fetch: server.fetch }), signed, account };
}

/** @param {string} code @param {RegExp} [message] */
const refusedWith = (code, message) => (/** @type {any} */ error) => {
  assert.ok(error instanceof MicropaymentsError, `expected a MicropaymentsError, got ${error}`);
  assert.equal(error.code, code, error.message);
  if (message) assert.match(error.message, message);
  return true;
};

const amounts = (/** @type {any[]} */ entries) => entries.map((e) => [e.payee, BigInt(e.cumulativeAmount)]);

describe("raising a lane's vector", () => {
  test("a new payee is inserted in address order, a known one raised in place", () => {
    const [b, a, c] = PAYEES;
    const once = raised([], b, 5n);
    const twice = raised(once, c, 7n);
    const thrice = raised(twice, a, 1n);
    assert.deepEqual(amounts(thrice), [[a, 1n], [b, 5n], [c, 7n]]);
    assert.deepEqual(amounts(raised(thrice, b, 5n)), [[a, 1n], [b, 10n], [c, 7n]]);
  });
});

describe("what is signed", () => {
  // The same digests as app/core/eip712.py computes (and the contract, in the server's tests).
  const domain = { name: "MicropaymentHub", version: "2", chainId: 31337, verifyingContract: HUB };
  const payer = getAddress(`0x${"22".repeat(20)}`);

  test("a PayerVoucher hashes as the server and the hub hash it", () => {
    const voucher = voucherPayload({
      domain,
      payer,
      token: TOKEN,
      lane: 7n,
      entries: [
        { payee: PAYEES[1], cumulativeAmount: 10_000n },
        { payee: PAYEES[0], cumulativeAmount: 25_000n },
      ],
      purchase: `0x${"ab".repeat(32)}`,
      resourceId: "article-0",
      price: PRICE,
      payee: PAYEES[0],
    });
    const digest = hashTypedData(withBigInts(voucher.typedData));
    assert.equal(digest, "0xf2bde5cffea1bc87bb216a3c05e3fdc2a3c70443952b90b1933a77ed419a0afd");
    const acknowledgement = hashTypedData({
      domain: { ...domain, chainId: 31337n },
      types: ACKNOWLEDGEMENT_TYPES,
      primaryType: "Acknowledgement",
      message: { voucherDigest: digest },
    });
    assert.equal(acknowledgement, "0x99b4cc563dc52cd5a7a7ade1a33061178451c4a3d148972e1e274e055618fe54");
  });

  test("a SessionGrant hashes as the server and the hub hash it", () => {
    const grant = { payer, signer: getAddress(`0x${"33".repeat(20)}`), token: TOKEN, lane: "7" };
    const digest = hashTypedData(
      withBigInts({
        domain,
        types: SESSION_GRANT_TYPES,
        primaryType: "SessionGrant",
        message: { ...grant, maxTotal: "500000", validUntil: "1900000000" },
      }),
    );
    assert.equal(digest, "0x7036c1254c5c5aa3518d62369873a1a0870546194551286bb7d620e76f485e5e");
  });
});

describe("paying", () => {
  test("pay signs the lane's vector with the payee raised by the price, with an idempotency key", async () => {
    const server = fakeServer();
    const { client, signed, account } = payerOf(server);

    const first = await client.pay("article-0");
    const second = await client.pay("article-1");
    const third = await client.pay("article-0");

    assert.deepEqual([first.cumulativeAmount, second.cumulativeAmount, third.cumulativeAmount], [PRICE, PRICE, 2n * PRICE]);
    assert.equal(signed.length, 3);
    assert.deepEqual(amounts(signed[2].message.entries), [[PAYEES[1], PRICE], [PAYEES[0], 2n * PRICE]]);
    assert.equal(third.voucher.entries.length, 2);
    assert.equal(third.signer, account.address);
    const pays = server.calls.filter((call) => call.operation === "Pay");
    assert.equal(pays.length, 3);
    for (const { variables } of pays) assert.equal(variables.key, `pay:${keccak256(variables.input.signature)}`);
    const asked = server.calls.filter((call) => call.operation === "VoucherToSign");
    assert.deepEqual(asked.map((call) => call.variables.signer), [null, null, null]);
  });

  /** Ways a server could ask for more than the action, and what pay() says about each. */
  const lies = {
    "a voucher of another payer": (v) => {
      v.typedData.message.payer = getAddress("0x9999999999999999999999999999999999999999");
    },
    "another token than the resource's": (v) => {
      v.typedData.message.token = OTHER_TOKEN;
    },
    "the payee raised by twice the price": (v) => {
      v.typedData.message.entries[0].cumulativeAmount = String(2n * PRICE);
    },
    "another payee raised too": (v) => {
      v.previousEntries = [{ payee: PAYEES[1], cumulativeAmount: "5" }];
      v.typedData.message.entries = [
        { payee: PAYEES[1], cumulativeAmount: "6" },
        { payee: PAYEES[0], cumulativeAmount: String(PRICE) },
      ];
    },
    "a payee of the previous vector dropped": (v) => {
      v.previousEntries = [{ payee: PAYEES[1], cumulativeAmount: "5" }];
    },
    "entries out of address order": (v) => {
      v.previousEntries = [{ payee: PAYEES[2], cumulativeAmount: "5" }];
      v.typedData.message.entries = [
        { payee: PAYEES[2], cumulativeAmount: "5" },
        { payee: PAYEES[0], cumulativeAmount: String(PRICE) },
      ];
    },
    "another lane than the one announced": (v) => {
      v.lane = "7";
    },
    "another hub's domain": (v) => {
      v.typedData.domain.verifyingContract = OTHER_TOKEN;
    },
    "a type with an extra field": (v) => {
      v.typedData.types.PayerVoucher.push({ name: "tip", type: "uint256" });
    },
    "an extra type": (v) => {
      v.typedData.types.Tip = [{ name: "amount", type: "uint256" }];
    },
    "a field renamed": (v) => {
      v.typedData.types.Entry[1] = { name: "amount", type: "uint256" };
    },
    "a price of 0": (v) => {
      v.resource.price = "0";
    },
  };
  for (const [lie, tamper] of Object.entries(lies)) {
    test(`a voucher with ${lie} is not signed`, async () => {
      const server = fakeServer({ voucher: (v) => (tamper(v), v) });
      const { client, signed } = payerOf(server);

      await assert.rejects(client.pay("article-0"), refusedWith("UNEXPECTED_TYPED_DATA"));

      assert.equal(signed.length, 0);
      assert.ok(!server.operations().includes("Pay"));
    });
  }

  test("types listed in another order, with their fields' keys in another order, are the same types", async () => {
    const server = fakeServer({
      voucher: (v) => {
        const { EIP712Domain, PayerVoucher, Entry } = v.typedData.types;
        v.typedData.types = { Entry: Entry.map(({ name, type }) => ({ type, name })), PayerVoucher, EIP712Domain };
        return v;
      },
    });
    const receipt = await payerOf(server).client.pay("article-0");
    assert.equal(receipt.cumulativeAmount, PRICE);
  });

  test("a lane of 32 payees gets no 33rd", async () => {
    const full = Array.from({ length: 32 }, (_, i) => ({
      payee: getAddress(`0x${(i + 0x10).toString(16).padStart(2, "0")}${"00".repeat(19)}`),
      cumulativeAmount: "1",
    }));
    const server = fakeServer({
      voucher: (v) => {
        v.previousEntries = full;
        v.typedData.message.entries = raised(
          full.map((e) => ({ ...e, cumulativeAmount: 1n })),
          v.resource.payee,
          PRICE,
        ).map((e) => ({ payee: e.payee, cumulativeAmount: String(e.cumulativeAmount) }));
        return v;
      },
    });
    const { client, signed } = payerOf(server);

    await assert.rejects(client.pay("article-0"), refusedWith("UNEXPECTED_TYPED_DATA", /more than 32/));
    assert.equal(signed.length, 0);
  });

  test("a price above maxPrice is not signed", async () => {
    const { client, signed } = payerOf(fakeServer());
    await assert.rejects(client.pay("article-0", { maxPrice: PRICE - 1n }), refusedWith("PRICE_ABOVE_MAX"));
    assert.equal(signed.length, 0);
  });

  test("a receipt whose acknowledgement is not the operator's is refused", async () => {
    const stranger = privateKeyToAccount(generatePrivateKey());
    const server = fakeServer({
      acknowledge: (digest) =>
        stranger.signTypedData({
          domain: { name: "MicropaymentHub", version: "2", chainId: 31337n, verifyingContract: HUB },
          types: { Acknowledgement: [{ name: "voucherDigest", type: "bytes32" }] },
          primaryType: "Acknowledgement",
          message: { voucherDigest: /** @type {`0x${string}`} */ (digest) },
        }),
    });
    await assert.rejects(payerOf(server).client.pay("article-0"), refusedWith("UNACKNOWLEDGED"));
  });

  test("a mismatch proven by the payer's own latest voucher is resynchronised once", async () => {
    const server = fakeServer();
    const key = generatePrivateKey();
    const phone = payerOf(server, key).client;
    let interleaved = false;
    const laptopServer = {
      ...server,
      fetch: /** @type {typeof fetch} */ (
        async (url, init) => {
          if (!interleaved && String(init?.body).includes("mutation Pay")) {
            interleaved = true;
            await phone.pay("article-1"); // the phone pays between the laptop's voucherToSign and pay
          }
          return server.fetch(url, init);
        }
      ),
    };
    const { client: laptop, signed } = payerOf(laptopServer, key);

    const receipt = await laptop.pay("article-0");

    assert.equal(receipt.cumulativeAmount, PRICE);
    assert.deepEqual(amounts(receipt.voucher.entries), [[PAYEES[1], PRICE], [PAYEES[0], PRICE]]);
    assert.equal(signed.length, 2);
  });

  test("a mismatch whose latest voucher the payer never signed is not resynchronised", async () => {
    const forger = privateKeyToAccount(generatePrivateKey());
    let pays = 0;
    const server = fakeServer({
      pay: async (input) => {
        pays += 1;
        const message = { payer: input.payer, token: input.token, lane: input.lane, purchase: input.purchase };
        const entries = [{ payee: PAYEES[0], cumulativeAmount: "1000000000" }];
        const signature = await forger.signTypedData(
          withBigInts({
            domain: { name: "MicropaymentHub", version: "2", chainId: 31337, verifyingContract: HUB },
            types: (await import("../typed-data.js")).PAYER_VOUCHER_TYPES,
            primaryType: "PayerVoucher",
            message: { ...message, entries },
          }),
        );
        return {
          __typename: "CumulativeMismatch",
          code: "CUMULATIVE_MISMATCH",
          message: "stale",
          latest: { ...message, entries, signature, acknowledgement: "0x", signer: forger.address },
        };
      },
    });
    const { client, signed } = payerOf(server);

    await assert.rejects(client.pay("article-0"), refusedWith("CUMULATIVE_MISMATCH", /neither the payer nor one of its keys/));
    assert.equal(pays, 1);
    assert.equal(signed.length, 1);
  });
});

describe("session keys", () => {
  test("a key authorised by a grant pays right after, on its own lane, without the wallet", async () => {
    const server = fakeServer();
    const { client, signed, account } = payerOf(server);

    const { sessionKey, grant, client: tab } = await client.authorizeSessionKey({ maxTotal: 10n * PRICE });
    const receipt = await tab.pay("article-0");

    assert.equal(signed.length, 1, "the wallet signed the grant only");
    assert.equal(signed[0].primaryType, "SessionGrant");
    assert.equal(grant.signer, sessionKey);
    assert.equal(grant.maxTotal, 10n * PRICE);
    assert.equal(receipt.signer, sessionKey);
    assert.equal(receipt.payer, account.address);
    assert.equal(receipt.lane, grant.lane);
    const asked = server.calls.filter((call) => call.operation === "VoucherToSign").map((call) => call.variables);
    assert.deepEqual(asked, [{ payer: account.address, resourceId: "article-0", signer: sessionKey, purchase: null }]);
    const [authorize] = server.calls.filter((call) => call.operation === "AuthorizeSessionKey");
    const { grant: sent, signature, key } = authorize.variables;
    assert.equal(key, `grant:${keccak256(signature)}`);
    const by = await recoverTypedDataAddress({
      ...withBigInts({
        domain: { name: "MicropaymentHub", version: "2", chainId: 31337, verifyingContract: HUB },
        types: SESSION_GRANT_TYPES,
        primaryType: "SessionGrant",
        message: sent,
      }),
      signature,
    });
    assert.equal(by, account.address);
    assert.ok(!server.operations().some((name) => /register/i.test(name)), "no transaction, no relay");
  });

  const grantLies = {
    "a higher cap": (t) => {
      t.message.maxTotal = String(BigInt(t.message.maxTotal) * 100n);
    },
    "another signer": (t) => {
      t.message.signer = PAYEES[0];
    },
    "another payer": (t) => {
      t.message.payer = PAYEES[0];
    },
    "a later expiry than asked": (t) => {
      t.message.validUntil = String(BigInt(t.message.validUntil) + 1n);
    },
    "another token than the hub's first": (t) => {
      t.message.token = OTHER_TOKEN;
    },
  };
  for (const [lie, tamper] of Object.entries(grantLies)) {
    test(`a grant with ${lie} is not signed`, async () => {
      const server = fakeServer({ grant: (t) => (tamper(t), t) });
      const { client, signed } = payerOf(server);

      await assert.rejects(
        client.authorizeSessionKey({ maxTotal: PRICE, validUntil: 1_900_000_000 }),
        refusedWith("UNEXPECTED_TYPED_DATA"),
      );
      assert.equal(signed.length, 0);
      assert.ok(!server.operations().includes("AuthorizeSessionKey"));
    });
  }

  test("a session key cannot authorise another", async () => {
    const server = fakeServer();
    const { client } = payerOf(server);
    const { client: tab } = await client.authorizeSessionKey({ maxTotal: PRICE });
    await assert.rejects(tab.authorizeSessionKey({ maxTotal: PRICE }), refusedWith("WALLET_KEY_REQUIRED"));
  });
});

describe("deposits", () => {
  test("a permit deposit with the token left out uses the hub's first allowed token", async () => {
    const server = fakeServer();
    const { client, signed, account } = payerOf(server);

    const { txHash } = await client.depositWithPermit(undefined, 50_000n);

    assert.match(txHash, /^0x[0-9a-f]{64}$/);
    const [deposit] = server.calls.filter((call) => call.operation === "DepositWithPermit");
    assert.equal(deposit.variables.token, TOKEN);
    assert.equal(deposit.variables.payer, account.address);
    assert.equal(signed[0].primaryType, "Permit");
  });
});
