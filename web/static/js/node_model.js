// One node as data: its status, its turns (newest last, bounded), and what the matrix shows about it
// (state colour, last exit code, tokens, approvals waiting).

import { TurnModel } from "./turn_model.js";

const MAX_TURNS = 50; // older turns leave the page (the durable transcript keeps them)

export class NodeModel {
  constructor(nodeId) {
    this.nodeId = nodeId;
    this.status = "starting";
    this.heartbeat = null;
    this.turns = new Map();
    this.lastExit = null;
    this.tokens = null;
    this.contextWindow = null;
    this.model = null;
    this.cost = null; // the thread's estimated cost so far, in USD (cumulative: the latest wins)
    this.lastError = "";
    this.version = 0;
    this.waitingAt = -1;
    this.waitingCount = 0;
  }

  // What the tile's colour says: waiting on approval wins, then the node's own status.
  get state() {
    if (this.waiting > 0) return "approval";
    if (this.status === "exited" && this.lastError) return "failed";
    return this.status || "starting";
  }

  // Approvals still open (counted again only after the node changed: the matrix asks every frame).
  get waiting() {
    if (this.waitingAt !== this.version) {
      let count = 0;
      for (const turn of this.turns.values()) {
        for (const item of turn.items) if (item.kind === "approval" && !item.final) count += 1;
      }
      this.waitingCount = count;
      this.waitingAt = this.version;
    }
    return this.waitingCount;
  }

  get commandFailed() {
    return Number.isInteger(this.lastExit) && this.lastExit !== 0;
  }

  get latest() {
    let last = null;
    for (const turn of this.turns.values()) last = turn;
    return last;
  }

  // The turn running now (a queued or steered injection after it does not hide it).
  get running() {
    let found = null;
    for (const turn of this.turns.values()) if (turn.running) found = turn;
    return found;
  }

  setStatus(node) {
    if (node.status && node.status !== this.status) {
      this.status = node.status;
      this.version += 1;
    }
    this.heartbeat = node.last_heartbeat_at || this.heartbeat;
  }

  turn(injectionId) {
    const key = injectionId || "";
    let turn = this.turns.get(key);
    if (!turn && !injectionId && this.latest) return this.latest;
    if (!turn) {
      turn = new TurnModel(injectionId);
      this.turns.set(key, turn);
      while (this.turns.size > MAX_TURNS) this.turns.delete(this.turns.keys().next().value);
    }
    return turn;
  }

  // An event that names this node.
  apply(name, data, timestamp) {
    if (name === "thread_status") return;
    if (name === "agent_error") this.lastError = String(data.message ?? "");
    if (name.startsWith("inject_")) {
      this.injection(name, data);
    } else {
      const turn = this.turn(data.injection_id);
      turn.apply(name, data, timestamp);
    }
    if (name === "command_completed" && Number.isInteger(data.exit_code)) this.lastExit = data.exit_code;
    if (name === "usage") {
      if (data.total && Number.isInteger(data.total.totalTokens)) this.tokens = data.total.totalTokens;
      this.usageFacts(data);
    }
    this.version += 1;
  }

  // The router accepted the injection, delivered it to the node's inbox, the node holds it behind a
  // running turn (queued) or added it to that turn (steered), or delivery failed.  Delivery and the
  // node's own word can arrive in either order: "delivered" never overwrites what the node said.
  injection(name, data) {
    const turn = this.turn(data.injection_id);
    if (name === "inject_failed") turn.setState("not delivered", String(data.reason ?? ""));
    else if (name === "inject_queued") turn.setState("queued", Number.isInteger(data.position) ? `position ${data.position}` : "");
    else if (name === "inject_steered") turn.setState("steered", "added to the running turn");
    else if (name === "inject_ack" && !turn.state) turn.setState("accepted");
    else if (name === "inject_delivered" && (!turn.state || turn.state === "accepted")) turn.setState("delivered");
  }

  usageFacts(data) {
    if (Number.isInteger(data.context_window)) this.contextWindow = data.context_window;
    if (typeof data.model === "string" && data.model) this.model = data.model;
    if (typeof data.cost_usd === "number") this.cost = data.cost_usd;
  }

  // The mirror's live view of this node (GET /v1/swarms/{id}/live).
  loadLive(view) {
    if (view.turn) this.turn(view.turn.injection_id).load(view.turn, { live: true });
    if (Number.isInteger(view.last_exit_code)) this.lastExit = view.last_exit_code;
    if (Number.isInteger(view.tokens)) this.tokens = view.tokens;
    this.usageFacts(view);
    for (const approval of view.approvals || []) this.turn(approval.injection_id).approval(approval);
    this.version += 1;
  }

  // The node's durable transcript, oldest first.  A turn still running keeps what the stream and the
  // live view gave it (they hold its text so far); every other turn is taken as stored.  Turns the
  // transcript does not know yet (just injected) stay, after the stored ones.
  loadDurable(records) {
    const ordered = new Map();
    for (const record of records) {
      const key = record.injection_id || "";
      const turn = this.turns.get(key) || new TurnModel(record.injection_id);
      if (record.completed_at || !turn.items.length) turn.load(record);
      else turn.setPrompt(record.prompt);
      ordered.set(key, turn);
    }
    for (const [key, turn] of this.turns) if (!ordered.has(key)) ordered.set(key, turn);
    this.turns = ordered;
    this.version += 1;
  }
}
