// What the client signs, and the checks it makes before signing it. Pure: no I/O.
//
// The server proposes each EIP-712 payload; the client signs only one it has rebuilt itself from
// checked numbers (protocol v2, docs/protocol.md): the hub's domain, the canonical types, and a
// message that changes exactly what the action pays for.

import { getAddress, isAddress, isAddressEqual } from "viem";

import { MicropaymentsError } from "./errors.js";

export const DOMAIN_NAME = "MicropaymentHub";
export const DOMAIN_VERSION = "2";
export const MAX_LANE_ENTRIES = 32;
const UINT64_LIMIT = 2n ** 64n;
const UINT128_LIMIT = 2n ** 128n;

export const DOMAIN_FIELDS = [
  { name: "name", type: "string" },
  { name: "version", type: "string" },
  { name: "chainId", type: "uint256" },
  { name: "verifyingContract", type: "address" },
];
export const PAYER_VOUCHER_TYPES = {
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
};
export const SESSION_GRANT_TYPES = {
  SessionGrant: [
    { name: "payer", type: "address" },
    { name: "signer", type: "address" },
    { name: "token", type: "address" },
    { name: "lane", type: "uint256" },
    { name: "maxTotal", type: "uint256" },
    { name: "validUntil", type: "uint256" },
  ],
};
export const ACKNOWLEDGEMENT_TYPES = { Acknowledgement: [{ name: "voucherDigest", type: "bytes32" }] };

/**
 * @typedef {import("viem").Address} Address
 * @typedef {import("viem").Hex} Hex
 * @typedef {{ payee: Address, cumulativeAmount: bigint }} Entry
 * @typedef {{ chainId: number, hub: Address }} Hub
 * @typedef {{ domain: Record<string, unknown>, types: Record<string, { name: string, type: string }[]>,
 *   primaryType: string, message: Record<string, any> }} TypedData
 */

/** @param {string} why @returns {never} */
function refuse(why) {
  throw new MicropaymentsError("UNEXPECTED_TYPED_DATA", `not signed: ${why}`);
}

/** Whether `a` sorts before `b` as a uint160 (the contract's order of payees). */
export const addressBefore = (/** @type {string} */ a, /** @type {string} */ b) => BigInt(a) < BigInt(b);

/** @param {unknown} value @param {string} what */
function amount(value, what) {
  let parsed;
  try {
    parsed = BigInt(/** @type {any} */ (value));
  } catch {
    return refuse(`${what} is not an integer: ${value}`);
  }
  if (typeof value === "number" && !Number.isSafeInteger(value)) refuse(`${what} lost precision in JSON`);
  if (parsed < 0n || parsed >= UINT128_LIMIT) refuse(`${what} is outside 0..2^128-1: ${parsed}`);
  return parsed;
}

/** @param {unknown} value @param {string} what @returns {Address} */
function address(value, what) {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) refuse(`${what} is not an address`);
  return getAddress(/** @type {string} */ (value));
}

/**
 * A lane's vector from the API (amounts as decimal strings), checked: strictly ascending
 * payees, every amount above 0 and below 2^128, at most MAX_LANE_ENTRIES.
 * @param {any} entries
 * @param {string} what
 * @returns {Entry[]}
 */
export function entriesOf(entries, what) {
  if (!Array.isArray(entries)) refuse(`${what} is not a list of entries`);
  const parsed = entries.map((/** @type {any} */ entry, /** @type {number} */ index) => ({
    payee: address(entry?.payee, `${what}[${index}].payee`),
    cumulativeAmount: amount(entry?.cumulativeAmount, `${what}[${index}].cumulativeAmount`),
  }));
  parsed.forEach((entry, index) => {
    if (entry.cumulativeAmount === 0n) refuse(`${what}[${index}] pays 0`);
    if (index > 0 && !addressBefore(parsed[index - 1].payee, entry.payee)) {
      refuse(`${what} is not in strictly ascending order of payees`);
    }
  });
  if (parsed.length > MAX_LANE_ENTRIES) refuse(`${what} has ${parsed.length} entries, more than ${MAX_LANE_ENTRIES}`);
  return parsed;
}

