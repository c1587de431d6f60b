// Small text formats shared by the views.

export function count(value) {
  return Number.isInteger(value) ? value.toLocaleString("en-US") : "?";
}

// 1234 → "1.2k", for the matrix tiles.
export function shortCount(value) {
  if (!Number.isInteger(value)) return "";
  if (value < 1000) return String(value);
  if (value < 1_000_000) return `${(value / 1000).toFixed(value < 10_000 ? 1 : 0)}k`;
  return `${(value / 1_000_000).toFixed(1)}M`;
}

export function dollars(value) {
  return `$${value < 0.01 ? value.toFixed(4) : value.toFixed(2)}`;
}

function breakdown(tokens) {
  const parts = [`input ${count(tokens.inputTokens)}`];
  if (tokens.cachedInputTokens) parts.push(`cached ${count(tokens.cachedInputTokens)}`);
  parts.push(`output ${count(tokens.outputTokens)}`);
  if (tokens.reasoningOutputTokens) parts.push(`reasoning ${count(tokens.reasoningOutputTokens)}`);
  return `${count(tokens.totalTokens)} tokens (${parts.join(", ")})`;
}

// A turn's usage: `last` is this turn's, `total` the thread's so far (cumulative, as the runtime says).
export function usageText(usage) {
  const pieces = [];
  if (usage && usage.last && typeof usage.last === "object") pieces.push(`this turn ${breakdown(usage.last)}`);
  if (usage && usage.total && typeof usage.total === "object") pieces.push(`thread total ${breakdown(usage.total)}`);
  if (usage && Number.isInteger(usage.context_window)) pieces.push(`context window ${count(usage.context_window)}`);
  if (usage && usage.model) pieces.push(`model ${usage.model}`);
  if (usage && typeof usage.cost_usd === "number") pieces.push(`est. ${dollars(usage.cost_usd)} so far`);
  return `usage: ${pieces.join(" · ") || "none reported"}`;
}
