// Files the page hands the user: receipts as CSV, exported vouchers as JSON. Made in the browser
// and saved with a download link: nothing leaves the page.

import { formatAmount } from "./format.js";

/** A CSV field: quoted when it holds a comma, a quote or a line break; a leading = + - @ is
 * defused, so that a spreadsheet never runs a title as a formula. */
function field(value) {
  let text = String(value ?? "");
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Receipts as CSV: one row each (date in UTC, ISO 8601), then a total row. `counterparty` is
 * "payee" for a reader's receipts, "payer" for a creator's sales; `title(id)` names the resource
 * and `name(address)` the creator.
 */
export function receiptsCsv(receipts, { counterparty, token, title, name }) {
  const heading = ["Date (UTC)", "Article", counterparty === "payee" ? "Creator" : "Reader", "Address", `Price (${token.symbol})`, "Status", "Receipt", "Claim transaction"];
  const rows = [heading];
  let total = 0n;
  for (const receipt of [...receipts].sort((a, b) => a.createdAt - b.createdAt)) {
    total += BigInt(receipt.price);
    const who = receipt[counterparty];
    rows.push([
      new Date(receipt.createdAt * 1000).toISOString(),
      title(receipt.resourceId),
      name(who) ?? "",
      who,
      formatAmount(receipt.price, token.decimals),
      receipt.status,
      receipt.id,
      receipt.claimTx ?? "",
    ]);
  }
  rows.push(["Total", `${receipts.length} ${receipts.length === 1 ? "receipt" : "receipts"}`, "", "", formatAmount(total, token.decimals), "", "", ""]);
  return rows.map((row) => row.map(field).join(",")).join("\r\n") + "\r\n";
}

/** Saves `text` as a file called `filename` through the browser's download. */
export function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