/**
 * `entries` with `payee` raised by `price`, inserted in address order when new: the one change a
 * payment may make to a lane's vector.
 * @param {Entry[]} entries
 * @param {Address} payee
 * @param {bigint} price
 * @returns {Entry[]}
 */
export function raised(entries, payee, price) {
  const next = entries.filter((entry) => !isAddressEqual(entry.payee, payee));
  const before = entries.find((entry) => isAddressEqual(entry.payee, payee))?.cumulativeAmount ?? 0n;
  const at = next.findIndex((entry) => addressBefore(payee, entry.payee));
  next.splice(at < 0 ? next.length : at, 0, { payee: getAddress(payee), cumulativeAmount: before + price });
  return next;
}

/** @param {Entry[]} a @param {Entry[]} b */
export const sameEntries = (a, b) =>
  a.length === b.length &&
  a.every((entry, i) => isAddressEqual(entry.payee, b[i].payee) && entry.cumulativeAmount === b[i].cumulativeAmount);

/** @param {Entry[]} entries */
export const entriesText = (entries) =>
  `[${entries.map((entry) => `${entry.payee}: ${entry.cumulativeAmount}`).join(", ")}]`;

/**
 * The server's domain, checked against the hub the client talks to; returned as the client builds it.
 * @param {any} domain
 * @param {Hub} hub
 */
export function checkedDomain(domain, hub) {
  if (domain?.name !== DOMAIN_NAME || String(domain?.version) !== DOMAIN_VERSION) {
    refuse(`the domain is ${domain?.name} v${domain?.version}, not ${DOMAIN_NAME} v${DOMAIN_VERSION}`);
  }
  if (Number(domain.chainId) !== hub.chainId || !isAddressEqual(address(domain.verifyingContract, "hub"), hub.hub)) {
    refuse(`the domain is chain ${domain.chainId} hub ${domain.verifyingContract}, not this hub's`);
  }
  return hubDomain(hub);
}

/** @param {Hub} hub */
export const hubDomain = (hub) => ({
  name: DOMAIN_NAME,
  version: DOMAIN_VERSION,
  chainId: hub.chainId,
  verifyingContract: hub.hub,
});

/**
 * Refuses unless the payload declares exactly `types` (plus the standard EIP712Domain).
 * @param {any} typedData
 * @param {string} primaryType
 * @param {Record<string, { name: string, type: string }[]>} types
 */
function checkTypes(typedData, primaryType, types) {
  if (typedData?.primaryType !== primaryType) refuse(`a ${typedData?.primaryType}, not a ${primaryType}`);
  const { EIP712Domain: domainFields, ...rest } = typedData.types ?? {};
  const fields = (/** @type {any} */ list) =>
    JSON.stringify(Array.isArray(list) ? list.map((field) => [field?.name, field?.type]) : list);
  if (domainFields !== undefined && fields(domainFields) !== fields(DOMAIN_FIELDS.slice(0, domainFields.length))) {
    refuse("its EIP712Domain type is not the standard one");
  }
  // Field order matters (it is in the type hash); the order of the type names does not.
  const names = Object.keys(rest).sort();
  const wanted = Object.keys(types).sort();
  if (names.join() !== wanted.join() || names.some((name) => fields(rest[name]) !== fields(types[name]))) {
    refuse(`its types are not ${primaryType}'s`);
  }
}

/**
 * Checks a VoucherToSign before signing it, and returns the typed data to sign, built here from
 * the checked numbers, and the PayInput it makes. Refuses (UNEXPECTED_TYPED_DATA) unless the
 * message is a PayerVoucher of `payer` on the lane's token whose entries are `previousEntries`
 * with the resource's payee raised by exactly its price (inserted in address order if new), and
 * nothing else changed, at most 32 entries.
 * @param {any} toSign  the API's VoucherToSign: { typedData, resource, lane, previousEntries }
 * @param {{ payer: Address, resourceId: string, hub: Hub, maxPrice?: bigint }} expected
 */
