// The inject box of one swarm: a prompt for all nodes or for the nodes ticked.

import { el } from "./dom.js";

export class InjectForm {
  // send(nodes, content) → Promise; nodes is "all" or a list of node indexes
  constructor(swarmId, send) {
    this.send = send;
    this.count = 0;
    const name = `target-${swarmId}`;
    this.content = el("textarea", {
      className: "inject-content",
      attrs: { rows: 3, required: true, placeholder: "prompt (lines starting with '$ ' run as shell commands with the mock runtime)" },
    });
    this.allNodes = el("input", { className: "target-all", attrs: { type: "radio", name, value: "all", checked: true } });
    this.someNodes = el("input", { className: "target-some", attrs: { type: "radio", name, value: "some" } });
    this.choices = el("span", { className: "node-choices" });
    this.submit = el("button", { className: "inject-submit", text: "Inject", attrs: { type: "submit" } });
    this.result = el("span", { className: "inject-result muted" });
    this.root = el("form", { className: "inject-form" }, [
      this.content,
      el("div", { className: "inject-targets" }, [
        el("label", {}, [this.allNodes, document.createTextNode(" all nodes")]),
        el("label", {}, [this.someNodes, document.createTextNode(" only:")]),
        this.choices,
        this.submit,
        this.result,
      ]),
    ]);
    this.root.addEventListener("submit", (event) => {
      event.preventDefault();
      this.deliver();
    });
  }

  setNodeCount(count) {
    while (this.count < count) {
      const box = el("input", { className: "target-node", attrs: { type: "checkbox", value: this.count } });
      box.addEventListener("change", () => {
        this.someNodes.checked = true;
      });
      this.choices.append(el("label", {}, [box, document.createTextNode(` ${this.count}`)]));
      this.count += 1;
    }
  }

  setEnabled(enabled) {
    this.submit.disabled = !enabled;
  }

  targets() {
    if (this.allNodes.checked) return "all";
    return [...this.choices.querySelectorAll("input:checked")].map((box) => Number(box.value));
  }

  async deliver() {
    const content = this.content.value;
    const nodes = this.targets();
    if (Array.isArray(nodes) && nodes.length === 0) {
      this.result.textContent = "tick at least one node";
      return;
    }
    this.submit.disabled = true;
    this.result.textContent = "sending…";
    try {
      await this.send(nodes, content);
      this.content.value = "";
      this.result.textContent = "sent";
    } catch (error) {
      this.result.textContent = `not sent: ${error.message}`;
    } finally {
      this.submit.disabled = false;
    }
  }
}
