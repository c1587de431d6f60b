// Runtime params typed as `key=value` (one per line or comma-separated); numbers and true/false
// become JSON numbers and booleans, e.g. "tokens=64, delay_ms=100".

export function parseParams(text) {
  const params = {};
  for (const part of text.split(/[\n,]/).map((piece) => piece.trim()).filter(Boolean)) {
    const match = /^([A-Za-z_][\w.-]*)\s*=\s*(.*)$/.exec(part);
    if (!match) throw new Error(`runtime param "${part}" is not key=value`);
    const raw = match[2];
    if (/^-?\d+(\.\d+)?$/.test(raw)) params[match[1]] = Number(raw);
    else if (raw === "true" || raw === "false") params[match[1]] = raw === "true";
    else params[match[1]] = raw;
  }
  return params;
}
