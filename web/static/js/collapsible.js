// A block of text that shows only a few lines until the user asks for all of them: the first lines
// (prompts) or the last ones (command output, where the end matters most).

import { el, setText } from "./dom.js";

export class CollapsibleText {
  // keep: "head" | "tail"; lines: how many lines show while collapsed; label: what the text is (for the button)
  constructor({ className, keep = "head", lines = 8, label = "text" }) {
    this.keep = keep;
    this.lines = lines;
    this.label = label;
    this.expanded = false;
    this.text = "";
    this.pre = el("pre", { className });
    this.toggle = el("button", { className: "collapse-toggle link", attrs: { type: "button", hidden: true } });
    this.toggle.addEventListener("click", () => {
      this.expanded = !this.expanded;
      this.draw();
    });
    this.root = el("div", { className: "collapsible" }, [this.pre, this.toggle]);
  }

  set(text) {
    if (text === this.text) return;
    this.text = text;
    this.draw();
  }

  draw() {
    const all = this.text.replace(/\n$/, "").split("\n");
    const long = all.length > this.lines;
    this.toggle.hidden = !long;
    this.root.dataset.collapsed = String(long && !this.expanded);
    if (!long || this.expanded) {
      setText(this.pre, this.text);
      setText(this.toggle, `show fewer lines of the ${this.label}`);
      return;
    }
    const shown = this.keep === "tail" ? all.slice(-this.lines) : all.slice(0, this.lines);
    setText(this.pre, this.keep === "tail" ? `…\n${shown.join("\n")}` : `${shown.join("\n")}\n…`);
    setText(this.toggle, `show all ${all.length} lines of the ${this.label}`);
  }
}