export function checkVoucherToSign(toSign, { payer, resourceId, hub, maxPrice }) {
  const { typedData, resource } = toSign ?? {};
  checkTypes(typedData, "PayerVoucher", PAYER_VOUCHER_TYPES);
  const domain = checkedDomain(typedData.domain, hub);
  if (resource?.id !== resourceId) refuse(`the voucher is for resource ${resource?.id}, not ${resourceId}`);
  const price = amount(resource.price, "the price");
  if (price === 0n) refuse("the price is 0");
  if (maxPrice !== undefined && price > maxPrice) {
    throw new MicropaymentsError("PRICE_ABOVE_MAX", `the price ${price} is above ${maxPrice}`, {
      price: String(price),
      maxPrice: String(maxPrice),
    });
  }
  const payee = address(resource.payee, "the resource's payee");
  const token = address(resource.token, "the resource's token");
  const message = typedData.message ?? {};
  if (!isAddressEqual(address(message.payer, "payer"), payer)) refuse(`the voucher is of ${message.payer}, not ${payer}`);
  if (!isAddressEqual(address(message.token, "token"), token)) refuse(`the voucher is in ${message.token}, not ${token}`);
  const lane = amount(toSign.lane, "the lane");
  if (lane >= UINT64_LIMIT || amount(message.lane, "the message's lane") !== lane) {
    refuse(`the message's lane ${message.lane} is not the lane ${toSign.lane}`);
  }
  if (typeof message.purchase !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(message.purchase)) {
    refuse("the purchase is not 32 bytes");
  }
  const previous = entriesOf(toSign.previousEntries, "previousEntries");
  const want = raised(previous, payee, price);
  if (want.length > MAX_LANE_ENTRIES) refuse(`the lane would pay ${want.length} payees, more than ${MAX_LANE_ENTRIES}`);
  const entries = entriesOf(message.entries, "the message's entries");
  if (!sameEntries(entries, want)) {
    refuse(`the entries ${entriesText(entries)} are not ${entriesText(want)} (${payee} raised by ${price})`);
  }
  return voucherPayload({ domain, payer, token, lane, entries, purchase: message.purchase, resourceId, price, payee });
}

/**
 * The PayerVoucher typed data to sign and the PayInput (without its signature) it makes.
 * @param {{ domain: Record<string, any>, payer: Address, token: Address, lane: bigint, entries: Entry[], purchase: Hex,
 *   resourceId: string, price: bigint, payee: Address }} voucher
 */
export function voucherPayload({ domain, payer, token, lane, entries, purchase, resourceId, price, payee }) {
  const wire = entries.map((entry) => ({ payee: entry.payee, cumulativeAmount: String(entry.cumulativeAmount) }));
  return {
    typedData: {
      domain,
      types: { EIP712Domain: DOMAIN_FIELDS, ...PAYER_VOUCHER_TYPES },
      primaryType: "PayerVoucher",
      message: { payer, token, lane: String(lane), entries: wire, purchase },
    },
    input: { payer, token, lane: String(lane), entries: wire, purchase, resourceId },
    ...{ domain, payer, token, lane, entries, purchase, resourceId, price, payee },
  };
}

/**
 * Checks a SessionGrant the server proposes for a new key; returns the typed data to sign and the
 * SessionGrantInput it makes.
 * @param {any} typedData
 * @param {{ payer: Address, signer: Address, maxTotal: bigint, validUntil?: number, token?: Address, hub: Hub }} expected
 */
export function checkGrantToSign(typedData, { payer, signer, maxTotal, validUntil, token, hub }) {
  checkTypes(typedData, "SessionGrant", SESSION_GRANT_TYPES);
  const domain = checkedDomain(typedData.domain, hub);
  const m = typedData.message ?? {};
  if (!isAddressEqual(address(m.payer, "payer"), payer)) refuse(`the grant is of ${m.payer}, not ${payer}`);
  if (!isAddressEqual(address(m.signer, "signer"), signer)) refuse(`the grant is for ${m.signer}, not ${signer}`);
  if (token && !isAddressEqual(address(m.token, "token"), token)) refuse(`the grant is in ${m.token}, not ${token}`);
  if (amount(m.maxTotal, "maxTotal") !== maxTotal) refuse(`the grant's cap is ${m.maxTotal}, not ${maxTotal}`);
  const until = BigInt(m.validUntil);
  if (until >= UINT64_LIMIT || (validUntil !== undefined && until !== BigInt(validUntil))) {
    refuse(`the grant is valid until ${m.validUntil}, not ${validUntil}`);
  }
  const lane = amount(m.lane, "the lane");
  if (lane >= UINT64_LIMIT) refuse(`the lane ${lane} is not below 2^64`);
  const grant = {
    payer,
    signer,
    token: address(m.token, "token"),
    lane: String(lane),
    maxTotal: String(maxTotal),
    validUntil: Number(until),
  };
  return {
    typedData: {
      domain,
      types: { EIP712Domain: DOMAIN_FIELDS, ...SESSION_GRANT_TYPES },
      primaryType: "SessionGrant",
      message: { ...grant, validUntil: String(until) },
    },
    grant,
  };
}

