// The table of swarms: one row each, kept in step with the store.

import { el, setText } from "./dom.js";

const COLUMNS = ["status", "health", "provider", "runtime", "node_count", "job_id", "reason"];

export class SwarmList {
  constructor(table, emptyNote) {
    this.body = table.tBodies[0];
    this.emptyNote = emptyNote;
    this.rows = new Map();
  }

  upsert(swarm) {
    let row = this.rows.get(swarm.swarm_id);
    if (!row) {
      const link = el("a", { attrs: { href: `#swarm-${swarm.swarm_id}` } });
      row = el("tr", { data: { swarmId: swarm.swarm_id } }, [el("td", {}, [link])]);
      for (const column of COLUMNS) row.append(el("td", { className: `col-${column}` }));
      this.rows.set(swarm.swarm_id, row);
      this.body.append(row);
    }
    setText(row.querySelector("a"), swarm.alias ? `${swarm.alias} (${swarm.swarm_id})` : swarm.swarm_id);
    for (const column of COLUMNS) setText(row.querySelector(`.col-${column}`), swarm[column] ?? "");
    row.dataset.status = swarm.status;
    this.emptyNote.hidden = this.rows.size > 0;
  }

  remove(swarmId) {
    const row = this.rows.get(swarmId);
    if (row) {
      row.remove();
      this.rows.delete(swarmId);
    }
    this.emptyNote.hidden = this.rows.size > 0;
  }
}
