// The page's controller: loads /v1/state, then streams /v1/events from the snapshot's last event id,
// and routes every event to the store (lifecycle), the swarm panels (nodes) or the banners.

import { LaunchForm } from "./launch_form.js";
import { EventStream } from "./event_stream.js";
import { SwarmList } from "./swarm_list.js";
import { SwarmPanel } from "./swarm_panel.js";
import { SwarmStore } from "./swarm_store.js";

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 15000;

export class App {
  constructor(client, banners) {
    this.client = client;
    this.banners = banners;
    this.panels = new Map();
    this.panelRoot = document.getElementById("swarm-panels");
    this.connection = document.getElementById("connection");
    this.list = new SwarmList(document.getElementById("swarm-list"), document.getElementById("swarm-list-empty"));
    this.store = new SwarmStore({
      changed: (swarm) => this.swarmChanged(swarm),
      removed: (swarmId) => this.swarmRemoved(swarmId),
    });
    this.stream = new EventStream(client, {
      onEvent: (name, envelope) => this.handle(name, envelope),
      onState: (state) => this.streamState(state),
      onReset: (reason) => {
        this.banners.show(`Reloaded the swarms: ${reason}`, { kind: "notice", key: "reset" });
        this.sync();
      },
    });
    this.launchForm = new LaunchForm(document.getElementById("launch-form"), (body) => this.launch(body));
    this.retryTimer = null;
    this.retryDelay = RETRY_FIRST_MS;
  }

  setConnection(state, text) {
    this.connection.dataset.state = state;
    this.connection.textContent = text;
  }

  // (Re)load the snapshot and (re)open the stream: at start, after a token change, after the stream
  // was refused.  The stream continues after the last event this page handled, if any.
  async sync() {
    clearTimeout(this.retryTimer);
    this.stream.stop();
    this.setConnection("connecting", "connecting…");
    const firstLoad = !this.stream.lastId;
    try {
      await this.client.openSession();
      const state = await this.client.state();
      this.banners.dismiss("auth");
      this.banners.dismiss("connection");
      this.retryDelay = RETRY_FIRST_MS;
      const known = new Set(this.panels.keys());
      this.store.load(state.swarms || []);
      if (firstLoad) {
        for (const [swarmId, panel] of this.panels) {
          if (!known.has(swarmId)) panel.loadTranscripts(this.store.get(swarmId).node_count);
        }
      }
      this.stream.start(this.stream.lastId || state.last_event_id);
      this.loadProviders();
    } catch (error) {
      this.failed(error);
    }
  }

  failed(error) {
    if (error.isAuth) {
      this.setConnection("auth", "not authorised");
      this.banners.error(`The mirror refused this page: ${error.message}. Enter the API token above.`, "auth");
      return; // entering a token calls sync() again
    }
    this.setConnection("offline", "offline");
    this.banners.error(`Cannot load the swarms: ${error.message} (retrying)`, "connection");
    this.retryTimer = setTimeout(() => this.sync(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
  }

  async loadProviders() {
    try {
      const answer = await this.client.providers();
      this.launchForm.setProviders((answer && answer.providers) || []);
    } catch (error) {
      this.banners.error(`Cannot list providers: ${error.message}`, "providers");
    }
  }

  streamState(state) {
    if (state === "live") {
      this.setConnection("live", "live");
      this.banners.dismiss("connection");
    } else if (state === "reconnecting") {
      this.setConnection("reconnecting", "reconnecting…");
    } else if (state === "closed") {
      // The mirror answered the stream with an error (e.g. 401): find out why and start again.
      this.setConnection("offline", "stream closed");
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.sync(), this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
    }
  }

  handle(name, envelope) {
    const data = envelope.data;
    if (this.store.apply(name, envelope)) return;
    if (name === "command_rejected") {
      const what = data.command ? `${data.command} ` : "command ";
      this.banners.error(`${what}rejected (swarm ${data.swarm_id ?? "?"}): ${data.reason ?? "no reason given"}`);
      return;
    }
    if (name === "workspace_archive_ready") {
      this.banners.show(`Workspace archive of ${data.swarm_id} ready: ${data.url ?? ""}`, { kind: "notice" });
      return;
    }
    if (name === "workspace_archive_failed") {
      this.banners.error(`Workspace archive of ${data.swarm_id} failed: ${data.reason ?? ""}`);
      return;
    }
    const panel = this.panels.get(data.swarm_id);
    if (panel) panel.apply(name, data);
  }

  swarmChanged(swarm) {
    this.list.upsert(swarm);
    let panel = this.panels.get(swarm.swarm_id);
    if (panel) {
      panel.update(swarm);
      return;
    }
    panel = new SwarmPanel(swarm, { client: this.client, banners: this.banners });
    this.panels.set(swarm.swarm_id, panel);
    this.panelRoot.prepend(panel.root);
  }

  swarmRemoved(swarmId) {
    this.list.remove(swarmId);
    const panel = this.panels.get(swarmId);
    if (panel) {
      panel.root.remove();
      this.panels.delete(swarmId);
    }
  }

  async launch(body) {
    try {
      await this.client.launch(body);
    } catch (error) {
      if (error.isAuth) this.failed(error);
      else this.banners.error(`Launch refused: ${error.message}`);
    }
  }
}
