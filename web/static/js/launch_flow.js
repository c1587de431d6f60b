// A launch from the page: the form, a ghost in the swarm list the moment it is sent, the router's
// progress on it (staging, submitting, pending with Slurm's reason, retrying), and its end: the
// swarm's own row once the router describes it, or the ghost removed with the reason (alias named).

import { LaunchForm } from "./launch_form.js";
import { MAX_FILES } from "./launch_bundle.js";

export class LaunchFlow {
  constructor(app, config) {
    this.app = app;
    this.panel = document.getElementById("launch-panel");
    this.form = new LaunchForm(document.getElementById("launch-form"), (body) => this.launch(body), {
      maxBodyBytes: config.max_body_bytes,
    });
    document.getElementById("launch-limits").textContent =
      `AGENTS.md and skills are written into every node's workspace: at most ${MAX_FILES} files, ` +
      `and the whole launch request at most ${config.max_body_bytes.toLocaleString("en-US")} bytes.`;
    document.getElementById("new-swarm").addEventListener("click", () => {
      if (location.hash === "#/launch") this.show(true);
      else location.hash = "#/launch";
    });
    this.sent = 0;
    this.pending = new Map(); // swarm_id → { ghost, alias }: accepted, not yet described
    this.phases = new Map(); // swarm_id → latest progress text
    this.names = new Map(); // swarm_id → alias, kept after the swarm is gone (a rejection names it)
    this.refused = new Set(); // swarm ids whose rejection came before the launch's own answer
  }

  show(visible) {
    this.panel.hidden = !visible;
  }

  async loadProviders() {
    try {
      const answer = await this.app.client.providers();
      this.form.setProviders((answer && answer.providers) || []);
    } catch (error) {
      this.app.banners.error(`Cannot list providers: ${error.message}`, "providers");
    }
  }

  async launch(body) {
    this.sent += 1;
    const ghost = `launch-${this.sent}`;
    const alias = body.alias || `${body.nodes} × ${body.runtime || "default runtime"}`;
    this.app.list.ghost(ghost, alias, "sending…");
    let answer;
    try {
      answer = await this.app.client.launch(body);
    } catch (error) {
      this.app.list.dropGhost(ghost);
      this.app.banners.error(`Launch of "${alias}" rejected: ${error.message}`, "launch");
      if (error.isAuth) this.app.failed(error);
      return;
    }
    if (this.refused.has(answer.swarm_id)) {
      this.app.list.dropGhost(ghost); // the rejection's banner, naming the swarm, is up already
      return;
    }
    this.app.list.ghost(ghost, alias, "accepted: launching…");
    this.pending.set(answer.swarm_id, { ghost, alias });
    this.names.set(answer.swarm_id, alias);
    if (this.app.store.get(answer.swarm_id)) this.described(this.app.store.get(answer.swarm_id));
  }

  // swarm_launch_progress: {phase, message} (the first one also carries the whole swarm)
  progress(data) {
    if (typeof data.swarm_id !== "string") return;
    const text = [data.phase, data.message].filter(Boolean).join(": ");
    this.phases.set(data.swarm_id, text);
    const pending = this.pending.get(data.swarm_id);
    if (pending) this.app.list.ghost(pending.ghost, pending.alias, text);
    this.app.changed(data.swarm_id);
  }

  progressOf(swarmId) {
    return this.phases.get(swarmId) || "";
  }

  // The router described the swarm: its row replaces the ghost, and the page shows it.
  described(swarm) {
    if (swarm.alias) this.names.set(swarm.swarm_id, swarm.alias);
    const pending = this.pending.get(swarm.swarm_id);
    if (!pending) return;
    this.pending.delete(swarm.swarm_id);
    this.app.list.dropGhost(pending.ghost);
    this.app.route.go(swarm.swarm_id);
  }

  rejected(data) {
    const pending = this.pending.get(data.swarm_id);
    const alias = this.names.get(data.swarm_id) || data.swarm_id;
    if (pending) {
      this.pending.delete(data.swarm_id);
      this.app.list.dropGhost(pending.ghost);
    }
    this.phases.delete(data.swarm_id);
    this.refused.add(data.swarm_id);
    this.app.banners.error(`Launch of "${alias}" rejected: ${data.reason ?? "no reason given"}`, `launch-${data.swarm_id}`);
  }
}
