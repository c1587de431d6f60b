// Stream entry ids ("<ms>-<seq>") compared as numbers (both parts are far below 2^53).

function entryKey(id) {
  if (typeof id !== "string") return null;
  const dash = id.indexOf("-");
  if (dash < 1) return null;
  const ms = Number(id.slice(0, dash));
  const seq = Number(id.slice(dash + 1));
  return Number.isInteger(ms) && Number.isInteger(seq) ? [ms, seq] : null;
}

// True when id `a` comes after id `b` (false when either is not an entry id).
export function isAfter(a, b) {
  const x = entryKey(a);
  const y = entryKey(b);
  if (!x || !y) return false;
  return x[0] > y[0] || (x[0] === y[0] && x[1] > y[1]);
}
