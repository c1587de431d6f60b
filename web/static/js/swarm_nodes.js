// The nodes of one swarm as data, with the counts and filters the matrix shows.
//
// `liveId` is the stream id the mirror's live view was taken at: execution events up to it are already
// in that view, so they are not applied again.

import { isAfter } from "./entry_ids.js";
import { NodeModel } from "./node_model.js";

export const STATES = ["starting", "idle", "busy", "approval", "stale", "exited", "failed"];
export const FILTERS = {
  busy: { label: "busy", test: (node) => node.state === "busy" },
  failed: { label: "failed command", test: (node) => node.commandFailed },
  approval: { label: "waiting on approval", test: (node) => node.waiting > 0 },
  stale: { label: "stale", test: (node) => node.state === "stale" },
};

export class SwarmNodes {
  constructor(swarmId) {
    this.swarmId = swarmId;
    this.nodes = [];
    this.liveId = null;
    this.dirty = new Set();
  }

  resize(count) {
    while (this.nodes.length < count) this.nodes.push(new NodeModel(this.nodes.length));
  }

  node(nodeId) {
    this.resize(nodeId + 1);
    return this.nodes[nodeId];
  }

  setStatuses(swarm) {
    this.resize(swarm.node_count || 0);
    for (const node of swarm.nodes || []) {
      const model = this.node(node.node_id);
      const before = model.version;
      model.setStatus(node);
      if (model.version !== before) this.dirty.add(node.node_id);
    }
  }

  apply(name, data, timestamp, id) {
    if (!Number.isInteger(data.node_id) || data.node_id < 0) return false;
    if (id && this.liveId && !isAfter(id, this.liveId) && !name.startsWith("inject_")) return false;
    this.node(data.node_id).apply(name, data, timestamp);
    this.dirty.add(data.node_id);
    return true;
  }

  loadLive(answer) {
    this.liveId = answer.last_event_id;
    for (const view of answer.nodes || []) {
      this.node(view.node_id).loadLive(view);
      this.dirty.add(view.node_id);
    }
  }

  takeDirty() {
    const dirty = this.dirty;
    this.dirty = new Set();
    return dirty;
  }

  counts() {
    const counts = Object.fromEntries(STATES.map((state) => [state, 0]));
    let failedCommands = 0;
    for (const node of this.nodes) {
      counts[node.state] = (counts[node.state] || 0) + 1;
      if (node.commandFailed) failedCommands += 1;
    }
    return { ...counts, failedCommands };
  }

  matching(filter) {
    const test = FILTERS[filter] ? FILTERS[filter].test : () => true;
    return this.nodes.filter(test).map((node) => node.nodeId);
  }

  withState(state) {
    return this.nodes.filter((node) => node.state === state).map((node) => node.nodeId);
  }

  totalTokens() {
    return this.nodes.reduce((sum, node) => sum + (node.tokens || 0), 0);
  }

  // The swarm's estimated cost: the sum of its nodes' (each node's thread is cumulative); null when
  // no node reported one.
  totalCost() {
    const priced = this.nodes.filter((node) => typeof node.cost === "number");
    return priced.length ? priced.reduce((sum, node) => sum + node.cost, 0) : null;
  }

  models() {
    return [...new Set(this.nodes.map((node) => node.model).filter(Boolean))];
  }
}
