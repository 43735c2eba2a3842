// Walks the /demo page in headless Chromium as its two users would: a reader who connects,
// signs in, is told to deposit before reading (no prompt), deposits without gas, authorises a
// session key with one signed grant and reads three articles with no wallet prompt; then a
// creator who signs in, watches settlement and withdraws on chain.
//
// With WALK=leaving instead: a reader with ether (LEAVER_KEY) revokes its session key and takes
// its money out of the hub: a request, a countdown to its availability, then the withdrawal.
//
// With WALK=creator-exit: a creator (CREATOR_KEY) whose sales the server has not settled names
// itself, lists an article, exports its vouchers, claims them with its own wallet and withdraws.
//
// env: DEMO_URL (the server), READER_KEY, CREATOR_KEY, RPC_URL, SCREENSHOT_DIR, CHROMIUM (optional)
// stdout: one JSON line with what the wallets signed and the screenshots taken.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { installTestWallet } from "./wallet.mjs";

const { DEMO_URL, READER_KEY, CREATOR_KEY, LEAVER_KEY, RPC_URL, SCREENSHOT_DIR, WALK } = process.env;
const NAMES = JSON.parse(process.env.CREATOR_NAMES ?? "[]"); // display names the creators chose
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const TIMEOUT_MS = 30000;
const ARTICLES_TO_READ = 3;

const screenshots = [];
const problems = [];
mkdirSync(SCREENSHOT_DIR, { recursive: true });

