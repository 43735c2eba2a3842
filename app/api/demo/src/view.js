// The view: renders the page from `state` (state.js) alone, and hands the users' gestures to
// actions.js. Lists are rebuilt only when what they show changed, keeping keyboard focus.

import * as actions from "./actions.js";
import { articleBody } from "./article.js";
import { earningsChart } from "./chart.js";
import { avatar, byId, h, setStatus, table } from "./dom.js";
import { STATUS_LABELS, formatAmount, formatDateTime, formatTime, shortAddress, shortHash } from "./format.js";
import { connected, creatorName, keyLeft, money, resourceById, sameAddress, spendable, state, whenChanged } from "./state.js";

/** A creator as readers see it: its display name, if any, then its short address (a name is
 * anyone's to choose; the address is what gets paid). */
function creator(address) {
  const name = creatorName(address);
  const shown = h("span", { class: "address", title: address }, shortAddress(address));
  return name ? [h("span", { class: "creator-name" }, name), shown] : [shown];
}

/** Replaces `container`'s content only when `key` changed, keeping keyboard focus where it was. */
function renderInto(container, key, build) {
  if (container.dataset.renderKey === key) return;
  container.dataset.renderKey = key;
  const focused = container.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
  container.replaceChildren(...build().filter(Boolean));
  if (focused) (container.querySelector(`[data-focus="${focused}"]`) ?? container.querySelector("button"))?.focus();
}

function renderStatus(element, name) {
  const message = state.messages[name];
  if (!message) {
    setStatus(element, "");
    return;
  }
  const parts = [message.text];
  if (message.tx) parts.push(" ", h("span", { class: "tx" }, "Tx ", h("code", { title: message.tx }, shortHash(message.tx))));
  setStatus(element, parts, message.tone);
}

function button(label, onclick, { focus, name, primary = false, disabled = false } = {}) {
  const working = name && state.busy.has(name);
  return h(
    "button",
    {
      type: "button",
      class: primary ? "button primary" : "button",
      "data-focus": focus ?? name,
      disabled: disabled || working,
      "aria-busy": working ? "true" : null,
      onclick,
    },
    label,
  );
}

function renderConnect(slot) {
  const message = state.messages.connect;
  const key = JSON.stringify([!!state.config, state.address, state.walletChainId, state.session?.address, [...state.busy], message]);
  renderInto(slot, key, () => {
    const status = h("p", { class: "status", role: "status" });
    renderStatus(status, "connect");
    if (!state.hasWallet) {
      return [
        h("p", {}, "No wallet found in this browser. Install one (MetaMask, Rabby, Coinbase Wallet…) and reload."),
      ];
    }
    if (!connected()) {
      return [
        h("p", { class: "help" }, "Your wallet holds your stablecoin and signs for you; this page never sees its keys."),
        button("Connect wallet", actions.connect, { name: "connect", primary: true, disabled: !state.config }),
        status,
      ];
    }
    const who = h("span", { class: "address", title: state.address }, shortAddress(state.address));
    if (!state.session) {
      return [
        h("p", { class: "identity" }, avatar(state.address), h("span", {}, "Connected as ", who)),
        h("p", { class: "help" }, "Sign in so that the server shows you your receipts and earnings. Free: a signature, not a transaction."),
        button("Sign in with Ethereum", actions.signIn, { name: "sign-in", primary: true }),
        status,
      ];
    }
    return [
      h("p", { class: "identity" }, avatar(state.address), h("span", {}, "Signed in as ", who), h("span", { class: "check", "aria-hidden": "true" }, "✓")),
      button("Sign out", actions.signOut, { name: "sign-out" }),
      status,
    ];
  });
}

function renderFigure(id, value) {
  const element = byId(id);
  if (value === null || value === undefined) element.textContent = "–";
  else {
    element.replaceChildren(
      h("span", { class: "amount" }, formatAmount(value, state.token.decimals)),
      " ",
      h("span", { class: "unit" }, state.token.symbol),
    );
  }
}