/**
 * Checks an EIP-2612 Permit the server proposes for a deposit to the hub.
 * @param {any} typedData
 * @param {{ owner: Address, token: Address, amount: bigint, deadline: number, hub: Hub }} expected
 */
export function checkPermit(typedData, { owner, token, amount: value, deadline, hub }) {
  if (typedData?.primaryType !== "Permit") refuse(`a ${typedData?.primaryType}, not a Permit`);
  const { message: m, domain } = typedData;
  const wrong = [
    [!isAddressEqual(address(m.owner, "owner"), owner), "owner"],
    [!isAddressEqual(address(m.spender, "spender"), hub.hub), "spender (not the hub)"],
    [amount(m.value, "value") !== value, "value"],
    [BigInt(m.deadline) !== BigInt(deadline), "deadline"],
    [!isAddressEqual(address(domain?.verifyingContract, "token"), token), "token"],
    [Number(domain?.chainId) !== hub.chainId, "chain"],
  ].find(([bad]) => bad);
  if (wrong) refuse(`the permit's ${wrong[1]} is not the deposit asked for`);
  return typedData;
}

/**
 * Checks an EIP-3009 ReceiveWithAuthorization the server proposes for a deposit to the hub.
 * @param {any} typedData
 * @param {{ payer: Address, token: Address, amount: bigint, hub: Hub }} expected
 */
export function checkReceiveAuthorization(typedData, { payer, token, amount: value, hub }) {
  if (typedData?.primaryType !== "ReceiveWithAuthorization") {
    refuse(`a ${typedData?.primaryType}, not a ReceiveWithAuthorization`);
  }
  const { message: m, domain } = typedData;
  const wrong = [
    [!isAddressEqual(address(m.from, "from"), payer), "from"],
    [!isAddressEqual(address(m.to, "to"), hub.hub), "to (not the hub)"],
    [amount(m.value, "value") !== value, "value"],
    [!isAddressEqual(address(domain?.verifyingContract, "token"), token), "token"],
    [Number(domain?.chainId) !== hub.chainId, "chain"],
  ].find(([bad]) => bad);
  if (wrong) refuse(`the authorization's ${wrong[1]} is not the deposit asked for`);
  return typedData;
}

/**
 * The typed data with its integers as bigints, which viem needs (the API sends decimal strings),
 * and without EIP712Domain, which viem derives from the domain.
 * @param {TypedData} typedData
 * @returns {any}
 */
export function withBigInts(typedData) {
  const { types } = typedData;
  /** @type {(type: string, value: any) => any} */
  const convert = (type, value) => {
    if (type.endsWith("]")) return value.map((/** @type {any} */ item) => convert(type.replace(/\[\d*\]$/, ""), item));
    if (types[type]) {
      return Object.fromEntries(types[type].map((field) => [field.name, convert(field.type, value[field.name])]));
    }
    return /^u?int\d*$/.test(type) ? BigInt(value) : value;
  };
  const domain = { ...typedData.domain };
  if (domain.chainId !== undefined) domain.chainId = BigInt(/** @type {any} */ (domain.chainId));
  const { EIP712Domain: _, ...messageTypes } = types;
  return {
    domain,
    types: messageTypes,
    primaryType: typedData.primaryType,
    message: convert(typedData.primaryType, typedData.message),
  };
}
