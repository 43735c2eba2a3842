// Building DOM nodes. Text from the server (titles, messages) only ever goes in as text nodes.

/** h("p", { class: "muted" }, "text", child, ...): an element; `on*` attributes are listeners. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

export function byId(id) {
  return document.getElementById(id);
}

/** Shows `message` in a status line; `tone` is "", "pending", "success" or "error". */
export function setStatus(element, message, tone = "") {
  element.replaceChildren(...(Array.isArray(message) ? message : [message ?? ""]));
  element.dataset.tone = tone;
}

/** A small round mark whose colours derive from an address, to tell creators apart at a glance. */
export function avatar(address) {
  const mark = h("span", { class: "avatar", "aria-hidden": "true" });
  const hue = Number.parseInt(address.slice(2, 8), 16) % 360;
  const hue2 = (hue + 40 + (Number.parseInt(address.slice(8, 10), 16) % 80)) % 360;
  mark.style.setProperty("--hue-a", String(hue));
  mark.style.setProperty("--hue-b", String(hue2));
  return mark;
}

/** A table with a caption, column headings, rows of cells (nodes or text) and an optional footer row. */
export function table(caption, headings, rows, footer = null) {
  // Focusable, so that keyboard users can scroll it sideways on a narrow screen.
  return h(
    "div",
    { class: "table-wrap", role: "region", "aria-label": caption, tabindex: "0" },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headings.map((heading) => h("th", { scope: "col" }, heading)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))),
      footer ? h("tfoot", {}, h("tr", {}, footer.map((cell) => h("td", {}, cell)))) : null,
    ),
  );
}
