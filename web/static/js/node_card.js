// One node of a swarm: its status and its turns, fed by the events that name this node.

import { el, setText } from "./dom.js";
import { TurnView } from "./turn_view.js";

const MAX_TURNS = 50; // older turns leave the page (the durable transcript keeps them)

export class NodeCard {
  // decide(nodeId, callId, decision) → Promise, for approvals
  constructor(nodeId, { decide }) {
    this.nodeId = nodeId;
    this.decide = decide;
    this.turns = new Map();
    this.latest = null;
    this.status = el("span", { className: "node-status", text: "starting" });
    this.turnList = el("div", { className: "turns" });
    this.root = el("section", { className: "node", data: { nodeId } }, [
      el("header", { className: "node-head" }, [el("span", { className: "node-name", text: `node ${nodeId}` }), this.status]),
      this.turnList,
    ]);
  }

  setStatus(node) {
    const status = node.status || "unknown";
    setText(this.status, status);
    this.status.dataset.status = status;
    this.root.dataset.status = status;
    if (node.last_heartbeat_at) this.status.title = `last heartbeat ${node.last_heartbeat_at}`;
  }

  turn(injectionId) {
    const key = injectionId || "";
    let turn = this.turns.get(key);
    if (!turn && !injectionId && this.latest) return this.latest;
    if (!turn) {
      turn = new TurnView(injectionId, { onDecision: (callId, decision) => this.decide(this.nodeId, callId, decision) });
      this.turns.set(key, turn);
      this.turnList.append(turn.root);
      while (this.turns.size > MAX_TURNS) {
        const [oldest, view] = this.turns.entries().next().value;
        view.root.remove();
        this.turns.delete(oldest);
      }
    }
    this.latest = turn;
    return turn;
  }

  setPrompt(injectionId, content) {
    this.turn(injectionId).setPrompt(content);
  }

  // An event that names this node.
  apply(name, data) {
    if (name === "thread_status") return; // node_status says the same, more usefully
    const turn = this.turn(data.injection_id);
    if (turn.settled) return;
    switch (name) {
      case "inject_ack":
        if (!turn.state.textContent) turn.setState("queued");
        break;
      case "inject_delivered":
        if (turn.state.textContent === "queued" || !turn.state.textContent) turn.setState("delivered");
        break;
      case "inject_failed":
        turn.setState(`not delivered: ${data.reason ?? ""}`);
        break;
      case "turn_started":
        turn.setState("running");
        break;
      case "reasoning_delta":
        turn.delta("reasoning", data);
        break;
      case "reasoning":
        turn.completed("reasoning", data);
        break;
      case "assistant_delta":
        turn.delta("assistant", data);
        break;
      case "assistant":
        turn.completed("assistant", data);
        break;
      case "command_started":
        turn.commandStarted(data);
        break;
      case "command_output_delta":
        turn.commandOutput(data);
        break;
      case "command_completed":
        turn.commandCompleted(data);
        break;
      case "filechange_started":
        turn.fileChange("editing", data);
        break;
      case "filechange_completed":
        turn.fileChange("edited", data);
        break;
      case "exec_approval_required":
        turn.approvalRequired(data);
        break;
      case "exec_approval_resolved":
        turn.approvalResolved(data);
        break;
      case "usage":
        turn.usage(data);
        break;
      case "turn_complete":
        turn.complete(data);
        break;
      case "agent_error":
        turn.agentError(data);
        break;
      default:
        break;
    }
  }

  // The node's durable transcript (after a reload).  A turn that had ended is complete as loaded;
  // one still running gets the rest from the stream.
  loadDurable(turns) {
    for (const record of turns) {
      const turn = this.turn(record.injection_id);
      turn.loadDurable(record);
      if (record.completed_at) turn.settled = true;
    }
  }
}
