// One turn drawn from its TurnModel: prompt (collapsed when long), state and times, then its items in
// order — reasoning and answer (plain text while streaming, sanitized markdown once complete),
// commands as the agent asked for them with output collapsed to its last lines, exit code and
// duration, file changes, approval cards, errors — then usage.  Only what changed is redrawn.

import { ApprovalCard } from "./approval_card.js";
import { between, clockTime, duration } from "./clock.js";
import { CollapsibleText } from "./collapsible.js";
import { innerCommand } from "./command_text.js";
import { el, setText } from "./dom.js";
import { usageText } from "./format.js";
import { renderMarkdown } from "./markdown.js";

const PROMPT_LINES = 6;
const OUTPUT_LINES = 8;

class TextItemView {
  constructor(item) {
    this.body = el("div", { className: item.kind === "assistant" ? "answer" : "reasoning-text" });
    this.root =
      item.kind === "reasoning"
        ? el("details", { className: "reasoning" }, [el("summary", { text: "reasoning" }), this.body])
        : this.body;
    this.textNode = null;
    this.shown = 0;
    this.markdown = false;
  }

  update(item) {
    if (item.final) {
      if (!this.markdown || this.shownText !== item.text) {
        this.body.replaceChildren(renderMarkdown(item.text));
        this.body.classList.add("markdown");
        this.markdown = true;
        this.shownText = item.text;
      }
      if (item.text) this.body.dataset.streamed = this.body.dataset.streamed || "false";
      this.body.dataset.final = "true";
      return;
    }
    if (!this.textNode) {
      this.textNode = document.createTextNode("");
      this.body.replaceChildren(this.textNode);
    }
    if (item.text.length < this.shown) {
      this.textNode.data = item.text;
    } else {
      this.textNode.appendData(item.text.slice(this.shown));
    }
    this.shown = item.text.length;
    if (this.shown) this.body.dataset.streamed = "true";
  }
}

class CommandView {
  constructor() {
    this.line = el("div", { className: "command-line" });
    this.output = new CollapsibleText({ className: "command-output", keep: "tail", lines: OUTPUT_LINES, label: "output" });
    this.exit = el("div", { className: "command-exit" });
    this.root = el("div", { className: "command" }, [this.line, this.output.root, this.exit]);
  }

  update(item) {
    const asked = innerCommand(item.command);
    setText(this.line, `$ ${asked}`);
    this.line.title = Array.isArray(item.command) ? item.command.join(" ") : String(item.command ?? "");
    this.root.dataset.callId = item.id ?? "";
    if (item.stream) this.root.dataset.stream = item.stream;
    this.output.set(item.text);
    let text = "running…";
    if (Number.isInteger(item.exit_code)) {
      text = `exit ${item.exit_code}`;
      this.root.dataset.exitCode = String(item.exit_code);
    } else if (item.final) {
      text = `command ${item.status || "ended"}`;
    }
    if (typeof item.duration_ms === "number") text += ` · ${duration(item.duration_ms)}`;
    setText(this.exit, text);
    if (item.final) this.root.dataset.final = "true";
  }
}

class LineView {
  constructor(className) {
    this.root = el("div", { className });
  }

  update(item) {
    if (item.kind === "file") {
      const verb = item.final ? "edited" : "editing";
      setText(this.root, `${verb}: ${(item.paths || []).join(", ") || "files"}`);
    } else {
      setText(this.root, `${item.kind === "warning" ? "agent warning" : "agent error"}: ${item.text}`);
    }
  }
}

export class TurnView {
  // actions: { decide(callId, decision), where } — where names the node and swarm for accessible names
  constructor(turn, actions) {
    this.turn = turn;
    this.actions = actions;
    this.drawn = -1;
    this.views = new Map();
    this.state = el("span", { className: "turn-state" });
    this.times = el("span", { className: "turn-times" });
    this.prompt = new CollapsibleText({ className: "turn-prompt", keep: "head", lines: PROMPT_LINES, label: "prompt" });
    this.prompt.root.hidden = true;
    this.body = el("div", { className: "turn-items" });
    this.usageLine = el("div", { className: "usage", attrs: { hidden: true } });
    this.root = el("article", { className: "turn", data: { injectionId: turn.injectionId || "" } }, [
      el("div", { className: "turn-head" }, [el("span", { className: "turn-label", text: "turn" }), this.state, this.times]),
      this.prompt.root,
      this.body,
      this.usageLine,
    ]);
  }

  update() {
    const turn = this.turn;
    if (turn.version === this.drawn) return false;
    this.drawn = turn.version;
    const state = turn.stateDetail ? `${turn.state}: ${turn.stateDetail}` : turn.state;
    setText(this.state, state);
    this.root.dataset.state = turn.state;
    const took = between(turn.startedAt, turn.completedAt);
    setText(this.times, [clockTime(turn.startedAt), took && `took ${took}`].filter(Boolean).join(" · "));
    if (turn.prompt) {
      this.prompt.set(turn.prompt);
      this.prompt.root.hidden = false;
    }
    const present = new Set();
    for (const item of turn.items) {
      present.add(item.key);
      let view = this.views.get(item.key);
      if (!view) {
        view = this.makeView(item);
        this.views.set(item.key, view);
        this.body.append(view.root);
      }
      if (view.version !== item.version) {
        view.version = item.version;
        view.update(item);
      }
    }
    for (const [key, view] of this.views) {
      if (!present.has(key)) {
        view.root.remove();
        this.views.delete(key);
      }
    }
    if (turn.usage) {
      setText(this.usageLine, usageText(turn.usage));
      this.usageLine.hidden = false;
    }
    return true;
  }

  makeView(item) {
    if (item.kind === "reasoning" || item.kind === "assistant") return new TextItemView(item);
    if (item.kind === "command") return new CommandView();
    if (item.kind === "approval") return new ApprovalCard(item, this.actions);
    return new LineView({ file: "filechange", warning: "agent-warning", error: "agent-error" }[item.kind]);
  }
}
