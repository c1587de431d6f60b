// One swarm: its header (status, health, provider, job, reason), inject box, terminate button and the
// grid of its nodes.

import { el, setText } from "./dom.js";
import { InjectForm } from "./inject_form.js";
import { NodeCard } from "./node_card.js";

const NOT_INJECTABLE = new Set(["launching", "terminating", "terminated", "failed"]);
const NOT_TERMINABLE = new Set(["terminating", "terminated", "failed"]);

export class SwarmPanel {
  constructor(swarm, { client, banners }) {
    this.swarmId = swarm.swarm_id;
    this.client = client;
    this.banners = banners;
    this.nodes = new Map();
    this.title = el("h2", { className: "swarm-title" });
    this.status = el("span", { className: "swarm-status" });
    this.health = el("span", { className: "swarm-health" });
    this.details = el("span", { className: "swarm-details muted" });
    this.reason = el("div", { className: "swarm-reason" });
    this.terminateButton = el("button", { className: "terminate", text: "Terminate", attrs: { type: "button" } });
    this.terminateButton.addEventListener("click", () => this.terminate());
    this.injectForm = new InjectForm(this.swarmId, (nodes, content) => this.inject(nodes, content));
    this.grid = el("div", { className: "node-grid" });
    this.root = el("section", { className: "swarm", attrs: { id: `swarm-${this.swarmId}` }, data: { swarmId: this.swarmId } }, [
      el("header", { className: "swarm-head" }, [this.title, this.status, this.health, this.details, this.terminateButton]),
      this.reason,
      this.injectForm.root,
      this.grid,
    ]);
    this.update(swarm);
  }

  update(swarm) {
    setText(this.title, swarm.alias ? `${swarm.alias} (${swarm.swarm_id})` : swarm.swarm_id);
    setText(this.status, swarm.status);
    this.status.dataset.status = swarm.status;
    this.root.dataset.status = swarm.status;
    setText(this.health, `health ${swarm.health}`);
    this.health.dataset.health = swarm.health;
    const job = swarm.job_id ? `, job ${swarm.job_id}` : "";
    setText(this.details, `${swarm.provider}/${swarm.runtime}, ${swarm.node_count} nodes${job}`);
    setText(this.reason, swarm.reason || "");
    this.reason.hidden = !swarm.reason;
    for (let nodeId = 0; nodeId < swarm.node_count; nodeId += 1) this.node(nodeId);
    for (const node of swarm.nodes || []) this.node(node.node_id).setStatus(node);
    this.injectForm.setNodeCount(swarm.node_count);
    this.injectForm.setEnabled(!NOT_INJECTABLE.has(swarm.status));
    this.terminateButton.disabled = NOT_TERMINABLE.has(swarm.status);
  }

  node(nodeId) {
    let card = this.nodes.get(nodeId);
    if (!card) {
      card = new NodeCard(nodeId, { decide: (node, callId, decision) => this.client.decide(this.swarmId, callId, node, decision) });
      this.nodes.set(nodeId, card);
      const after = [...this.nodes.keys()].filter((id) => id > nodeId).sort((a, b) => a - b)[0];
      if (after === undefined) this.grid.append(card.root);
      else this.grid.insertBefore(card.root, this.nodes.get(after).root);
    }
    return card;
  }

  // An event of this swarm that names a node.
  apply(name, data) {
    if (Number.isInteger(data.node_id) && data.node_id >= 0) this.node(data.node_id).apply(name, data);
  }

  async loadTranscripts(nodeCount) {
    const loads = [];
    for (let nodeId = 0; nodeId < nodeCount; nodeId += 1) {
      loads.push(
        this.client.turns(this.swarmId, nodeId).then(
          (answer) => this.node(nodeId).loadDurable((answer && answer.turns) || []),
          () => undefined, // the stream still shows what happens from now on
        ),
      );
    }
    await Promise.all(loads);
  }

  async inject(nodes, content) {
    try {
      const answer = await this.client.inject(this.swarmId, nodes, content);
      for (const ref of (answer && answer.injections) || []) this.node(ref.node_id).setPrompt(ref.injection_id, content);
    } catch (error) {
      this.banners.error(`inject into ${this.swarmId} refused: ${error.message}`);
      throw error;
    }
  }

  async terminate() {
    this.terminateButton.disabled = true;
    try {
      await this.client.terminate(this.swarmId);
    } catch (error) {
      this.terminateButton.disabled = false;
      this.banners.error(`terminate ${this.swarmId} refused: ${error.message}`);
    }
  }
}
