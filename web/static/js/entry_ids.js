// Stream entry ids ("<ms>-<seq>") compared as numbers.

function entryKey(id) {
  const match = /^(\d+)-(\d+)$/.exec(id || "");
  return match ? [BigInt(match[1]), BigInt(match[2])] : null;
}

// True when id `a` comes after id `b` (false when either is not an entry id).
export function isAfter(a, b) {
  const x = entryKey(a);
  const y = entryKey(b);
  if (!x || !y) return false;
  return x[0] > y[0] || (x[0] === y[0] && x[1] > y[1]);
}
