// The sidebar: every swarm with its status, node counts by state, alias, provider and age, plus a
// ghost for each launch the router has not described yet.  Selecting a row shows that swarm.

import { age } from "./clock.js";
import { el, setText } from "./dom.js";

const SUMMARY_STATES = [
  ["busy", "busy"],
  ["idle", "idle"],
  ["approval", "waiting"],
  ["starting", "starting"],
  ["stale", "stale"],
  ["failed", "failed"],
  ["exited", "exited"],
];

export class SwarmList {
  // select(swarmId)
  constructor(list, emptyNote, select) {
    this.list = list;
    this.emptyNote = emptyNote;
    this.select = select;
    this.rows = new Map();
    this.ghosts = new Map();
    this.selected = null;
  }

  row(swarmId) {
    let row = this.rows.get(swarmId);
    if (!row) {
      const button = el("button", { className: "swarm-row", attrs: { type: "button" }, data: { swarmId } }, [
        el("span", { className: "row-name" }),
        el("span", { className: "row-status" }),
        el("span", { className: "row-counts" }),
        el("span", { className: "row-where muted" }),
        el("span", { className: "row-progress muted" }),
      ]);
      button.addEventListener("click", () => this.select(swarmId));
      row = el("li", { data: { swarmId } }, [button]);
      this.rows.set(swarmId, row);
      this.list.prepend(row);
    }
    return row;
  }

  upsert(swarm, counts, progress) {
    const row = this.row(swarm.swarm_id);
    const button = row.firstChild;
    const name = swarm.alias || swarm.swarm_id;
    setText(button.querySelector(".row-name"), name);
    button.title = swarm.swarm_id;
    const status = button.querySelector(".row-status");
    setText(status, swarm.status);
    status.dataset.status = swarm.status;
    row.dataset.status = swarm.status;
    const parts = SUMMARY_STATES.filter(([state]) => counts[state]).map(([state, label]) => `${counts[state]} ${label}`);
    if (counts.failedCommands) parts.push(`${counts.failedCommands} failed cmd`);
    setText(button.querySelector(".row-counts"), parts.join(" · "));
    setText(button.querySelector(".row-where"), `${swarm.node_count} nodes · ${swarm.provider}/${swarm.runtime} · ${age(swarm.created_at)}`);
    const launching = swarm.status === "launching" || swarm.status === "pending";
    setText(button.querySelector(".row-progress"), launching ? progress || swarm.reason || "" : "");
    button.setAttribute("aria-label", `swarm ${name} (${swarm.swarm_id}): ${swarm.status}${parts.length ? `, ${parts.join(", ")}` : ""}`);
    this.markSelected();
    this.showEmpty();
  }

  remove(swarmId) {
    this.drop(this.rows, swarmId);
  }

  // A row leaves the list and the map (rows or ghosts) that holds it.
  drop(rowsByKey, key) {
    rowsByKey.get(key)?.remove();
    rowsByKey.delete(key);
    this.showEmpty();
  }

  // A launch sent but not yet described by the router: shown at once, replaced by the swarm's row.
  ghost(key, alias, text) {
    let row = this.ghosts.get(key);
    if (!row) {
      row = el("li", { className: "ghost", data: { ghost: key } }, [
        el("span", { className: "row-name", text: alias || "new swarm" }),
        el("span", { className: "row-progress muted" }),
      ]);
      this.ghosts.set(key, row);
      this.list.prepend(row);
    }
    setText(row.querySelector(".row-progress"), text);
    this.showEmpty();
  }

  dropGhost(key) {
    this.drop(this.ghosts, key);
  }

  setSelected(swarmId) {
    this.selected = swarmId;
    this.markSelected();
  }

  markSelected() {
    for (const [swarmId, row] of this.rows) {
      const button = row.firstChild;
      if (swarmId === this.selected) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  showEmpty() {
    this.emptyNote.hidden = this.rows.size + this.ghosts.size > 0;
  }

  clear() {
    for (const row of [...this.rows.values(), ...this.ghosts.values()]) row.remove();
    this.rows.clear();
    this.ghosts.clear();
    this.showEmpty();
  }
}
