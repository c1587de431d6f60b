// The API token field.  The token stays in this tab (sessionStorage) and travels only in the
// Authorization header; POST /v1/session opens a session whose id the stream's HttpOnly cookie holds,
// and Forget (log out) ends that session on the mirror before the token is dropped.

import { forgetToken, readToken, saveToken } from "./token_store.js";

export class TokenForm {
  // changed() is called after the token was set or forgotten; closeSession() before it is forgotten;
  // forgotten() when it was, so the page drops everything the token showed
  constructor(form, { changed, closeSession, forgotten }) {
    this.input = form.querySelector("#token-input");
    this.forget = form.querySelector("#token-forget");
    this.changed = changed;
    this.closeSession = closeSession;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = this.input.value.trim();
      if (!token) return;
      saveToken(token);
      this.input.value = "";
      this.show();
      this.changed();
    });
    this.forget.addEventListener("click", async () => {
      await this.closeSession().catch(() => undefined);
      forgetToken();
      forgotten();
      this.show();
      this.changed();
    });
    this.show();
  }

  show() {
    const set = Boolean(readToken());
    this.input.placeholder = set ? "a token is in use (type to replace)" : "the API token (or open the login URL)";
    this.forget.disabled = !set;
  }
}
