// Small text formats shared by the views (the same wording as the CLI's renderer).

function count(value) {
  return Number.isInteger(value) ? value.toLocaleString("en-US") : "?";
}

export function usageText(data) {
  const total = data && typeof data.total === "object" && data.total ? data.total : {};
  const parts = [`input ${count(total.inputTokens)}`];
  if (total.cachedInputTokens) parts.push(`cached ${count(total.cachedInputTokens)}`);
  parts.push(`output ${count(total.outputTokens)}`);
  if (total.reasoningOutputTokens) parts.push(`reasoning ${count(total.reasoningOutputTokens)}`);
  let text = `usage: ${count(total.totalTokens)} tokens (${parts.join(", ")})`;
  if (Number.isInteger(data.context_window)) text += `, context window ${count(data.context_window)}`;
  return text;
}

export function errorText(error) {
  if (!error) return "";
  if (typeof error === "string") return error;
  if (typeof error === "object" && error.message) return String(error.message);
  return JSON.stringify(error);
}

export function shortId(id) {
  return typeof id === "string" && id.length > 12 ? `${id.slice(0, 12)}…` : String(id ?? "");
}