function renderReader() {
  const account = state.account;
  renderFigure("fig-balance", account?.balance);
  renderFigure("fig-headroom", account?.headroom);
  renderFigure("fig-outstanding", account?.outstanding);
  renderFigure("fig-wallet", state.walletBalance);
  for (const element of document.querySelectorAll('[data-slot="symbol"]')) element.textContent = state.token?.symbol ?? "";

  const depositButton = byId("deposit-button");
  depositButton.disabled = !connected() || state.busy.has("deposit") || state.deposit !== null;
  depositButton.setAttribute("aria-busy", String(state.busy.has("deposit") || state.deposit !== null));
  renderStatus(byId("deposit-status"), "deposit");

  const keyButton = byId("key-button");
  const usable = keyLeft() !== null;
  keyButton.disabled = !connected() || state.busy.has("key");
  keyButton.setAttribute("aria-busy", String(state.busy.has("key")));
  keyButton.textContent = usable ? "Replace" : "Authorise";
  if (state.messages.key) renderStatus(byId("key-status"), "key");
  else if (usable && keyLeft() === 0n) {
    setStatus(byId("key-status"), "Your session key has spent its whole cap: authorise a new one to keep reading without prompts.", "pending");
  } else if (usable) {
    const info = state.keyInfo;
    setStatus(
      byId("key-status"),
      [
        h("strong", {}, "Session key active. "),
        `${money(keyLeft())} of its ${money(info.maxTotal)} cap left, until ${formatDateTime(info.validUntil)}. `,
        h("span", { class: "tx" }, "Key ", h("code", { title: info.signer }, shortAddress(info.signer))),
      ],
      "success",
    );
  } else setStatus(byId("key-status"), "");
  // The payer's other live keys (other tabs, other devices): each can be revoked from here.
  const others = (state.keys ?? []).filter(
    (key) =>
      key.revokedAt === null &&
      key.validUntil > state.now &&
      !state.revoked.has(key.signer.toLowerCase()) &&
      !sameAddress(key.signer, state.key?.address),
  );
  const othersKey = others.map((key) => [key.signer, String(key.spent), state.busy.has(`revoke:${key.signer}`)]);
  renderInto(byId("key-actions"), JSON.stringify([usable, state.key?.address, state.busy.has("revoke"), othersKey]), () => [
    ...(usable
      ? [
          button("Revoke key", () => actions.revokeSessionKey(), { name: "revoke" }),
          h("span", { class: "help" }, "Your wallet sends the revocation (a transaction: it pays the gas)."),
        ]
      : []),
    others.length
      ? h(
          "div",
          { class: "other-keys" },
          h("p", { class: "help" }, `Your other session keys (other tabs or devices) can still pay:`),
          h(
            "ul",
            { class: "listings" },
            others.map((key) =>
              h(
                "li",
                {},
                h(
                  "span",
                  {},
                  h("code", { title: key.signer }, shortAddress(key.signer)),
                  ` ${money(key.maxTotal - key.spent)} of ${money(key.maxTotal)} left, until ${formatDateTime(key.validUntil)}`,
                ),
                button("Revoke", () => actions.revokeSessionKey(key.signer), { name: `revoke:${key.signer}` }),
              ),
            ),
          ),
        )
      : null,
  ]);

  renderStatus(byId("keys-status"), "keys");
  renderHubWithdrawal();

  const steps = {
    "step-connect": state.session !== null,
    "step-deposit": account !== null && BigInt(account.balance) > 0n,
    "step-key": (keyLeft() ?? 0n) > 0n,
  };
  let activeFound = false;
  for (const [id, done] of Object.entries(steps)) {
    const active = !done && !activeFound;
    activeFound ||= active;
    byId(id).dataset.state = done ? "done" : active ? "active" : "todo";
  }

  renderReading();
  renderArticles();
  if (state.messages.read || connected()) renderStatus(byId("read-status"), "read");
  else setStatus(byId("read-status"), "Connect your wallet (step 1) to start reading.");
  renderReceipts();
}

/** "in 59:07", "in 1:02:03" */
function countdown(seconds) {
  const s = Math.max(0, seconds);
  const parts = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const text = parts[0] ? `${parts[0]}:${String(parts[1]).padStart(2, "0")}` : String(parts[1]);
  return `${text}:${String(parts[2]).padStart(2, "0")}`;
}

