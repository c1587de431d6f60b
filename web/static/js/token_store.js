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

// The login URL `codeswarm up` prints carries the token in the fragment (#token=…), which a browser
// never sends to a server: keep it for this tab and drop it from the address bar and the history.
export function takeTokenFromAddress() {
  const match = /^#token=([^&]+)$/.exec(location.hash);
  if (!match) return false;
  saveToken(decodeURIComponent(match[1]));
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  return true;
}
