// One turn of one node: its prompt, then its items in the order they arrive (reasoning, commands
// with their output and exit code, answer text, file changes, approvals, errors), then usage and
// how it ended.  Streamed text grows in place; the completed item settles it.

import { el, setText } from "./dom.js";
import { errorText, usageText } from "./format.js";

function sameText(streamed, final) {
  return streamed.replace(/\s+/g, "") === final.replace(/\s+/g, "");
}

// A block of streamed text (reasoning or answer).
class TextItem {
  constructor(root, textNode) {
    this.root = root;
    this.textNode = textNode;
    this.streamed = "";
    this.final = false;
  }

  append(delta) {
    if (this.final) return;
    this.streamed += delta;
    this.textNode.appendData(delta);
    this.root.dataset.streamed = "true";
  }

  settle(text) {
    if (typeof text === "string" && !(this.streamed && sameText(this.streamed, text))) {
      this.textNode.data = text;
    }
    this.final = true;
    this.root.dataset.final = "true";
  }
}

export class TurnView {
  // onDecision(callId, decision) sends an approval decision for this turn's node.
  constructor(injectionId, { onDecision }) {
    this.injectionId = injectionId;
    this.onDecision = onDecision;
    this.items = new Map();
    this.settled = false; // loaded complete from the durable transcript: the stream adds nothing
    this.prompt = el("pre", { className: "turn-prompt", attrs: { hidden: true } });
    this.state = el("span", { className: "turn-state" });
    this.body = el("div", { className: "turn-items" });
    this.usageLine = el("div", { className: "usage", attrs: { hidden: true } });
    this.root = el("article", { className: "turn", data: { injectionId: injectionId || "" } }, [
      el("div", { className: "turn-head" }, [el("span", { className: "turn-label", text: "turn" }), this.state]),
      this.prompt,
      this.body,
      this.usageLine,
    ]);
  }

  setPrompt(text) {
    if (typeof text !== "string" || !text) return;
    setText(this.prompt, text);
    this.prompt.hidden = false;
  }

  setState(text) {
    setText(this.state, text);
    this.root.dataset.state = text.split(":")[0];
  }

  // -- streamed text -----------------------------------------------------------------------------

  textItem(kind, itemId) {
    const key = `${kind}:${itemId ?? ""}`;
    let item = this.items.get(key);
    if (item) return item;
    const textNode = document.createTextNode("");
    let root;
    if (kind === "reasoning") {
      const text = el("pre", { className: "reasoning-text" });
      text.append(textNode);
      root = el("details", { className: "reasoning" }, [el("summary", { text: "reasoning" }), text]);
    } else {
      root = el("div", { className: "answer" });
      root.append(textNode);
    }
    item = new TextItem(root, textNode);
    this.items.set(key, item);
    this.body.append(root);
    return item;
  }

  delta(kind, data) {
    if (typeof data.delta === "string" && data.delta) this.textItem(kind, data.item_id).append(data.delta);
  }

  completed(kind, data) {
    this.textItem(kind, data.item_id).settle(data.text);
  }

  // -- commands ----------------------------------------------------------------------------------

  command(data) {
    const key = `command:${data.call_id ?? data.item_id ?? ""}`;
    let item = this.items.get(key);
    if (item) return item;
    const output = document.createTextNode("");
    const outputBlock = el("pre", { className: "command-output" });
    outputBlock.append(output);
    item = {
      line: el("div", { className: "command-line" }),
      output,
      streamed: "",
      exit: el("div", { className: "command-exit", text: "running…" }),
    };
    item.root = el("div", { className: "command", data: { callId: data.call_id ?? "" } }, [item.line, outputBlock, item.exit]);
    this.items.set(key, item);
    this.body.append(item.root);
    return item;
  }

  commandStarted(data) {
    const item = this.command(data);
    setText(item.line, `$ ${data.command ?? ""}`);
  }

  commandOutput(data) {
    if (typeof data.delta !== "string" || !data.delta) return;
    const item = this.command(data);
    if (item.root.dataset.final) return;
    item.streamed += data.delta;
    item.output.appendData(data.delta);
  }

