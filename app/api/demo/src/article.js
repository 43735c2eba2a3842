// Placeholder article bodies. The server sells access, not text: it has no article bodies, so
// the demo makes up a few paragraphs from the resource id, the same each time.

const SUBJECTS = [
  "A small payment", "The reader", "Every creator", "A session key", "The hub", "One voucher",
  "A batch of claims", "The stablecoin", "A cent", "The settlement",
];
const VERBS = [
  "changes", "rewards", "settles", "outlasts", "explains", "carries", "keeps", "reaches", "pays for",
  "makes room for",
];
const OBJECTS = [
  "the habit of reading", "a long afternoon of work", "the quiet paragraph at the end", "trust between strangers",
  "the cost of a second opinion", "the writer's next draft", "an honest headline", "the small print",
  "a library without doors", "the price of attention",
];
const CLAUSES = [
  "without anyone noticing", "one line at a time", "long after the page is closed", "in plain sight",
  "as the batch settles on chain", "for less than a stamp", "before the coffee cools", "with no wallet prompt",
];

/** A deterministic pseudo-random generator seeded by the text `seed` (FNV-1a, then xorshift). */
function generator(seed) {
  let state = 2166136261;
  for (const char of seed) state = Math.imul(state ^ char.codePointAt(0), 16777619) >>> 0;
  return (items) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return items[state % items.length];
  };
}

function sentence(pick) {
  const text = `${pick(SUBJECTS)} ${pick(VERBS)} ${pick(OBJECTS)} ${pick(CLAUSES)}`;
  return `${text}.`;
}

/** Three or four paragraphs of placeholder text for `resourceId`. */
export function articleBody(resourceId) {
  const pick = generator(resourceId);
  const count = 3 + (resourceId.length % 2);
  return Array.from({ length: count }, (_, index) =>
    Array.from({ length: 3 + ((index + resourceId.length) % 3) }, () => sentence(pick)).join(" "),
  );
}
