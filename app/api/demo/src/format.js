// Amounts are bigint base units end to end; these turn them into text and back.

/** "1500000" (6 decimals) -> "1.50"; at least two decimals, more only when they are not zero. */
export function formatAmount(value, decimals) {
  const units = BigInt(value);
  const sign = units < 0n ? "-" : "";
  const abs = units < 0n ? -units : units;
  const scale = 10n ** BigInt(decimals);
  const whole = (abs / scale).toLocaleString("en-US");
  let fraction = (abs % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  if (fraction.length < 2) fraction = fraction.padEnd(Math.min(2, decimals), "0");
  return fraction ? `${sign}${whole}.${fraction}` : `${sign}${whole}`;
}

/** "1.5" -> 1500000n (6 decimals); throws a message fit to show on anything else. */
export function parseAmount(text, decimals) {
  const match = /^\s*(\d+)(?:\.(\d*))?\s*$/.exec(text);
  if (!match || (match[2] ?? "").length > decimals) {
    throw new Error(`Enter an amount like 5 or 2.50 (at most ${decimals} decimals).`);
  }
  const [, whole, fraction = ""] = match;
  const units = BigInt(whole) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
  if (units === 0n) throw new Error("Enter an amount above zero.");
  return units;
}

/** 0xAbCd…1234 */
export function shortAddress(address) {
  return address ? `${address.slice(0, 6)}…${address.slice(-4)}` : "";
}

export function shortHash(hash) {
  return hash ? `${hash.slice(0, 10)}…${hash.slice(-6)}` : "";
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** Unix seconds -> local time of day. */
export function formatTime(seconds) {
  return timeFormat.format(new Date(Number(seconds) * 1000));
}

export function formatDateTime(seconds) {
  return dateTimeFormat.format(new Date(Number(seconds) * 1000));
}

/** ReceiptStatus -> words a reader understands. */
export const STATUS_LABELS = {
  ACCEPTED: "Accepted",
  CLAIMED: "Claimed",
  PAID_OUT: "Paid out",
  FAILED: "Failed",
};
