// A command waiting for the user's decision: what it runs, where and why, and one button per decision
// the runtime offers.

import { innerCommand } from "./command_text.js";
import { el, setText } from "./dom.js";

const LABELS = {
  accept: "Accept",
  acceptForSession: "Accept for session",
  decline: "Decline",
  cancel: "Cancel turn",
};

export class ApprovalCard {
  // decide(callId, decision) → Promise; where: "node 3 of swarm sw-…" for accessible names
  constructor(item, { decide, where }) {
    this.item = item;
    this.state = el("span", { className: "approval-state", attrs: { role: "status" } });
    this.buttons = item.decisions.map((decision) => {
      const button = el("button", {
        className: `decision decision-${decision}`,
        text: LABELS[decision] || decision,
        attrs: { type: "button", "aria-label": `${LABELS[decision] || decision}: ${innerCommand(item.command)} on ${where}` },
        data: { decision },
      });
      button.addEventListener("click", () => this.decide(decide, decision));
      return button;
    });
    const details = [item.cwd ? `in ${item.cwd}` : "", item.reason || ""].filter(Boolean).join(" — ");
    this.root = el("div", { className: "approval", attrs: { role: "group", "aria-label": `approval on ${where}` }, data: { callId: item.callId ?? "" } }, [
      el("div", { className: "approval-title", text: "Approval needed" }),
      el("pre", { className: "approval-command", text: `$ ${innerCommand(item.command)}` }),
      details ? el("div", { className: "approval-details muted", text: details }) : null,
      el("div", { className: "approval-actions" }, [...this.buttons, this.state]),
    ]);
    this.update();
  }

  async decide(decide, decision) {
    this.setBusy(true);
    setText(this.state, `sending ${LABELS[decision] || decision}…`);
    try {
      await decide(this.item.callId, decision);
      setText(this.state, `${LABELS[decision] || decision} sent`);
    } catch (error) {
      this.setBusy(false);
      setText(this.state, `not sent: ${error.message}`);
    }
  }

  setBusy(busy) {
    for (const button of this.buttons) button.disabled = busy;
  }

  update(item = this.item) {
    this.item = item;
    if (!item.final) return;
    this.setBusy(true);
    this.root.dataset.resolved = "true";
    setText(this.state, this.item.decision ? `resolved: ${LABELS[this.item.decision] || this.item.decision}` : "resolved");
  }
}
