// Paying HTTP 402 paywalls of scheme "micropayment-lane-v2" (docs/paywall.md) with fetch.
//
//   const paidFetch = createPaywallFetch({ account: privateKeyToAccount(KEY), maxPrice: 10_000n });
//   const response = await paidFetch("http://127.0.0.1:8000/example/joke");
//   paidFetch.receipts.at(-1).acknowledgement;   // the operator's countersignature, checked
//
// On a 402 it takes the voucher to sign from the requirements (it always sends X-PAYER, so they
// carry one), checks it as the client's pay does (checkVoucherToSign: this payer, the
// requirement's payee, token and price, one entry raised by exactly the price), signs it, retries
// with X-PAYMENT, and checks that the receipt in X-PAYMENT-RESPONSE is acknowledged by the
// operator. A PURCHASE or running TIME_PASS is read again by resending the same X-PAYMENT, which
// the server never charges twice; on another device, pass `receipts` (e.g. a signed-in client's
// `() => client.receipts({ first: 100 })`) and it rebuilds that X-PAYMENT from the receipt.
// A request body is sent again on retry: pass a string or bytes.

import { getAddress, hashTypedData, isAddressEqual, recoverTypedDataAddress } from "viem";

import { MicropaymentsError } from "./errors.js";
import {
  ACKNOWLEDGEMENT_TYPES,
  DOMAIN_FIELDS,
  PAYER_VOUCHER_TYPES,
  checkVoucherToSign,
  hubDomain,
  withBigInts,
} from "./typed-data.js";

export const PAYWALL_SCHEME = "micropayment-lane-v2";
const X402_VERSION = 1;
const PAYMENT = "X-PAYMENT";
const PAYMENT_RESPONSE = "X-PAYMENT-RESPONSE";
const PAYER = "X-PAYER";
const PAYABLE = new Set(["PAYMENT_REQUIRED", "CUMULATIVE_MISMATCH", "PAYMENT_ALREADY_USED"]);

/**
 * A fetch that pays 402s. `account`: a viem LocalAccount, or a WalletClient (with an account);
 * `payer`: whose deposit pays, when `account` is one of its session keys; `hub` ({ chainId, hub })
 * and `operator`: what to trust (default: what the 402 names); `maxPrice`: refuse dearer (bigint).
 * @param {{ account: any, payer?: string, hub?: { chainId: number, hub: `0x${string}` }, operator?: string,
 *   maxPrice?: bigint, fetch?: typeof fetch, receipts?: () => Promise<{ receipts: any[] }> }} options
 */