/** The reader's way out: request, a countdown to withdrawalAvailableAt, then withdraw (or cancel). */
function renderHubWithdrawal() {
  const account = state.account;
  const pending = account ? BigInt(account.pendingWithdrawal) : 0n;
  const busy = state.busy.has("hub-withdraw");
  const requestButton = byId("hub-withdraw-button");
  requestButton.disabled = !connected() || busy || pending > 0n || spendable(account) <= 0n;
  requestButton.setAttribute("aria-busy", String(busy));
  renderStatus(byId("hub-withdraw-status"), "hub-withdraw");
  const availableAt = account?.withdrawalAvailableAt ?? null;
  const left = availableAt === null ? 0 : availableAt - state.now;
  renderInto(byId("hub-withdraw-pending"), JSON.stringify([String(pending), left > 0 ? left : 0, busy]), () => {
    if (pending === 0n) return [];
    return [
      h(
        "div",
        { class: "withdrawal" },
        h(
          "p",
          {},
          `Requested: ${money(pending)}. `,
          left > 0
            ? h("span", {}, "You can withdraw it in ", h("span", { class: "countdown" }, countdown(left)), ".")
            : "You can withdraw it now.",
        ),
        h(
          "div",
          { class: "actions" },
          button(`Withdraw ${money(pending)}`, actions.completeWithdrawal, {
            focus: "hub-withdraw-complete",
            primary: true,
            disabled: left > 0 || busy,
          }),
          button("Cancel request", actions.cancelWithdrawal, { focus: "hub-withdraw-cancel", disabled: busy }),
        ),
      ),
    ];
  });
}

let shownReading = 0;

/** The article on screen; focused and scrolled to when it was just opened. */
function renderReading() {
  const article = byId("reading");
  const resource = state.reading && resourceById(state.reading.id);
  const receipt = resource && state.paid.get(resource.id);
  article.hidden = !receipt;
  if (!receipt || shownReading === state.reading.opened) return;
  shownReading = state.reading.opened;
  byId("reading-title").textContent = resource.title;
  byId("reading-byline").replaceChildren(
    avatar(resource.payee),
    h("span", {}, "by "),
    ...creator(resource.payee),
    h("span", { class: "sep", "aria-hidden": "true" }, "·"),
    h("span", { class: "paid-tag" }, `Paid ${money(receipt.price)}`),
  );
  byId("reading-body").replaceChildren(...articleBody(resource.id).map((text) => h("p", {}, text)));
  byId("reading-receipt").replaceChildren(
    "Receipt ",
    h("code", { title: receipt.id }, shortHash(receipt.id)),
    ` · accepted at ${formatTime(receipt.createdAt)}`,
  );
  article.focus({ preventScroll: true });
  const smooth = !matchMedia("(prefers-reduced-motion: reduce)").matches;
  article.scrollIntoView({ block: "start", behavior: smooth ? "smooth" : "auto" });
}

function renderArticles() {
  const list = byId("articles");
  list.setAttribute("aria-busy", String(state.loadingResources));
  const key = JSON.stringify([
    state.resources.map((r) => [r.id, r.title, r.price, r.creatorName]),
    connected(),
    [...state.paid.keys()],
    [...state.busy].filter((name) => name.startsWith("read:")),
    state.reading?.id,
  ]);
  renderInto(list, key, () => {
    if (state.loadingResources) return [h("li", { class: "empty" }, "Loading articles…")];
    if (!state.resources.length) return [h("li", { class: "empty" }, "No articles are for sale yet.")];
    return state.resources.map((resource) => {
      const paid = state.paid.has(resource.id);
      const label = paid ? "Open" : "Read";
      const title = `“${resource.title}”`;
      const readButton = button(label, () => actions.read(resource), {
        name: `read:${resource.id}`,
        primary: !paid,
        disabled: !connected(),
      });
      readButton.setAttribute(
        "aria-label",
        paid ? `Open ${title} (paid)` : `Read ${title} for ${money(resource.price)}`,
      );
      return h(
        "li",
        { class: "article-item", "data-current": state.reading?.id === resource.id ? "true" : null },
        h(
          "div",
          { class: "article-text" },
          h("h3", {}, resource.title),
          resource.description ? h("p", { class: "article-description" }, resource.description) : null,
          h(
            "p",
            { class: "byline" },
            avatar(resource.payee),
            "by ",
            ...creator(resource.payee),
          ),
        ),
        h(
          "div",
          { class: "article-buy" },
          paid ? h("span", { class: "badge", "data-status": "PAID" }, "Paid") : h("span", { class: "price" }, money(resource.price)),
          readButton,
        ),
      );
    });
  });
}

