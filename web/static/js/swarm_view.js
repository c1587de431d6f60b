// The selected swarm: header (status, health, where it runs, totals, approvals waiting, archive,
// terminate), counts by state with filters, the node matrix, the prompt box, and the focused node.

import { age } from "./clock.js";
import { Composer } from "./composer.js";
import { el, setText } from "./dom.js";
import { count, dollars } from "./format.js";
import { Matrix } from "./matrix.js";
import { NodeView } from "./node_view.js";
import { FILTERS, STATES } from "./swarm_nodes.js";

const NOT_INJECTABLE = new Set(["launching", "pending", "terminating", "terminated", "failed"]);
const NOT_TERMINABLE = new Set(["terminating", "terminated", "failed"]);
const STATE_LABELS = { approval: "waiting" };

export function swarmLabel(swarm) {
  return swarm.alias ? `${swarm.alias} (${swarm.swarm_id})` : swarm.swarm_id;
}

export class SwarmView {
  // actions: { inject(nodes, content, mode), interrupt(nodes), decide(nodeId, callId, decision),
  //            terminate(), download(), focus(nodeId | null), loadNode(nodeId) }
  constructor(swarm, nodes, actions) {
    this.swarmId = swarm.swarm_id;
    this.label = swarmLabel(swarm);
    this.nodes = nodes;
    this.actions = actions;
    this.swarm = swarm;
    this.nodeView = null;
    this.title = el("h2", { className: "swarm-title", text: this.label });
    this.status = el("span", { className: "swarm-status" });
    this.health = el("span", { className: "swarm-health" });
    this.details = el("span", { className: "swarm-details muted" });
    this.reason = el("div", { className: "swarm-reason", attrs: { hidden: true } });
    this.totals = el("span", { className: "swarm-totals muted" });
    this.waiting = el("button", { className: "waiting-notice", attrs: { type: "button", hidden: true } });
    this.waiting.addEventListener("click", () => this.setFilter("approval"));
    this.archive = el("button", { className: "archive-download", text: "Download workspaces", attrs: { type: "button", hidden: true, "aria-label": `download the workspaces of swarm ${this.label}` } });
    this.archive.addEventListener("click", () => actions.download());
    this.terminateButton = el("button", { className: "terminate danger", text: "Terminate…", attrs: { type: "button", "aria-label": `terminate swarm ${this.label}` } });
    this.terminateButton.addEventListener("click", () => actions.terminate());
    this.countChips = new Map();
    const counts = el("div", { className: "state-counts", attrs: { "aria-label": `node states of swarm ${this.label}` } });
    for (const state of STATES) {
      const chip = el("span", { className: "state-chip", data: { state } });
      this.countChips.set(state, chip);
      counts.append(chip);
    }
    this.filterButtons = new Map();
    const filters = el("div", { className: "filters", attrs: { role: "group", "aria-label": `filter the nodes of swarm ${this.label}` } });
    for (const [key, filter] of [["", { label: "all nodes" }], ...Object.entries(FILTERS)]) {
      const button = el("button", { className: "filter", text: filter.label, attrs: { type: "button", "aria-pressed": String(key === ""), "aria-label": `show ${filter.label} of swarm ${this.label}` }, data: { filter: key } });
      button.addEventListener("click", () => this.setFilter(key || null));
      this.filterButtons.set(key, button);
      filters.append(button);
    }
    this.matrix = new Matrix(this.label, nodes, {
      open: (nodeId) => this.focusNode(nodeId),
      selected: (nodeIds) => this.composer.setTargets(nodeIds),
    });
    this.composer = new Composer(this.label, {
      send: (targets, content) => actions.inject(targets, content, "queue"),
      pick: (kind) => this.pick(kind),
      typed: (nodeIds) => this.matrix.select(nodeIds, { notify: false }),
      nodeCount: () => this.swarm.node_count,
    });
    this.nodeSlot = el("div", { className: "node-slot" });
    this.root = el("section", { className: "swarm", attrs: { id: `swarm-${this.swarmId}`, "aria-label": `swarm ${this.label}` }, data: { swarmId: this.swarmId } }, [
      el("header", { className: "swarm-head" }, [this.title, this.status, this.health, this.details, this.totals, this.waiting, this.archive, this.terminateButton]),
      this.reason,
      el("div", { className: "swarm-bar" }, [counts, filters]),
      this.matrix.root,
      this.composer.root,
      this.nodeSlot,
    ]);
    this.update(swarm);
  }