async function screenshot(page, name) {
  const path = join(SCREENSHOT_DIR, `${String(screenshots.length + 1).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  screenshots.push(path);
}

/** Waits until `locator` matches exactly `count` elements. */
async function expectCount(locator, count, what) {
  const deadline = Date.now() + TIMEOUT_MS;
  let seen;
  while ((seen = await locator.count()) !== count) {
    if (Date.now() > deadline) throw new Error(`expected ${count} ${what}, saw ${seen}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until `locator`'s text is `text`. */
async function expectText(locator, text) {
  await locator.filter({ hasText: new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*$`) }).waitFor();
}

/** A figure of a description list (<dt>name</dt><dd>value</dd>) in the visible view, by its name. */
const figure = (page, name) =>
  page.getByRole("tabpanel").locator("dl > div").filter({ has: page.getByText(name, { exact: true }) }).locator("dd");

/** Clicks `button` and returns the text of the file the page saves. */
async function downloaded(page, button) {
  const [file] = await Promise.all([page.waitForEvent("download"), button.click()]);
  return { name: file.suggestedFilename(), text: readFileSync(await file.path(), "utf8") };
}

async function openPage(browser, privateKey, path) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, reducedMotion: "reduce" });
  const wallet = await installTestWallet(context, { privateKey, rpcUrl: RPC_URL });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => message.type() === "error" && problems.push(`console: ${message.text()}`));
  await page.goto(new URL(path, DEMO_URL).href);
  return { page, wallet };
}

async function connectAndSignIn(page, wallet) {
  // Keyboard only: the buttons are reachable and work with Enter.
  await page.getByRole("button", { name: "Connect wallet" }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("button", { name: "Sign in with Ethereum" }).click();
  await page.getByRole("tabpanel").getByText("Signed in as").waitFor();
  await page.getByText(`Signed in · ${wallet.address.slice(0, 6)}`).waitFor();
}

async function reader(browser) {
  const { page, wallet } = await openPage(browser, READER_KEY, "/demo/");
  await page.getByRole("heading", { name: "Articles" }).waitFor();
  await page.getByRole("button", { name: /^Read “/ }).first().waitFor();
  // Creators are shown by the names they chose, with their addresses.
  const shownNames = await page.locator("#articles .creator-name").allTextContents();
  assert.deepEqual([...new Set(shownNames)].sort(), [...NAMES].sort(), "creators' names on the articles");
  await screenshot(page, "reader-before-connecting");

  await connectAndSignIn(page, wallet);

  // Reading before depositing: the page says how much to deposit, and asks the wallet nothing.
  const signedBeforeDeposit = structuredClone(wallet.signed);
  await page.getByRole("button", { name: /^Read “/ }).first().click();
  const depositFirst = page.getByText(/^Deposit at least \d+\.\d{2} USDC first/);
  await depositFirst.waitFor();
  await screenshot(page, "reader-deposit-first");
  assert.deepEqual(wallet.signed, signedBeforeDeposit, "reading with no deposit prompted the wallet");

  await page.getByLabel("Amount to deposit").fill("5");
  await page.getByLabel("Amount to deposit").press("Enter");
  await page.getByText("Credited: 5.00 USDC is in the hub.").waitFor();
  await expectText(figure(page, "In the hub"), "5.00 USDC");
  await depositFirst.waitFor({ state: "detached" }); // no longer true, so no longer shown

  await page.getByLabel("Spending cap").fill("1");
  await page.getByRole("button", { name: "Authorise", exact: true }).click();
  await page.getByText("Session key active.").waitFor();
  await screenshot(page, "reader-ready");
  const signedBeforeReading = structuredClone(wallet.signed);

  const labels = await page.getByRole("button", { name: /^Read “/ }).evaluateAll((buttons) =>
    buttons.map((button) => button.getAttribute("aria-label")),
  );
  assert.ok(labels.length >= ARTICLES_TO_READ, `expected ${ARTICLES_TO_READ} articles, saw ${labels}`);
  const read = [];
  for (const label of labels.slice(0, ARTICLES_TO_READ)) {
    const title = /“(.*)”/.exec(label)[1];
    await page.getByRole("button", { name: label }).click();
    await page.getByRole("heading", { level: 2, name: title }).waitFor();
    await page.getByRole("button", { name: `Open “${title}” (paid)` }).waitFor();
    read.push(title);
  }
  await page.getByRole("article").getByText("Demo content.").waitFor();
  await screenshot(page, "reader-reading");
  assert.deepEqual(wallet.signed, signedBeforeReading, "reading prompted the wallet");

  const receipts = page.getByRole("table", { name: "Your receipts" });
  await expectCount(receipts.getByRole("row"), 2 + ARTICLES_TO_READ, "rows in the receipts table (and its total)");
  for (const title of read) await receipts.getByRole("row", { name: title }).waitFor();
  await expectCount(receipts.getByText("Claimed", { exact: true }), ARTICLES_TO_READ, "claimed receipts");
  await expectText(figure(page, "Awaiting settlement"), "0.00 USDC");
  const spent = (await figure(page, "In the hub").textContent()).trim();
  assert.equal(spent, "4.94 USDC", "5 deposited, 0.06 paid");
  await receipts.getByText(`Total: ${ARTICLES_TO_READ} reads`).waitFor();
  await receipts.locator("tfoot").getByText("0.06 USDC").waitFor();
  // Dated receipts as CSV: a heading, one row per read, a total.
  const csv = await downloaded(page, page.getByRole("button", { name: "Download CSV" }));
  assert.match(csv.name, /^receipts-\d{4}-\d{2}-\d{2}\.csv$/);
  const lines = csv.text.trim().split("\r\n");
  assert.equal(lines.length, 2 + ARTICLES_TO_READ, csv.text);
  assert.match(lines[0], /^Date \(UTC\),Article,Creator,Address,Price \(USDC\),Status/);
  assert.match(lines[1], /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z,/);
  assert.match(lines.at(-1), /^Total,3 receipts,,,0\.06,/);
  await page.getByRole("table", { name: "Your receipts" }).scrollIntoViewIfNeeded();
  await screenshot(page, "reader-receipts-claimed");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "reader-dark");
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 390, height: 844 });
  await screenshot(page, "reader-narrow");
  return { signed: wallet.signed, read };
}

/** The creator signs in before anyone reads: its sales and their settlement arrive live. */
async function creatorSignsIn(browser) {
  const { page, wallet } = await openPage(browser, CREATOR_KEY, "/demo/");
  // The creator view is a tab: arrow keys move between tabs.
  await page.getByRole("tab", { name: "Reader" }).focus();
  await page.keyboard.press("ArrowRight");
  assert.equal(await page.getByRole("tab", { name: "Creator" }).getAttribute("aria-selected"), "true");
  await page.getByRole("heading", { name: "Earnings" }).waitFor();

  await connectAndSignIn(page, wallet);
  await page.getByText("No sales yet.").waitFor();
  await expectText(figure(page, "Withdrawable"), "0.00 USDC");
  await screenshot(page, "creator-before-sales");
  return { page, wallet };
}

async function creatorWithdraws({ page, wallet }) {
  const listed = await page.locator("#listings li").count();
  const sales = page.getByRole("table", { name: "Your sales" });
  await expectCount(sales.getByRole("row"), 2 + listed, "rows in the sales table (and its total)");
  await expectCount(sales.getByText("Claimed", { exact: true }), listed, "claimed sales");
  await expectText(figure(page, "Awaiting settlement"), "0.00 USDC");
  const withdrawable = (await figure(page, "Withdrawable").textContent()).trim();
  assert.notEqual(withdrawable, "0.00 USDC");
  await page.getByRole("img", { name: new RegExp(`^Earnings over time: ${listed} sales, ${withdrawable} in all`) }).waitFor();
  await screenshot(page, "creator-settled");

  await page.getByRole("button", { name: `Withdraw ${withdrawable}` }).click();
  await page.getByText(`Withdrawn: ${withdrawable} sent to your wallet.`).waitFor();
  await expectText(figure(page, "Withdrawn"), withdrawable);
  await expectText(figure(page, "Withdrawable"), "0.00 USDC");
  await screenshot(page, "creator-withdrawn");
  return { signed: wallet.signed, withdrawn: withdrawable, sales: listed };
}

/** Moves the chain's clock `seconds` ahead (anvil), as if the hub's delay had passed. */
async function advanceChain(seconds) {
  for (const [method, params] of [["evm_increaseTime", [seconds]], ["evm_mine", []]]) {
    const response = await fetch(RPC_URL, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const { error } = await response.json();
    if (error) throw new Error(`${method}: ${error.message}`);
  }
}

/** A reader with ether revokes its session key, then withdraws from the hub after the delay. */
async function leaver(browser) {
  const { page, wallet } = await openPage(browser, LEAVER_KEY, "/demo/");
  await connectAndSignIn(page, wallet);
  await page.getByLabel("Amount to deposit").fill("1");
  await page.getByLabel("Amount to deposit").press("Enter");
  await page.getByText("Credited: 1.00 USDC is in the hub.").waitFor();

  // A key authorised in another tab of the same wallet...
  const otherTab = await page.context().newPage();
  await otherTab.goto(page.url());
  await otherTab.getByRole("tabpanel").getByText("Connected as").waitFor(); // the wallet trusts the page already
  await otherTab.getByLabel("Spending cap").fill("0.30");
  await otherTab.getByRole("button", { name: "Authorise", exact: true }).click();
  await otherTab.getByText("Session key active.").waitFor();
  await otherTab.close();

  await page.getByLabel("Spending cap").fill("0.50");
  await page.getByRole("button", { name: "Authorise", exact: true }).click();
  await page.getByText("Session key active.").waitFor();
  // ... is listed here with what it can still spend, and revoked from here.
  const other = page.locator(".other-keys li");
  await expectCount(other, 1, "other session keys");
  await other.getByText("0.30 USDC of 0.30 USDC left").waitFor();
  await screenshot(page, "leaver-other-key");
  await other.getByRole("button", { name: "Revoke" }).click();
  await page.getByText(/^Revoked: the key can no longer pay from .+, after the hub's delay/).waitFor();
  await expectCount(other, 0, "other session keys once revoked");
  await page.getByText("Session key active.").waitFor(); // this tab's key still pays
  await page.getByRole("button", { name: "Revoke key" }).click();
  await page.getByText(/^Revoked: the key can no longer pay/).waitFor();
  await page.getByRole("button", { name: "Authorise", exact: true }).waitFor();
  await screenshot(page, "leaver-revoked");

  await page.getByLabel("Amount to withdraw").fill("0.40");
  await page.getByRole("button", { name: "Request", exact: true }).click();
  await page.getByText("Requested: 0.40 USDC.").waitFor();
  await page.getByText("You can withdraw it in").waitFor();
  await screenshot(page, "leaver-countdown");
  assert.ok(await page.getByRole("button", { name: "Withdraw 0.40 USDC" }).isDisabled(), "withdrawable before the delay");

  await advanceChain(3601);
  await page.getByText("You can withdraw it now.").waitFor();
  await page.getByRole("button", { name: "Withdraw 0.40 USDC" }).click();
  await page.getByText("Withdrawn to your wallet.").waitFor();
  await expectText(figure(page, "In the hub"), "0.60 USDC");
  await screenshot(page, "leaver-withdrawn");
  return { signed: wallet.signed };
}

/** A creator whose sales wait unsettled names itself, lists an article, and leaves with its own
 * wallet: exports its vouchers, claims them, withdraws. */
async function creatorExit(browser) {
  const { page, wallet } = await openPage(browser, CREATOR_KEY, "/demo/#creator");
  await connectAndSignIn(page, wallet);

  await page.getByLabel("Your name for readers").fill("Ben  Writes ");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText("Saved: readers see your articles by Ben Writes.").waitFor();
  await page.getByLabel("Title").fill("Notes on Leaving");
  await page.getByLabel("Description").fill("What a creator keeps when the server is gone.");
  await page.getByLabel("Price per read").fill("0.05");
  await page.getByRole("button", { name: "List", exact: true }).click();
  await page.getByText("Listed “Notes on Leaving” at 0.05 USDC a read.").waitFor();
  await page.locator("#listings li").filter({ hasText: "Notes on Leaving" }).getByText("0.05 USDC").waitFor();
  // A price below the token's precision is refused in the page, in USDC terms.
  assert.equal(await page.getByLabel("Title").inputValue(), "", "the form is ready for the next listing");
  // A price below the token's precision is refused in the page, in USDC terms; Edit fills the form.
  await page.locator("#listings li").filter({ hasText: "Notes on Leaving" }).getByRole("button", { name: "Edit" }).click();
  assert.equal(await page.getByLabel("Price per read").inputValue(), "0.05");
  await page.getByLabel("Price per read").fill("0.0000001");
  await page.getByRole("button", { name: "List", exact: true }).click();
  await page.getByText("Enter an amount like 5 or 2.50 (at most 6 decimals).").waitFor();
  await page.getByLabel("Price per read").fill("0.04");
  await page.getByRole("button", { name: "List", exact: true }).click();
  await page.getByText("Listed “Notes on Leaving” at 0.04 USDC a read.").waitFor();
  await page.locator("#listings li").filter({ hasText: "Notes on Leaving" }).getByText("0.04 USDC").waitFor();
  await screenshot(page, "creator-named-and-listed");

  const sales = page.getByRole("table", { name: "Your sales" });
  await expectCount(sales.getByText("Accepted", { exact: true }), 1, "unsettled sales");
  const due = (await figure(page, "Awaiting settlement").textContent()).trim();
  assert.notEqual(due, "0.00 USDC");
  await page.getByRole("img", { name: new RegExp(`^Earnings over time: 1 sale, ${due} in all`) }).waitFor();

  const exported = await downloaded(page, page.getByRole("button", { name: "Export vouchers" }));
  const vouchers = JSON.parse(exported.text);
  assert.equal(vouchers.claims.length, 1, exported.text);
  assert.equal(vouchers.payee, wallet.address);
  await page.getByText(`Saved 1 voucher (${due}): anyone can claim them for you with that file.`).waitFor();
  await screenshot(page, "creator-exported");

  await page.getByRole("button", { name: "Claim with my wallet" }).click();
  await page.getByText(`Claimed: ${due} is yours to withdraw.`).waitFor();
  await expectText(figure(page, "Withdrawable"), due);
  await expectText(figure(page, "Awaiting settlement"), "0.00 USDC");
  await expectCount(sales.getByText("Claimed", { exact: true }), 1, "claimed sales");
  await screenshot(page, "creator-claimed");

  await page.getByRole("button", { name: `Withdraw ${due}` }).click();
  await page.getByText(`Withdrawn: ${due} sent to your wallet.`).waitFor();
  await expectText(figure(page, "Withdrawable"), "0.00 USDC");
  // The claim message is no longer true once the money left the hub: gone.
  await page.getByText(`Claimed: ${due} is yours to withdraw.`).waitFor({ state: "detached" });
  await screenshot(page, "creator-withdrawn-own-claim");
  return { signed: wallet.signed, claimed: due, vouchers: vouchers.claims.length };
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
let outcome;
try {
  if (WALK === "leaving") {
    outcome = { leaver: await leaver(browser) };
  } else if (WALK === "creator-exit") {
    outcome = { creator: await creatorExit(browser) };
  } else {
    const creator = await creatorSignsIn(browser);
    const read = await reader(browser);
    outcome = { reader: read, creator: await creatorWithdraws(creator) };
  }
} catch (error) {
  for (const context of browser.contexts()) {
    for (const [index, page] of context.pages().entries()) {
      await screenshot(page, `failure-${browser.contexts().indexOf(context)}-${index}`).catch(() => {});
    }
  }
  console.error(problems.join("\n"));
  console.log(JSON.stringify({ screenshots, problems }));
  throw error;
} finally {
  await browser.close();
}
console.log(JSON.stringify({ ...outcome, screenshots, problems }));