function receiptRows(receipts, counterparty) {
  return receipts.map((receipt) => {
    const resource = resourceById(receipt.resourceId);
    const who = receipt[counterparty];
    return [
      resource?.title ?? receipt.resourceId,
      h("span", { class: "who" }, avatar(who), ...(counterparty === "payee" ? creator(who) : [h("span", { class: "address", title: who }, shortAddress(who))])),
      h("span", { class: "num" }, money(receipt.price)),
      h(
        "span",
        { class: "badge", "data-status": receipt.status, title: receipt.failure ?? receipt.claimTx ?? "" },
        STATUS_LABELS[receipt.status] ?? receipt.status,
      ),
      h("time", { datetime: new Date(receipt.createdAt * 1000).toISOString() }, formatDateTime(receipt.createdAt)),
    ];
  });
}

/** The footer of a receipts table: how many, and what they add up to. */
function totalRow(receipts) {
  const total = receipts.reduce((sum, receipt) => sum + BigInt(receipt.price), 0n);
  return [`Total: ${receipts.length} ${receipts.length === 1 ? "read" : "reads"}`, "", h("span", { class: "num" }, money(total)), "", ""];
}

function renderReceipts() {
  const receipts = state.session ? state.receipts : [...state.paid.values()].reverse();
  renderInto(byId("receipts"), JSON.stringify([receipts, state.session !== null, state.resources.map((r) => r.creatorName)]), () => {
    const hint = state.session ? null : h("p", { class: "muted" }, "Sign in to see all your receipts and follow their settlement.");
    if (!receipts?.length) return [h("p", { class: "empty" }, "No receipts yet: read an article."), hint];
    return [
      table("Your receipts", ["Article", "Creator", "Price", "Status", "Date"], receiptRows(receipts, "payee"), totalRow(receipts)),
      h("div", { class: "actions" }, button("Download CSV", () => actions.downloadReceipts("receipts"), { focus: "receipts-csv" })),
      hint,
    ];
  });
}

function renderCreator() {
  const earnings = state.earnings;
  renderFigure("earn-accepted", earnings?.accepted);
  renderFigure("earn-withdrawable", earnings?.withdrawable);
  renderFigure("earn-withdrawn", earnings?.withdrawn);
  renderFigure("earn-wallet", state.session ? state.walletBalance : null);
  const withdrawable = earnings ? BigInt(earnings.withdrawable) : 0n;
  const withdrawButton = byId("withdraw-button");
  withdrawButton.disabled = withdrawable === 0n || state.busy.has("withdraw") || !connected();
  withdrawButton.setAttribute("aria-busy", String(state.busy.has("withdraw")));
  withdrawButton.textContent = withdrawable > 0n ? `Withdraw ${money(withdrawable)}` : "Withdraw";
  if (state.messages.withdraw) renderStatus(byId("withdraw-status"), "withdraw");
  else if (!state.session) setStatus(byId("withdraw-status"), "Connect and sign in to see your earnings.");
  else if (earnings && BigInt(earnings.accepted) > 0n)
    setStatus(byId("withdraw-status"), `${money(earnings.accepted)} is waiting for the next settlement batch.`, "pending");
  else setStatus(byId("withdraw-status"), "");

  renderInto(byId("sales"), JSON.stringify([state.sales, state.session !== null]), () => {
    if (!state.session) return [h("p", { class: "empty" }, "Sign in to see your sales.")];
    if (!state.sales?.length) return [h("p", { class: "empty" }, "No sales yet.")];
    return [
      table("Your sales", ["Article", "Reader", "Price", "Status", "Date"], receiptRows(state.sales, "payer"), totalRow(state.sales)),
      h("div", { class: "actions" }, button("Download CSV", () => actions.downloadReceipts("sales"), { focus: "sales-csv" })),
    ];
  });
  renderInto(byId("earnings-chart"), JSON.stringify([state.sales?.map((s) => [s.id, s.createdAt]), state.session !== null]), () => {
    if (!state.session || !state.sales?.length) return [h("p", { class: "empty" }, "Your earnings over time appear here after your first sale.")];
    return [earningsChart(state.sales, state.token)];
  });

  const due = earnings ? BigInt(earnings.accepted) : 0n;
  for (const [id, name] of [["claim-button", "claim"], ["export-button", "export"]]) {
    const element = byId(id);
    element.disabled = due === 0n || !connected() || !state.session || state.busy.has(name);
    element.setAttribute("aria-busy", String(state.busy.has(name)));
  }
  renderStatus(byId("claim-status"), "claim");

  const profileButton = byId("profile-button");
  profileButton.disabled = !state.session || state.busy.has("profile");
  profileButton.setAttribute("aria-busy", String(state.busy.has("profile")));
  const nameInput = byId("profile-name");
  const savedName = state.profile?.displayName ?? "";
  if (state.profile && nameInput.dataset.saved !== savedName) {
    nameInput.dataset.saved = savedName; // the saved name, as the server tidied it
    nameInput.value = savedName;
  }
  if (state.messages.profile || state.session) renderStatus(byId("profile-status"), "profile");
  else setStatus(byId("profile-status"), "Sign in to choose the name readers see.");

  const listingButton = byId("listing-button");
  listingButton.disabled = !state.session || state.busy.has("listing");
  listingButton.setAttribute("aria-busy", String(state.busy.has("listing")));
  renderStatus(byId("listing-status"), "listing");

  const mine = state.resources.filter((resource) => sameAddress(resource.payee, state.address));
  renderInto(byId("listings"), JSON.stringify([mine, state.address, state.session !== null]), () => {
    if (!state.address) return [h("li", { class: "empty" }, "Connect to see the articles you sell.")];
    if (!mine.length) return [h("li", { class: "empty" }, "You have no articles for sale yet.")];
    return mine.map((resource) =>
      h(
        "li",
        {},
        h("span", {}, resource.title),
        h(
          "span",
          { class: "listing-end" },
          h("span", { class: "price" }, money(resource.price)),
          state.session ? button("Edit", () => editListing(resource), { focus: `edit:${resource.id}` }) : null,
        ),
      ),
    );
  });
}