  update(swarm) {
    this.swarm = swarm;
    setText(this.status, swarm.status);
    this.status.dataset.status = swarm.status;
    this.root.dataset.status = swarm.status;
    setText(this.health, swarm.health === "ok" ? "" : `health ${swarm.health}`);
    this.health.dataset.health = swarm.health;
    const job = swarm.job_id ? ` · job ${swarm.job_id}` : "";
    setText(this.details, `${swarm.provider}/${swarm.runtime} · ${swarm.node_count} nodes${job} · ${age(swarm.created_at)} old`);
    setText(this.reason, swarm.reason || "");
    this.reason.hidden = !swarm.reason;
    this.nodes.setStatuses(swarm);
    this.matrix.ensure(swarm.node_count);
    this.composer.setEnabled(!NOT_INJECTABLE.has(swarm.status));
    this.terminateButton.disabled = NOT_TERMINABLE.has(swarm.status);
  }

  setArchive(ready) {
    this.archive.hidden = !ready;
  }

  setFilter(filter) {
    this.matrix.setFilter(filter);
    for (const [key, button] of this.filterButtons) button.setAttribute("aria-pressed", String(key === (filter || "")));
  }

  pick(kind) {
    if (kind === "all") return "all";
    if (kind === "idle") return this.nodes.withState("idle");
    if (kind === "failed") return this.nodes.matching("failed");
    if (kind === "shown") return this.matrix.visible();
    return [];
  }

  focusNode(nodeId) {
    if (this.nodeView && this.nodeView.node.nodeId === nodeId) return;
    this.closeNode(false);
    const node = this.nodes.node(nodeId);
    this.nodeView = new NodeView(this.label, node, {
      steer: (id, text) => this.actions.inject([id], text, "steer"),
      interrupt: (id) => this.actions.interrupt([id]),
      decide: (id, callId, decision) => this.actions.decide(id, callId, decision),
      close: () => this.closeNode(true),
    });
    this.nodeSlot.replaceChildren(this.nodeView.root);
    this.nodeView.update();
    this.actions.focus(nodeId);
  }

  closeNode(notify) {
    if (!this.nodeView) return;
    this.nodeView.root.remove();
    this.nodeView = null;
    if (notify) this.actions.focus(null);
  }

  // Redraw what changed: the tiles of the dirty nodes, the counts, the focused node.
  render(dirty, counts) {
    for (const nodeId of dirty) this.matrix.update(nodeId);
    if (this.nodeView && dirty.has(this.nodeView.node.nodeId)) this.nodeView.update();
    for (const [state, chip] of this.countChips) {
      setText(chip, `${STATE_LABELS[state] || state} ${counts[state] || 0}`);
      chip.hidden = !counts[state];
    }
    const waiting = counts.approval || 0;
    this.waiting.hidden = waiting === 0;
    setText(this.waiting, `${waiting} node${waiting === 1 ? "" : "s"} waiting on approval`);
    const tokens = this.nodes.totalTokens();
    const cost = this.nodes.totalCost();
    const models = this.nodes.models();
    const totals = [tokens ? `${count(tokens)} tokens in total` : "", cost === null ? "" : `est. ${dollars(cost)}`, models.join(", ")];
    setText(this.totals, totals.filter(Boolean).join(" · "));
  }
}
