// One turn of one node as data: prompt, state, timestamps, items in arrival order, usage.
// Views draw it; `version` grows with every change, and each item has its own.

const TEXT_KINDS = { reasoning_delta: "reasoning", reasoning: "reasoning", assistant_delta: "assistant", assistant: "assistant" };

function sameText(streamed, final) {
  return streamed.replace(/\s+/g, "") === final.replace(/\s+/g, "");
}

export class TurnModel {
  constructor(injectionId) {
    this.injectionId = injectionId;
    this.prompt = "";
    this.state = "";
    this.stateDetail = "";
    this.startedAt = null;
    this.completedAt = null;
    this.items = [];
    this.index = new Map();
    this.usage = null;
    this.version = 0;
  }

  get running() {
    return this.state === "running";
  }

  get ended() {
    return Boolean(this.completedAt) || ["completed", "failed", "interrupted", "not delivered", "rejected", "steered"].includes(this.state);
  }

  touch(item) {
    this.version += 1;
    if (item) item.version += 1;
  }

  item(kind, id) {
    const key = `${kind}:${id ?? ""}`;
    let item = this.index.get(key);
    if (!item) {
      item = { key, kind, id, text: "", final: false, version: 0 };
      this.index.set(key, item);
      this.items.push(item);
    }
    return item;
  }

  setPrompt(text) {
    if (typeof text === "string" && text && text !== this.prompt) {
      this.prompt = text;
      this.touch();
    }
  }

  setState(state, detail = "") {
    this.state = state;
    this.stateDetail = detail;
    this.touch();
  }

  // One execution event of this turn.
  apply(name, data, timestamp) {
    if (name in TEXT_KINDS) return this.text(TEXT_KINDS[name], name.endsWith("_delta"), data);
    switch (name) {
      case "turn_started":
        this.startedAt = this.startedAt || timestamp;
        return this.setState("running");
      case "command_started":
      case "command_output_delta":
      case "command_completed":
        return this.command(name, data);
      case "filechange_started":
      case "filechange_completed":
        return this.fileChange(name, data);
      case "exec_approval_required":
        return this.approval(data);
      case "exec_approval_resolved":
        return this.resolved(data);
      case "agent_error":
      case "agent_warning":
        return this.error(name, data);
      case "usage":
        this.usage = { total: data.total, last: data.last, context_window: data.context_window, model: data.model, cost_usd: data.cost_usd };
        return this.touch();
      case "turn_complete":
        return this.complete(data, timestamp);
      default:
        return undefined;
    }
  }

  text(kind, isDelta, data) {
    const item = this.item(kind, data.item_id);
    if (isDelta) {
      if (item.final || typeof data.delta !== "string" || !data.delta) return;
      item.text += data.delta;
    } else {
      if (typeof data.text === "string" && !(item.text && sameText(item.text, data.text))) item.text = data.text;
      item.final = true;
    }
    this.touch(item);
  }

  command(name, data) {
    const item = this.item("command", data.call_id ?? data.item_id);
    for (const field of ["command", "cwd", "exit_code", "status", "duration_ms", "stream"]) {
      if (data[field] !== undefined && data[field] !== null) item[field] = data[field];
    }
    if (name === "command_output_delta") {
      if (item.final || typeof data.delta !== "string") return;
      item.text += data.delta;
    } else if (name === "command_completed") {
      if (typeof data.output === "string" && !(item.text && sameText(item.text, data.output))) item.text = data.output;
      item.final = true;
    }
    this.touch(item);
  }

  fileChange(name, data) {
    const item = this.item("file", data.item_id);
    item.paths = (Array.isArray(data.changes) ? data.changes : []).filter((c) => c && c.path).map((c) => String(c.path));
    item.final = name === "filechange_completed";
    item.status = data.status;
    this.touch(item);
  }

  approval(data) {
    const item = this.item("approval", data.call_id);
    Object.assign(item, {
      callId: data.call_id,
      command: data.command,
      cwd: data.cwd,
      reason: data.reason,
      decisions: Array.isArray(data.available_decisions) && data.available_decisions.length ? data.available_decisions : ["accept", "decline"],
    });
    this.touch(item);
  }

  resolved(data) {
    const item = this.index.get(`approval:${data.call_id ?? ""}`);
    if (!item) return;
    item.final = true;
    item.decision = data.decision;
    this.touch(item);
  }

  error(name, data) {
    const item = this.item(name === "agent_error" ? "error" : "warning", `${this.items.length}`);
    item.text = `${data.message ?? name.replace("_", " ")}${data.will_retry ? " (will retry)" : ""}`;
    item.final = true;
    this.touch(item);
  }

  complete(data, timestamp) {
    this.completedAt = this.completedAt || timestamp;
    for (const item of this.items) {
      item.final = true; // a turn that ended settles streamed text and leaves no approval open
      item.version += 1;
    }
    const error = data.error && typeof data.error === "object" ? data.error.message : data.error;
    this.setState(data.status || "completed", error ? String(error) : "");
  }

  // A turn from the durable transcript (completed items only), or the mirror's live view of the latest
  // turn (text so far).  Either replaces what this model holds: it is at least as new.
  load(record, { live = false } = {}) {
    this.setPrompt(record.prompt);
    this.startedAt = record.started_at || this.startedAt;
    this.completedAt = record.completed_at || this.completedAt;
    this.items = [];
    this.index = new Map();
    if (live) {
      for (const saved of record.items || []) Object.assign(this.item(saved.kind, saved.item_id), saved, { version: 1 });
    } else {
      if (record.reasoning) this.text("reasoning", false, { item_id: "durable", text: record.reasoning });
      for (const command of record.commands || []) this.command("command_completed", command);
      for (const approval of record.approvals || []) {
        this.approval(approval);
        if (approval.status && approval.status !== "pending") this.resolved(approval);
      }
      if (record.assistant) this.text("assistant", false, { item_id: "durable", text: record.assistant });
    }
    if (record.usage) this.usage = record.usage;
    this.setState(record.status || this.state);
  }
}
