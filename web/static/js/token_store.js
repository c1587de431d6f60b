// The API token the user typed in: kept for this tab only (sessionStorage), never in a URL.

const KEY = "codeswarm.api_token";

export function readToken() {
  try {
    return sessionStorage.getItem(KEY) || "";
  } catch {
    return "";
  }
}

export function saveToken(token) {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
}