/** Fills the listing form with `resource`, to change its title, description or price. */
function editListing(resource) {
  byId("listing-id").value = resource.id;
  byId("listing-title").value = resource.title;
  byId("listing-description").value = resource.description;
  byId("listing-price").value = formatAmount(resource.price, state.token.decimals);
  byId("listing-title").focus();
}

function renderHeader() {
  const chip = byId("wallet-chip");
  chip.dataset.state = state.session ? "signed-in" : connected() ? "connected" : "idle";
  byId("wallet-chip-text").textContent = state.session
    ? `Signed in · ${shortAddress(state.address)}`
    : connected()
      ? `Connected · ${shortAddress(state.address)}`
      : "Not connected";
  const liveState = byId("live-state");
  liveState.dataset.state = state.live;
  liveState.textContent = {
    idle: "Live updates start when you connect.",
    live: "Live updates on.",
    polling: "Live updates interrupted: polling every 3 s.",
    connecting: "Connecting live updates…",
  }[state.live];
  const error = byId("global-error");
  const message = state.error ?? state.loadError;
  error.hidden = !message;
  error.textContent = message ?? "";
}

/** Renders everything from `state`. */
export function render() {
  renderHeader();
  for (const slot of document.querySelectorAll('[data-slot="connect"]')) renderConnect(slot);
  if (!state.token) return;
  renderReader();
  renderCreator();
}

/** Wires the tabs and forms, and renders after every change from now on. */
export function mount() {
  byId("boot-error").hidden = true;
  setUpTabs();
  byId("deposit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    actions.deposit(byId("deposit-amount").value);
  });
  byId("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    actions.authoriseSessionKey(byId("key-cap").value);
  });
  byId("hub-withdraw-form").addEventListener("submit", (event) => {
    event.preventDefault();
    actions.requestWithdrawal(byId("hub-withdraw-amount").value);
  });
  byId("withdraw-button").addEventListener("click", actions.withdraw);
  byId("claim-button").addEventListener("click", actions.claimOwnVouchers);
  byId("export-button").addEventListener("click", actions.exportVouchers);
  byId("profile-form").addEventListener("submit", (event) => {
    event.preventDefault();
    actions.saveDisplayName(byId("profile-name").value);
  });
  byId("listing-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const saved = await actions.saveListing({
      id: byId("listing-id").value,
      title: byId("listing-title").value,
      description: byId("listing-description").value,
      priceText: byId("listing-price").value,
    });
    if (!saved) return;
    form.reset(); // ready for the next one; the listing shows above
    byId("listing-id").value = ""; // a hidden input keeps its value through reset()
  });
  whenChanged(render);
  render();
}

function setUpTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab, { focus = false, remember = true } = {}) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      byId(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    if (remember) history.replaceState(null, "", `#${tab.id.replace("tab-", "")}`);
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      select(tabs[(next + tabs.length) % tabs.length], { focus: true });
    });
  });
  select(byId(`tab-${location.hash.slice(1)}`) ?? tabs[0], { remember: false });
}