export function createPaywallFetch({ account, payer, hub, operator, maxPrice, fetch: base = globalThis.fetch, receipts: mine }) {
  /** @type {Map<string, string>} url -> the X-PAYMENT that bought it (not PER_USE) */
  const owned = new Map();
  /** @type {Map<string, { typedData: any, operator: string | undefined }>} X-PAYMENT -> what it signed */
  const sent = new Map();
  /** @type {any[]} */
  const receipts = [];

  /** @param {RequestInfo | URL} input @param {RequestInit} [init] */
  async function paidFetch(input, init) {
    const template = new Request(input, init);
    const url = template.url.split("?")[0];
    const who = getAddress(payer ?? (await addressOf(account)));
    /** @param {string | undefined} payment */
    const attempt = (payment) => {
      const request = template.clone();
      request.headers.set(PAYER, who);
      if (payment) request.headers.set(PAYMENT, payment);
      return base(request).then((response) => ({ response, payment }));
    };
    let { response, payment } = await attempt(owned.get(url));
    for (let retry = 0; retry < 2 && response.status === 402; retry += 1) {
      const body = await x402Body(response);
      if (body.code === "ALREADY_OWNED" && payment === undefined) {
        const proof = owned.get(url) ?? (await proofOf(body));
        if (!proof) throw refusal(body);
        owned.set(url, proof);
        ({ response, payment } = await attempt(proof));
        continue;
      }
      if (!PAYABLE.has(body.code)) throw refusal(body);
      const [requirement, header] = await pay(body, who);
      if (requirement.extra?.access !== "PER_USE") owned.set(url, header);
      ({ response, payment } = await attempt(header));
    }
    if (response.status === 402) throw refusal(await x402Body(response));
    const settled = response.headers.get(PAYMENT_RESPONSE);
    if (settled && payment) receipts.push(await acknowledged(JSON.parse(atob(settled)), payment));
    return response;
  }

  /** The checked, signed X-PAYMENT for a 402's requirements. @param {any} body @param {`0x${string}`} who */
  async function pay(body, who) {
    const requirement = (body.accepts ?? []).find((/** @type {any} */ a) => a?.scheme === PAYWALL_SCHEME);
    if (!requirement) throw new MicropaymentsError("UNSUPPORTED_SCHEME", `the 402 accepts no ${PAYWALL_SCHEME}`, body);
    const extra = requirement.extra ?? {};
    const toSign = extra.voucherToSign;
    if (!toSign) throw new MicropaymentsError("NO_VOUCHER", `the 402 has no voucher for ${who}`, body);
    const resource = toSign.resource ?? {};
    if (
      !isAddressEqual(resource.payee, requirement.payTo) ||
      !isAddressEqual(resource.token, requirement.asset) ||
      BigInt(resource.price) !== BigInt(requirement.maxAmountRequired)
    ) {
      throw new MicropaymentsError("UNEXPECTED_TYPED_DATA", "the voucher is not for payTo, asset and price", body);
    }
    const trusted = hub ?? { chainId: Number(String(requirement.network).replace("eip155:", "")), hub: extra.hub };
    const checked = checkVoucherToSign(toSign, { payer: who, resourceId: extra.resourceId, hub: trusted, maxPrice });
    const signature = await sign(account, checked.typedData);
    const header = btoa(
      JSON.stringify({
        x402Version: X402_VERSION,
        scheme: PAYWALL_SCHEME,
        network: requirement.network,
        payload: { resourceId: extra.resourceId, signature, voucher: checked.typedData.message },
      }),
    );
    sent.set(header, { typedData: checked.typedData, operator: operator ?? extra.operator });
    return [requirement, header];
  }

  /** The X-PAYMENT that paid the receipt an ALREADY_OWNED names, rebuilt from the payer's receipts. */
  async function proofOf(/** @type {any} */ body) {
    const requirement = (body.accepts ?? [])[0];
    const found = mine && requirement ? (await mine()).receipts.find((r) => r.id === body.fields?.receipt) : undefined;
    if (!found?.voucher) return undefined;
    const { voucher } = found;
    const message = {
      payer: voucher.payer,
      token: voucher.token,
      lane: String(voucher.lane),
      entries: voucher.entries.map((/** @type {any} */ e) => ({ payee: e.payee, cumulativeAmount: String(e.cumulativeAmount) })),
      purchase: voucher.purchase,
    };
    const header = btoa(
      JSON.stringify({
        x402Version: X402_VERSION,
        scheme: PAYWALL_SCHEME,
        network: requirement.network,
        payload: { resourceId: found.resourceId, signature: voucher.signature, voucher: message },
      }),
    );
    const trusted = hub ?? { chainId: Number(String(requirement.network).replace("eip155:", "")), hub: requirement.extra?.hub };
    const typedData = {
      domain: hubDomain(trusted),
      types: { EIP712Domain: DOMAIN_FIELDS, ...PAYER_VOUCHER_TYPES },
      primaryType: "PayerVoucher",
      message,
    };
    sent.set(header, { typedData, operator: operator ?? requirement.extra?.operator });
    return header;
  }

  /** The receipt, once the operator's acknowledgement of the voucher sent is checked. */
  async function acknowledged(/** @type {any} */ settled, /** @type {string} */ payment) {
    const { typedData, operator: expected } = sent.get(payment) ?? {};
    const receipt = settled.receipt ?? {};
    const by = typedData
      ? await recoverTypedDataAddress({
          domain: { ...typedData.domain, chainId: BigInt(typedData.domain.chainId) },
          types: ACKNOWLEDGEMENT_TYPES,
          primaryType: "Acknowledgement",
          message: { voucherDigest: hashTypedData(withBigInts(typedData)) },
          signature: receipt.acknowledgement,
        }).catch(() => null)
      : null;
    if (!expected || !by || !isAddressEqual(by, /** @type {`0x${string}`} */ (expected))) {
      throw new MicropaymentsError("UNACKNOWLEDGED", `acknowledged by ${by}, not the operator ${expected}`, { receipt });
    }
    return { ...receipt, charged: BigInt(settled.charged), price: BigInt(receipt.price) };
  }

  paidFetch.receipts = receipts;
  return paidFetch;
}

/** @param {Response} response */
async function x402Body(response) {
  const body = await response.json().catch(() => null);
  if (!body || typeof body !== "object") throw new MicropaymentsError("NOT_X402", "a 402 without an x402 body");
  return body;
}

const refusal = (/** @type {any} */ body) =>
  new MicropaymentsError(String(body.code), String(body.error), body.fields ?? {});

/** @param {any} account */
async function addressOf(account) {
  if (account?.type === "local") return account.address;
  if (account?.account?.address) return account.account.address;
  const [address] = await account.getAddresses();
  return address;
}

/** @param {any} account @param {any} typedData */
async function sign(account, typedData) {
  if (account?.type === "local") return account.signTypedData(withBigInts(typedData));
  return account.signTypedData({ account: account.account ?? (await addressOf(account)), ...withBigInts(typedData) });
}
