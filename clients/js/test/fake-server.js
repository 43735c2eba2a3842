// A fake of the v2 API (docs/api.md) as a `fetch`: enough of it to drive the client's payment,
// session-key and deposit flows with no server, and hooks to make it lie.

import { getAddress, hashTypedData, recoverTypedDataAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { PAYER_VOUCHER_TYPES, SESSION_GRANT_TYPES, raised, withBigInts } from "../typed-data.js";

export const CHAIN_ID = 31337;
export const HUB = getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3");
export const TOKEN = getAddress("0xe7f1725e7734ce288f8367e1bb143e90bb3f0512");
export const OTHER_TOKEN = getAddress("0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0");
export const PAYEES = [
  getAddress("0x2000000000000000000000000000000000000002"),
  getAddress("0x1000000000000000000000000000000000000001"),
  getAddress("0x3000000000000000000000000000000000000003"),
];
export const PRICE = 10_000n;
const DOMAIN = { name: "MicropaymentHub", version: "2", chainId: CHAIN_ID, verifyingContract: HUB };
const EIP712_DOMAIN = [
  { name: "name", type: "string" },
  { name: "version", type: "string" },
  { name: "chainId", type: "uint256" },
  { name: "verifyingContract", type: "address" },
];

/**
 * @typedef {{ payee: string, cumulativeAmount: bigint }} Entry
 * @typedef {{ operation: string, variables: any }} Call
 */

/**
 * A fake server selling `article-<i>` by PAYEES[i] at PRICE. `tamper.voucher(toSign)` may change
 * a VoucherToSign before it goes out; `tamper.grant(typedData)` a grant; `tamper.pay(input)` may
 * answer a pay instead of the server.
 * @param {{ voucher?: (v: any) => any, grant?: (t: any) => any, pay?: (input: any) => any,
 *   acknowledge?: (digest: string) => Promise<string> }} [tamper]
 */
export function fakeServer(tamper = {}) {
  const operator = privateKeyToAccount(generatePrivateKey());
  /** @type {Map<string, Entry[]>} lane key -> the lane's last accepted vector */
  const lanes = new Map();
  /** @type {Map<string, any>} session key address -> grant */
  const grants = new Map();
  /** @type {Map<string, any>} lane key -> the lane's last accepted SignedVoucher */
  const latest = new Map();
  /** @type {Call[]} */
  const calls = [];
  let nextLane = 1n;

  const laneKey = (/** @type {string} */ payer, /** @type {bigint} */ lane) => `${payer.toLowerCase()}:${lane}`;
  const wire = (/** @type {Entry[]} */ entries) =>
    entries.map((entry) => ({ payee: entry.payee, cumulativeAmount: String(entry.cumulativeAmount) }));
  const resource = (/** @type {string} */ id) => {
    const index = Number(/^article-(\d)$/.exec(id)?.[1] ?? NaN);
    if (!(index in PAYEES)) return null;
    return { id, payee: PAYEES[index], token: TOKEN, price: String(PRICE), title: `Article ${index}` };
  };
  const laneOf = (/** @type {string | null} */ signer) => (signer ? BigInt(grants.get(getAddress(signer)).lane) : 0n);
  /** @param {any} message */
  const voucherTypedData = (message) => ({
    domain: DOMAIN,
    types: { EIP712Domain: EIP712_DOMAIN, ...PAYER_VOUCHER_TYPES },
    primaryType: "PayerVoucher",
    message,
  });

  /** @param {string} operation @param {any} v */
  async function answer(operation, v) {
    switch (operation) {
      case "Config":
        return {
          config: {
            chainId: CHAIN_ID,
            hub: HUB,
            operator: operator.address,
            maxLaneEntries: 32,
            withdrawDelay: 3600,
            publicRpcUrl: null,
            allowedTokens: [
              { address: TOKEN, symbol: "USDC", name: "USD Coin", decimals: 6 },
              { address: OTHER_TOKEN, symbol: "EURC", name: "Euro Coin", decimals: 6 },
            ],
          },
        };
      case "VoucherToSign": {
        const found = resource(v.resourceId);
        if (!found) throw Object.assign(new Error("no such resource"), { code: "UNKNOWN_RESOURCE" });
        const lane = laneOf(v.signer);
        const previous = lanes.get(laneKey(v.payer, lane)) ?? [];
        const entries = raised(/** @type {any} */ (previous), found.payee, PRICE);
        const purchase = v.purchase ?? `0x${"ab".repeat(32)}`;
        const toSign = {
          typedData: voucherTypedData({ payer: v.payer, token: TOKEN, lane: String(lane), entries: wire(entries), purchase }),
          resource: found,
          lane: String(lane),
          previousEntries: wire(previous),
        };
        return { voucherToSign: tamper.voucher ? tamper.voucher(structuredClone(toSign)) : toSign };
      }
      case "Pay": {
        const input = v.input;
        if (tamper.pay) {
          const answer = await tamper.pay(input);
          if (answer) return { pay: answer };
        }
        const lane = BigInt(input.lane);
        const key = laneKey(input.payer, lane);
        const previous = lanes.get(key) ?? [];
        const payee = resource(input.resourceId).payee;
        const want = raised(/** @type {any} */ (previous), payee, PRICE);
        const entries = input.entries.map((/** @type {any} */ e) => ({ ...e, cumulativeAmount: BigInt(e.cumulativeAmount) }));
        if (JSON.stringify(wire(entries)) !== JSON.stringify(wire(want))) {
          const proof = latest.get(key) ?? null;
          return { pay: { __typename: "CumulativeMismatch", code: "CUMULATIVE_MISMATCH", message: "stale", latest: proof } };
        }
        const typedData = voucherTypedData({ ...input, entries: input.entries, resourceId: undefined, signature: undefined });
        delete typedData.message.resourceId;
        delete typedData.message.signature;
        const signer = await recoverTypedDataAddress({ ...withBigInts(typedData), signature: input.signature });
        lanes.set(key, entries);
        const digest = hashTypedData(withBigInts(typedData));
        const acknowledgement = tamper.acknowledge
          ? await tamper.acknowledge(digest)
          : await operator.signTypedData({
              domain: { ...DOMAIN, chainId: BigInt(CHAIN_ID) },
              types: { Acknowledgement: [{ name: "voucherDigest", type: "bytes32" }] },
              primaryType: "Acknowledgement",
              message: { voucherDigest: digest },
            });
        const voucher = { ...typedData.message, signature: input.signature, acknowledgement, signer };
        latest.set(key, voucher);
        const amount = entries.find((/** @type {Entry} */ e) => e.payee === payee).cumulativeAmount;
        return {
          pay: {
            __typename: "PaymentAccepted",
            receipt: {
              id: `receipt-${digest}`,
              payer: input.payer,
              payee,
              token: input.token,
              cumulativeAmount: String(amount),
              price: String(PRICE),
              purchase: input.purchase,
              resourceId: input.resourceId,
              signer,
              signature: input.signature,
              status: "ACCEPTED",
              createdAt: 1,
              claimTx: null,
              failure: null,
              lane: input.lane,
              acknowledgement,
              voucher,
            },
          },
        };
      }
      case "SessionKeys":
        return {
          sessionKeys: [...grants.values()]
            .filter((grant) => grant.payer.toLowerCase() === v.payer.toLowerCase())
            .map((grant) => {
              // A key's spending is its lane's total, whoever signed on the lane.
              const lane = lanes.get(laneKey(grant.payer, BigInt(grant.lane))) ?? [];
              const spent = lane.reduce((sum, entry) => sum + entry.cumulativeAmount, 0n);
              return { ...grant, spent: String(spent), revokedAt: null };
            }),
        };
      case "GrantToSign": {
        const typedData = {
          domain: DOMAIN,
          types: { EIP712Domain: EIP712_DOMAIN, ...SESSION_GRANT_TYPES },
          primaryType: "SessionGrant",
          message: {
            payer: v.payer,
            signer: v.signer,
            token: v.token ?? TOKEN,
            lane: String(nextLane++),
            maxTotal: v.maxTotal,
            validUntil: String(v.validUntil ?? 2_000_000_000),
          },
        };
        return { grantToSign: { typedData: tamper.grant ? tamper.grant(structuredClone(typedData)) : typedData } };
      }
      case "AuthorizeSessionKey": {
        const { grant, signature } = v;
        const typedData = {
          domain: DOMAIN,
          types: SESSION_GRANT_TYPES,
          primaryType: "SessionGrant",
          message: { ...grant, validUntil: String(grant.validUntil) },
        };
        const by = await recoverTypedDataAddress({ ...withBigInts(typedData), signature });
        if (by.toLowerCase() !== grant.payer.toLowerCase()) {
          return { authorizeSessionKey: { __typename: "Refused", code: "BAD_SIGNATURE", message: "no", fields: {} } };
        }
        grants.set(getAddress(grant.signer), grant);
        return { authorizeSessionKey: { __typename: "SessionKey", ...grant, spent: "0", revokedAt: null } };
      }
      case "Permit":
        return {
          permitToSign: {
            typedData: {
              domain: { name: "USD Coin", version: "2", chainId: CHAIN_ID, verifyingContract: v.token },
              types: {
                Permit: [
                  { name: "owner", type: "address" },
                  { name: "spender", type: "address" },
                  { name: "value", type: "uint256" },
                  { name: "nonce", type: "uint256" },
                  { name: "deadline", type: "uint256" },
                ],
              },
              primaryType: "Permit",
              message: { owner: v.owner, spender: HUB, value: v.amount, nonce: "0", deadline: String(v.deadline) },
            },
          },
        };
      case "DepositWithPermit":
        return { depositWithPermit: { __typename: "RelayedTransaction", txHash: `0x${"11".repeat(32)}`, nonce: 1 } };
      default:
        throw new Error(`the fake server does not answer ${operation}`);
    }
  }

  /** @type {typeof fetch} */
  const fetch = async (_url, init) => {
    const { query, variables } = JSON.parse(String(init?.body));
    const operation = /^\s*(?:query|mutation|subscription)\s+(\w+)/.exec(query)?.[1] ?? "anonymous";
    calls.push({ operation, variables });
    try {
      return Response.json({ data: await answer(operation, variables) });
    } catch (error) {
      const { message, code } = /** @type {any} */ (error);
      return Response.json({ data: null, errors: [{ message, extensions: { code: code ?? "INTERNAL" } }] });
    }
  };
  return { fetch, calls, lanes, grants, operator, operations: () => calls.map((call) => call.operation) };
}
