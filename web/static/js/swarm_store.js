// The page's copy of the read model: swarms as /v1/state and the lifecycle events describe them.
// Like the mirror's, it never guesses a state: a swarm comes from a whole-swarm event or the
// snapshot, changes with lifecycle events, and goes with swarm_removed or a hidden status.

const HIDDEN = new Set(["rejected", "removed"]);
const ENDED = new Set(["terminated", "failed"]);

export class SwarmStore {
  // listener: { changed(swarm), removed(swarmId, reason) }
  constructor(listener) {
    this.swarms = new Map();
    this.listener = listener;
  }

  get(swarmId) {
    return this.swarms.get(swarmId);
  }

  load(swarms) {
    const listed = new Set();
    for (const swarm of swarms) {
      if (!swarm || typeof swarm.swarm_id !== "string") continue;
      listed.add(swarm.swarm_id);
      this.put(swarm);
    }
    for (const swarmId of [...this.swarms.keys()]) {
      if (!listed.has(swarmId)) this.remove(swarmId, "no longer listed by the mirror");
    }
  }

  put(swarm) {
    if (HIDDEN.has(swarm.status)) {
      this.remove(swarm.swarm_id, swarm.reason);
      return;
    }
    const copy = { ...swarm, nodes: [...(swarm.nodes || [])] };
    this.swarms.set(swarm.swarm_id, copy);
    this.listener.changed(copy);
  }

  remove(swarmId, reason) {
    if (this.swarms.delete(swarmId)) this.listener.removed(swarmId, reason);
  }

  // A lifecycle event; returns false when it is not one this store keeps.
  apply(name, envelope) {
    const data = envelope.data;
    switch (name) {
      case "swarm_launch_progress":
      case "swarm_launched":
        if (data.swarm && typeof data.swarm.swarm_id === "string") this.put(data.swarm);
        return true;
      case "swarm_status":
      case "swarm_terminated":
        this.status(data, envelope.timestamp);
        return true;
      case "swarm_removed":
        this.remove(data.swarm_id, data.reason);
        return true;
      case "node_status":
        this.node(data);
        return true;
      default:
        return false;
    }
  }

  status(data, timestamp) {
    // The mirror's reconcile corrections carry the router's whole swarm: that is the truth to keep.
    if (data.swarm && data.swarm.swarm_id === data.swarm_id) {
      this.put(data.swarm);
      return;
    }
    const swarm = this.swarms.get(data.swarm_id);
    if (!swarm) return; // unknown swarm: wait for the snapshot or a whole-swarm event
    if (HIDDEN.has(data.status)) {
      this.remove(swarm.swarm_id, data.reason);
      return;
    }
    for (const name of ["status", "health", "reason"]) if (name in data) swarm[name] = data[name];
    if (data.job_id && !swarm.job_id) swarm.job_id = data.job_id;
    if (ENDED.has(data.status) && !swarm.terminated_at) swarm.terminated_at = timestamp;
    this.listener.changed(swarm);
  }

  node(data) {
    const swarm = this.swarms.get(data.swarm_id);
    if (!swarm || !Number.isInteger(data.node_id)) return;
    const node = { node_id: data.node_id, status: data.status, last_heartbeat_at: data.last_heartbeat_at };
    swarm.nodes = swarm.nodes.filter((n) => n.node_id !== data.node_id).concat([node]);
    swarm.nodes.sort((a, b) => a.node_id - b.node_id);
    this.listener.changed(swarm);
  }
}
