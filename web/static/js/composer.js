// The prompt box of one swarm.  Targets come from the matrix selection or are typed as ranges
// ("all", "0-15,32"); quick picks choose all, all idle, all whose command failed, or the nodes the
// filter shows.  Ctrl+Enter sends.  Text typed while a send is in flight is never erased.

import { el, onSend, setText } from "./dom.js";
import { formatTargets, parseTargets, TargetError } from "./targets.js";

const PICKS = [
  ["all", "All"],
  ["idle", "All idle"],
  ["failed", "All failed"],
  ["shown", "Shown"],
  ["none", "None"],
];

export class Composer {
  // actions: { send(nodes, content), pick(kind) → nodeIds | "all", typed(nodeIds), nodeCount() }
  constructor(swarmLabel, actions) {
    this.actions = actions;
    this.content = el("textarea", {
      className: "inject-content",
      attrs: { rows: 3, "aria-label": `prompt for swarm ${swarmLabel}`, placeholder: "prompt — Ctrl+Enter sends (mock runtime: a line '$ cmd' runs cmd, '$? cmd' asks approval first)" },
    });
    this.targetInput = el("input", {
      className: "inject-targets",
      attrs: { type: "text", value: "all", spellcheck: "false", "aria-label": `target nodes of swarm ${swarmLabel} (all, or ranges like 0-15,32)` },
    });
    this.summary = el("span", { className: "target-summary muted", attrs: { "aria-live": "polite" } });
    const picks = PICKS.map(([kind, label]) => {
      const button = el("button", { className: `pick pick-${kind}`, text: label, attrs: { type: "button", "aria-label": `target ${label.toLowerCase()} nodes of swarm ${swarmLabel}` } });
      button.addEventListener("click", () => this.pick(kind));
      return button;
    });
    this.submit = el("button", { className: "inject-submit", text: "Send", attrs: { type: "submit", "aria-label": `send the prompt to swarm ${swarmLabel}` } });
    this.result = el("span", { className: "inject-result muted", attrs: { role: "status" } });
    this.root = el("form", { className: "composer", attrs: { "aria-label": `prompt swarm ${swarmLabel}` } }, [
      this.content,
      el("div", { className: "composer-row" }, [
        el("label", { className: "target-label" }, [document.createTextNode("to "), this.targetInput]),
        ...picks,
        this.summary,
        this.submit,
        this.result,
      ]),
    ]);
    onSend(this.root, this.content, () => this.deliver());
    this.targetInput.addEventListener("input", () => this.typed());
    this.describe();
  }

  pick(kind) {
    const nodes = this.actions.pick(kind);
    this.setTargets(nodes);
    if (nodes !== "all") this.actions.typed(nodes);
  }

  // From the matrix: the selected nodes (an empty selection means none).
  setTargets(nodes) {
    this.targetInput.value = nodes === "all" ? "all" : formatTargets(nodes);
    this.describe();
  }

  typed() {
    this.describe();
    const nodes = this.targets();
    if (Array.isArray(nodes)) this.actions.typed(nodes);
  }

  // "all", a list of indexes, or a TargetError.
  targets() {
    const text = this.targetInput.value.trim();
    if (text.toLowerCase() === "all") return "all";
    try {
      return parseTargets(text, this.actions.nodeCount());
    } catch (error) {
      if (error instanceof TargetError) return error;
      throw error;
    }
  }

  describe() {
    const nodes = this.targets();
    this.targetInput.setCustomValidity(nodes instanceof TargetError ? nodes.message : "");
    if (nodes instanceof TargetError) setText(this.summary, nodes.message);
    else if (nodes === "all") setText(this.summary, `all ${this.actions.nodeCount()} nodes`);
    else setText(this.summary, nodes.length === 1 ? "1 node" : `${nodes.length} nodes`);
  }

  setEnabled(enabled) {
    this.submit.disabled = !enabled;
  }

  async deliver() {
    this.describe();
    const content = this.content.value;
    const nodes = this.targets();
    if (nodes instanceof TargetError) {
      setText(this.result, `not sent: ${nodes.message}`);
      return;
    }
    if (Array.isArray(nodes) && nodes.length === 0) {
      setText(this.result, "not sent: pick at least one node");
      return;
    }
    if (!content.trim()) {
      setText(this.result, "not sent: the prompt is empty");
      return;
    }
    if (this.submit.disabled) return;
    this.submit.disabled = true;
    setText(this.result, "sending…");
    try {
      const answer = await this.actions.send(nodes, content);
      if (this.content.value === content) this.content.value = "";
      const sent = (answer && answer.injections && answer.injections.length) || 0;
      setText(this.result, `sent to ${sent} node${sent === 1 ? "" : "s"}`);
    } catch (error) {
      setText(this.result, `not sent: ${error.message}`);
    } finally {
      this.submit.disabled = false;
    }
  }
}