  commandCompleted(data) {
    const item = this.command(data);
    if (data.command !== undefined && data.command !== null) setText(item.line, `$ ${data.command}`);
    if (typeof data.output === "string" && !(item.streamed && sameText(item.streamed, data.output))) {
      item.output.data = data.output;
    }
    let text;
    if (Number.isInteger(data.exit_code)) {
      text = `exit ${data.exit_code}`;
      item.root.dataset.exitCode = String(data.exit_code);
    } else {
      text = `command ${data.status || "ended"}`;
    }
    if (typeof data.duration_ms === "number") text += ` (${data.duration_ms} ms)`;
    setText(item.exit, text);
    item.root.dataset.final = "true";
  }

  // -- everything else ---------------------------------------------------------------------------

  fileChange(verb, data) {
    const key = `file:${data.item_id ?? ""}`;
    let line = this.items.get(key);
    if (!line) {
      line = el("div", { className: "filechange" });
      this.items.set(key, line);
      this.body.append(line);
    }
    const paths = (Array.isArray(data.changes) ? data.changes : [])
      .filter((change) => change && change.path)
      .map((change) => String(change.path));
    let text = `${verb}: ${paths.join(", ") || "files"}`;
    if (verb === "edited" && data.status && data.status !== "completed") text += ` (${data.status})`;
    setText(line, text);
  }

  approvalRequired(data) {
    const key = `approval:${data.request_id ?? data.call_id ?? ""}`;
    if (this.items.has(key)) return;
    const accept = el("button", { className: "approve", text: "Approve", attrs: { type: "button" } });
    const decline = el("button", { className: "decline", text: "Deny", attrs: { type: "button" } });
    const state = el("span", { className: "approval-state" });
    let text = `approval needed for $ ${data.command ?? "?"}`;
    if (data.reason) text += `: ${data.reason}`;
    const root = el("div", { className: "approval" }, [el("span", { text }), accept, decline, state]);
    const decide = (decision) => {
      accept.disabled = decline.disabled = true;
      setText(state, `${decision === "accept" ? "approving" : "denying"}…`);
      this.onDecision(data.call_id, decision).then(
        () => setText(state, decision === "accept" ? "approved" : "denied"),
        (error) => {
          accept.disabled = decline.disabled = false;
          setText(state, `failed: ${error.message}`);
        },
      );
    };
    accept.addEventListener("click", () => decide("accept"));
    decline.addEventListener("click", () => decide("decline"));
    this.items.set(key, { root, accept, decline, state });
    this.body.append(root);
  }

  approvalResolved(data) {
    const item = this.items.get(`approval:${data.request_id ?? ""}`);
    if (!item) return;
    item.accept.disabled = item.decline.disabled = true;
    item.root.dataset.resolved = "true";
    setText(item.state, "resolved");
  }

  agentError(data) {
    let text = `agent error: ${data.message ?? ""}`;
    if (data.will_retry) text += " (will retry)";
    this.body.append(el("div", { className: "agent-error", text }));
  }

  usage(data) {
    setText(this.usageLine, usageText(data));
    this.usageLine.hidden = false;
  }

  complete(data) {
    let text = data.status || "completed";
    const error = errorText(data.error);
    if (error) text += `: ${error}`;
    this.setState(text);
    for (const item of this.items.values()) {
      if (item instanceof TextItem && !item.final) item.settle(null);
    }
  }

  // A turn from GET .../turns (completed items only).
  // It only fills in what the stream has not shown yet: commands are keyed by call id, and text of a
  // kind the stream already began is left to the stream.
  loadDurable(turn) {
    this.setPrompt(turn.prompt);
    if (turn.reasoning && !this.hasText("reasoning")) {
      this.completed("reasoning", { item_id: "durable", text: turn.reasoning });
    }
    for (const command of turn.commands || []) this.commandCompleted(command);
    if (turn.assistant && !this.hasText("assistant")) {
      this.completed("assistant", { item_id: "durable", text: turn.assistant });
    }
    if (turn.usage && this.usageLine.hidden) this.usage(turn.usage);
    if (!this.state.textContent || turn.completed_at) this.setState(turn.status || "");
  }

  hasText(kind) {
    return [...this.items.keys()].some((key) => key.startsWith(`${kind}:`));
  }
}
