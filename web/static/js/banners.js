// Error and notice banners at the top of the page.  A banner with a key replaces the previous one
// with that key (e.g. one auth banner, not one per failed request).

import { el } from "./dom.js";

export class Banners {
  constructor(container) {
    this.container = container;
    this.keyed = new Map();
  }

  show(text, { kind = "error", key = null } = {}) {
    if (key) this.dismiss(key);
    const close = el("button", { className: "banner-close", text: "×", attrs: { type: "button", "aria-label": "dismiss" } });
    const banner = el("div", { className: `banner banner-${kind}`, attrs: { role: "alert" }, data: { kind } }, [
      el("span", { className: "banner-text", text }),
      close,
    ]);
    if (key) {
      banner.dataset.key = key;
      this.keyed.set(key, banner);
    }
    close.addEventListener("click", () => {
      banner.remove();
      if (key && this.keyed.get(key) === banner) this.keyed.delete(key);
    });
    this.container.append(banner);
    return banner;
  }

  error(text, key = null) {
    return this.show(text, { kind: "error", key });
  }

  dismiss(key) {
    const banner = this.keyed.get(key);
    if (banner) {
      banner.remove();
      this.keyed.delete(key);
    }
  }
}
