// Node sets as the user types them: "0-15,32" ↔ a sorted list of node indexes.

export class TargetError extends Error {}

// The indexes named by `text` ("3", "0-15", "0-15, 32"), each below `count`; throws TargetError.
export function parseTargets(text, count) {
  const chosen = new Set();
  for (const part of text.split(",").map((piece) => piece.trim()).filter(Boolean)) {
    const match = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (!match) throw new TargetError(`"${part}" is not a node or a range like 0-15`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) throw new TargetError(`"${part}" runs backwards`);
    if (last >= count) throw new TargetError(`node ${last} does not exist (this swarm has nodes 0-${count - 1})`);
    for (let node = first; node <= last; node += 1) chosen.add(node);
  }
  return [...chosen].sort((a, b) => a - b);
}

// The shortest range text for a set of indexes: [0,1,2,3,7] → "0-3,7".
export function formatTargets(nodes) {
  const sorted = [...new Set(nodes)].sort((a, b) => a - b);
  const parts = [];
  let start = null;
  let previous = null;
  for (const node of sorted) {
    if (start !== null && node === previous + 1) {
      previous = node;
      continue;
    }
    if (start !== null) parts.push(start === previous ? `${start}` : `${start}-${previous}`);
    start = previous = node;
  }
  if (start !== null) parts.push(start === previous ? `${start}` : `${start}-${previous}`);
  return parts.join(",");
}
