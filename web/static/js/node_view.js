// The focused node: its whole transcript (turns oldest first), its status, tokens and context window,
// and the controls of a running turn (steer, interrupt).  The view follows the live end until the user
// scrolls up, and offers a button back to it.

import { el, onSend, setText } from "./dom.js";
import { count, dollars } from "./format.js";
import { TurnView } from "./turn_view.js";

const FOLLOW_SLACK_PX = 40;

export class NodeView {
  // actions: { steer(nodeId, text), interrupt(nodeId), decide(nodeId, callId, decision), close() }
  constructor(swarmLabel, node, actions) {
    this.node = node;
    this.actions = actions;
    this.where = `node ${node.nodeId} of swarm ${swarmLabel}`;
    this.views = new Map();
    this.follow = true;
    this.title = el("h3", { className: "node-title", text: `node ${node.nodeId}` });
    this.status = el("span", { className: "node-status" });
    this.facts = el("span", { className: "node-facts muted" });
    this.interruptButton = el("button", {
      className: "interrupt",
      text: "Interrupt",
      attrs: { type: "button", "aria-label": `interrupt the running turn of ${this.where}` },
    });
    this.interruptButton.addEventListener("click", () => this.actions.interrupt(node.nodeId));
    const close = el("button", { className: "node-close", text: "Close", attrs: { type: "button", "aria-label": `close ${this.where}` } });
    close.addEventListener("click", () => this.actions.close());
    this.steerText = el("textarea", { className: "steer-content", attrs: { rows: 2, "aria-label": `steer the running turn of ${this.where}`, placeholder: "steer the running turn (Ctrl+Enter)" } });
    this.steerButton = el("button", { className: "steer", text: "Steer", attrs: { type: "submit", "aria-label": `send steer to ${this.where}` } });
    this.steerResult = el("span", { className: "steer-result muted", attrs: { role: "status" } });
    this.steerForm = el("form", { className: "steer-form", attrs: { hidden: true } }, [this.steerText, this.steerButton, this.steerResult]);
    onSend(this.steerForm, this.steerText, () => this.sendSteer());
    this.turnList = el("div", { className: "turns", attrs: { tabindex: 0, "aria-label": `transcript of ${this.where}` } });
    this.turnList.addEventListener("scroll", () => {
      const list = this.turnList;
      this.follow = list.scrollHeight - list.scrollTop - list.clientHeight <= FOLLOW_SLACK_PX;
      this.jump.hidden = this.follow;
    });
    this.jump = el("button", { className: "jump-live", text: "↓ follow the live end", attrs: { type: "button", hidden: true } });
    this.jump.addEventListener("click", () => {
      this.follow = true;
      this.jump.hidden = true;
      this.scrollToEnd();
    });
    this.root = el("section", { className: "node-view", attrs: { "aria-label": this.where }, data: { nodeId: node.nodeId } }, [
      el("header", { className: "node-head" }, [this.title, this.status, this.facts, this.interruptButton, close]),
      this.turnList,
      this.jump,
      this.steerForm,
    ]);
  }

  async sendSteer() {
    const text = this.steerText.value;
    if (!text.trim()) return;
    this.steerButton.disabled = true;
    setText(this.steerResult, "sending…");
    try {
      await this.actions.steer(this.node.nodeId, text);
      if (this.steerText.value === text) this.steerText.value = ""; // never erase what was typed meanwhile
      setText(this.steerResult, "steer sent");
    } catch (error) {
      setText(this.steerResult, `not sent: ${error.message}`);
    } finally {
      this.steerButton.disabled = false;
    }
  }

  update() {
    const node = this.node;
    setText(this.status, node.state === "approval" ? "waiting on approval" : node.state);
    this.status.dataset.status = node.state;
    this.root.dataset.status = node.state;
    const facts = [];
    if (Number.isInteger(node.tokens)) facts.push(`${count(node.tokens)} tokens`);
    if (Number.isInteger(node.contextWindow)) facts.push(`context window ${count(node.contextWindow)}`);
    if (node.model) facts.push(`model ${node.model}`);
    if (typeof node.cost === "number") facts.push(`est. ${dollars(node.cost)}`);
    if (Number.isInteger(node.lastExit)) facts.push(`last exit ${node.lastExit}`);
    if (node.lastError) facts.push(`last error: ${node.lastError}`);
    setText(this.facts, facts.join(" · "));
    const running = node.running;
    this.interruptButton.hidden = !running;
    this.steerForm.hidden = !running;
    let changed = false;
    let previous = null;
    for (const [key, turn] of node.turns) {
      let view = this.views.get(key);
      if (!view || view.turn !== turn) {
        if (view) view.root.remove();
        view = new TurnView(turn, { decide: (callId, decision) => this.actions.decide(node.nodeId, callId, decision), where: this.where });
        this.views.set(key, view);
      }
      const expected = previous ? previous.root.nextSibling : this.turnList.firstChild;
      if (expected !== view.root) {
        this.turnList.insertBefore(view.root, expected);
        changed = true;
      }
      if (view.update()) changed = true;
      previous = view;
    }
    for (const [key, view] of this.views) {
      if (!node.turns.has(key)) {
        view.root.remove();
        this.views.delete(key);
      }
    }
    if (changed && this.follow) this.scrollToEnd();
  }

  scrollToEnd() {
    this.turnList.scrollTop = this.turnList.scrollHeight;
  }
}
