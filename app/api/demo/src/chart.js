// A creator's earnings over time as a plain SVG step chart: what its sales add up to, sale by
// sale. No library: a few path commands, two axes and their labels.

import { formatAmount } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 200;
const PAD = { top: 16, right: 16, bottom: 28, left: 84 };

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

/**
 * The running total of `sales` ({createdAt, price}) against time; `token` gives units. Its
 * `aria-label` says the total in words, for those who do not see the chart.
 */
export function earningsChart(sales, token) {
  const ordered = [...sales].sort((a, b) => a.createdAt - b.createdAt);
  let total = 0n;
  const points = ordered.map((sale) => {
    total += BigInt(sale.price);
    return { t: sale.createdAt, total };
  });
  // From a little before the first sale (its step shows) to the last, a minute at least.
  const span = Math.max(points.at(-1).t - points[0].t, 60);
  const first = points[0].t - Math.round(span / 10);
  const last = points[0].t + span;
  const top = total > 0n ? total : 1n;
  const x = (t) => PAD.left + ((t - first) / (last - first)) * (WIDTH - PAD.left - PAD.right);
  // Amounts are bigints: scaled in parts per million, exact enough for pixels.
  const y = (amount) => HEIGHT - PAD.bottom - (Number((amount * 1_000_000n) / top) / 1_000_000) * (HEIGHT - PAD.top - PAD.bottom);

  let line = `M ${x(first)} ${y(0n)}`;
  let previous = 0n;
  for (const point of points) {
    line += ` L ${x(point.t)} ${y(previous)} L ${x(point.t)} ${y(point.total)}`;
    previous = point.total;
  }
  line += ` L ${x(last)} ${y(total)}`;
  const area = `${line} L ${x(last)} ${y(0n)} Z`;
  const money = (amount) => `${formatAmount(amount, token.decimals)} ${token.symbol}`;
  const label = `Earnings over time: ${points.length} ${points.length === 1 ? "sale" : "sales"}, ${money(total)} in all, from ${dayFormat.format(points[0].t * 1000)} to ${dayFormat.format(points.at(-1).t * 1000)}.`;

  return svg(
    "svg",
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label, class: "chart" },
    svg("title", {}, label),
    svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(0n), y2: y(0n), class: "chart-axis" }),
    svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(top), y2: y(top), class: "chart-grid" }),
    svg("path", { d: area, class: "chart-area" }),
    svg("path", { d: line, class: "chart-line" }),
    ...points.map((point) => svg("circle", { cx: x(point.t), cy: y(point.total), r: 3, class: "chart-dot" })),
    svg("text", { x: PAD.left - 8, y: y(top) + 4, "text-anchor": "end", class: "chart-label" }, money(top)),
    svg("text", { x: PAD.left - 8, y: y(0n) + 4, "text-anchor": "end", class: "chart-label" }, money(0n)),
    svg("text", { x: PAD.left, y: HEIGHT - 8, "text-anchor": "start", class: "chart-label" }, dayFormat.format(first * 1000)),
    svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 8, "text-anchor": "end", class: "chart-label" }, dayFormat.format(last * 1000)),
  );
}
