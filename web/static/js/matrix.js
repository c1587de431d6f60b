// The node matrix of one swarm: one small tile per node, coloured by state, with its last exit code
// and tokens.  Click opens a node and makes it the target; Ctrl/⌘-click adds or removes a node;
// Shift-click selects a range; arrow keys move between tiles, Enter/Space acts like a click.

import { el, setText } from "./dom.js";
import { FILTERS } from "./swarm_nodes.js";
import { shortCount } from "./format.js";

const STATE_TEXT = { approval: "waiting on approval" };

export class Matrix {
  // actions: { open(nodeId), selected(nodeIds) }
  constructor(swarmLabel, nodes, actions) {
    this.swarmLabel = swarmLabel;
    this.nodes = nodes;
    this.actions = actions;
    this.tiles = [];
    this.selection = new Set();
    this.anchor = null;
    this.focused = null;
    this.filter = null;
    this.root = el("div", { className: "matrix", attrs: { role: "group", "aria-label": `nodes of swarm ${swarmLabel}` } });
    this.root.addEventListener("click", (event) => {
      const tile = event.target.closest(".tile");
      if (tile) this.click(Number(tile.dataset.nodeId), event);
    });
    this.root.addEventListener("keydown", (event) => this.key(event));
  }

  ensure(count) {
    while (this.tiles.length < count) {
      const nodeId = this.tiles.length;
      const tile = el("button", { className: "tile", attrs: { type: "button", tabindex: nodeId === 0 ? 0 : -1, "aria-pressed": "false" }, data: { nodeId } }, [
        el("span", { className: "tile-id", text: nodeId }),
        el("span", { className: "tile-exit" }),
        el("span", { className: "tile-tokens" }),
      ]);
      this.tiles.push(tile);
      this.root.append(tile);
      this.update(nodeId);
    }
  }

  update(nodeId) {
    const tile = this.tiles[nodeId];
    const node = this.nodes.node(nodeId);
    if (!tile) return;
    const state = node.state;
    if (tile.dataset.state !== state) tile.dataset.state = state;
    const exit = Number.isInteger(node.lastExit) ? node.lastExit : null;
    setText(tile.children[1], exit === null ? "" : exit === 0 ? "✓" : `✗${exit}`);
    tile.dataset.exit = exit === null ? "" : exit === 0 ? "ok" : "failed";
    setText(tile.children[2], shortCount(node.tokens));
    const facts = [STATE_TEXT[state] || state];
    if (exit !== null) facts.push(`last exit ${exit}`);
    if (Number.isInteger(node.tokens)) facts.push(`${node.tokens} tokens`);
    const label = `node ${nodeId} of swarm ${this.swarmLabel}: ${facts.join(", ")}`;
    if (tile.getAttribute("aria-label") !== label) tile.setAttribute("aria-label", label);
    if (this.filter) tile.hidden = !FILTERS[this.filter].test(node);
  }

  setFilter(filter) {
    this.filter = filter;
    for (let nodeId = 0; nodeId < this.tiles.length; nodeId += 1) {
      this.tiles[nodeId].hidden = Boolean(filter) && !FILTERS[filter].test(this.nodes.node(nodeId));
    }
  }

  visible() {
    return this.tiles.filter((tile) => !tile.hidden).map((tile) => Number(tile.dataset.nodeId));
  }

  select(nodeIds, { notify = true } = {}) {
    this.selection = new Set(nodeIds);
    for (const tile of this.tiles) {
      const on = this.selection.has(Number(tile.dataset.nodeId));
      if ((tile.getAttribute("aria-pressed") === "true") !== on) tile.setAttribute("aria-pressed", String(on));
    }
    if (notify) this.actions.selected([...this.selection].sort((a, b) => a - b));
  }

  click(nodeId, event) {
    if (event.shiftKey && this.anchor !== null) {
      const [low, high] = [Math.min(this.anchor, nodeId), Math.max(this.anchor, nodeId)];
      const range = [];
      for (let id = low; id <= high; id += 1) if (!this.tiles[id].hidden) range.push(id);
      this.select(event.ctrlKey || event.metaKey ? [...this.selection, ...range] : range);
    } else if (event.ctrlKey || event.metaKey) {
      const next = new Set(this.selection);
      if (next.has(nodeId)) next.delete(nodeId);
      else next.add(nodeId);
      this.select(next);
      this.anchor = nodeId;
    } else {
      this.select([nodeId]);
      this.anchor = nodeId;
      this.actions.open(nodeId);
    }
    this.focus(nodeId);
  }

  focus(nodeId) {
    const tile = this.tiles[nodeId];
    if (!tile) return;
    if (this.focused !== null && this.tiles[this.focused]) this.tiles[this.focused].tabIndex = -1;
    else this.tiles[0].tabIndex = -1;
    tile.tabIndex = 0;
    this.focused = nodeId;
    if (document.activeElement !== tile && this.root.contains(document.activeElement)) tile.focus();
  }

  columns() {
    const shown = this.tiles.filter((tile) => !tile.hidden);
    if (shown.length < 2) return 1;
    const top = shown[0].offsetTop;
    const index = shown.findIndex((tile) => tile.offsetTop !== top);
    return index < 0 ? shown.length : index;
  }

  key(event) {
    const tile = event.target.closest(".tile");
    if (!tile) return;
    const shown = this.visible();
    const at = shown.indexOf(Number(tile.dataset.nodeId));
    const steps = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: this.columns(), ArrowUp: -this.columns(), Home: -at, End: shown.length - 1 - at };
    if (!(event.key in steps) || at < 0) return;
    event.preventDefault();
    const next = shown[Math.max(0, Math.min(shown.length - 1, at + steps[event.key]))];
    this.focus(next);
    this.tiles[next].focus();
  }
}
