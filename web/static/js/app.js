// The page's controller: loads /v1/state, streams /v1/events from the snapshot's last event id (one
// EventSource for the tab), keeps one SwarmNodes model per swarm, and draws the selected swarm once
// per animation frame, whatever the event rate.

import { EventStream } from "./event_stream.js";
import { LaunchFlow } from "./launch_flow.js";
import { Route } from "./route.js";
import { SwarmList } from "./swarm_list.js";
import { SwarmNodes } from "./swarm_nodes.js";
import { SwarmStore } from "./swarm_store.js";
import { SwarmView, swarmLabel } from "./swarm_view.js";
import { TerminateDialog } from "./terminate_dialog.js";

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 15000;

export class App {
  constructor(client, banners, config) {
    this.client = client;
    this.banners = banners;
    this.models = new Map();
    this.view = null;
    this.archives = new Set();
    this.dirtySwarms = new Set();
    this.frame = 0;
    this.connection = document.getElementById("connection");
    this.slot = document.getElementById("swarm-slot");
    this.nothing = document.getElementById("nothing-selected");
    this.route = new Route(() => this.showRoute());
    this.list = new SwarmList(document.getElementById("swarm-list"), document.getElementById("swarm-list-empty"), (swarmId) =>
      this.route.go(swarmId),
    );
    this.launchFlow = new LaunchFlow(this, config);
    this.store = new SwarmStore({
      changed: (swarm) => this.swarmChanged(swarm),
      removed: (swarmId, reason) => this.swarmRemoved(swarmId, reason),
    });
    this.stream = new EventStream(client, {
      onEvent: (name, envelope, id) => this.handle(name, envelope, id),
      onState: (state) => this.streamState(state),
      onReset: (reason) => {
        this.banners.show(`Reloaded the swarms: ${reason}`, { kind: "notice", key: "reset" });
        this.sync();
      },
    });
    this.terminateDialog = new TerminateDialog();
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
    try {
      await this.client.openSession();
      const state = await this.client.state();
      this.banners.dismiss("auth");
      this.banners.dismiss("connection");
      this.retryDelay = RETRY_FIRST_MS;
      this.store.load(state.swarms || []);
      this.showRoute();
      this.stream.start(this.stream.lastId || state.last_event_id, this.focus());
      this.launchFlow.loadProviders();
    } catch (error) {
      this.failed(error);
    }
  }

  // "Forget" the token: nothing the token showed stays on the page.
  clear() {
    this.stream.stop();
    this.stream.lastId = null;
    this.store.load([]);
    this.models.clear();
    this.list.clear();
    this.closeView();
  }

  failed(error) {
    if (error.isAuth) {
      this.setConnection("auth", "not authorised");
      this.banners.error(`The mirror refused this page: ${error.message}. Open the login URL that \`codeswarm up\` printed, or enter the API token (CODESWARM_API_TOKEN, or the api-token file under CODESWARM_HOME) above.`, "auth");
      return; // entering a token calls sync() again
    }
    this.setConnection("offline", "offline");
    this.banners.error(`Cannot load the swarms: ${error.message} (retrying)`, "connection");
    this.retryTimer = setTimeout(() => this.sync(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
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

  handle(name, envelope, id) {
    const data = envelope.data;
    if (name === "swarm_launch_progress") this.launchFlow.progress(data);
    if (this.store.apply(name, envelope)) return;
    if (name === "command_rejected") {
      this.rejected(data);
      return;
    }
    if (name === "workspace_archive_ready") {
      this.archives.add(data.swarm_id);
      if (this.view && this.view.swarmId === data.swarm_id) this.view.setArchive(true);
      this.banners.show(`The workspaces of swarm ${this.label(data.swarm_id)} are archived: use "Download workspaces".`, { kind: "notice" });
      return;
    }
    if (name === "workspace_archive_failed") {
      this.banners.error(`Archiving the workspaces of swarm ${this.label(data.swarm_id)} failed: ${data.reason ?? ""}`);
      return;
    }
    const model = this.models.get(data.swarm_id);
    if (model && model.apply(name, data, envelope.timestamp, id)) this.changed(data.swarm_id);
  }

  rejected(data) {
    if (data.command === "launch") {
      this.launchFlow.rejected(data);
      return;
    }
    const what = data.command ? `${data.command} ` : "command ";
    this.banners.error(`${what}rejected (swarm ${this.label(data.swarm_id)}): ${data.reason ?? "no reason given"}`);
  }

  label(swarmId) {
    const swarm = this.store.get(swarmId);
    return swarm ? swarmLabel(swarm) : String(swarmId ?? "?");
  }

  model(swarmId) {
    let model = this.models.get(swarmId);
    if (!model) {
      model = new SwarmNodes(swarmId);
      this.models.set(swarmId, model);
    }
    return model;
  }

  changed(swarmId) {
    this.dirtySwarms.add(swarmId);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.frame = 0;
    for (const swarmId of this.dirtySwarms) {
      const swarm = this.store.get(swarmId);
      const model = this.models.get(swarmId);
      if (!swarm || !model) continue;
      const counts = model.counts();
      if (this.view && this.view.swarmId === swarmId) this.view.render(model.takeDirty(), counts);
      else model.takeDirty();
      this.list.upsert(swarm, counts, this.launchFlow.progressOf(swarmId));
    }
    this.dirtySwarms.clear();
  }

  swarmChanged(swarm) {
    this.model(swarm.swarm_id).setStatuses(swarm);
    if (this.view && this.view.swarmId === swarm.swarm_id) this.view.update(swarm);
    this.changed(swarm.swarm_id);
    this.launchFlow.described(swarm);
  }

  swarmRemoved(swarmId) {
    this.list.remove(swarmId);
    this.models.delete(swarmId);
    if (this.view && this.view.swarmId === swarmId) this.closeView();
  }

  // -- what the page shows -----------------------------------------------------------------------

  showRoute() {
    const { swarmId, nodeId, launch } = this.route.current();
    const launching = launch || (!swarmId && this.store.swarms.size === 0);
    this.launchFlow.show(launching);
    this.list.setSelected(swarmId);
    const swarm = swarmId ? this.store.get(swarmId) : null;
    if (!swarm) {
      this.closeView();
      return;
    }
    if (!this.view || this.view.swarmId !== swarmId) this.openView(swarm);
    if (nodeId !== null && nodeId < swarm.node_count) this.view.focusNode(nodeId);
    else this.view.closeNode(false);
  }

  // What the stream must carry in full: the deltas of the node on screen (none when no node is open).
  focus() {
    if (!this.view) return null;
    return { swarmId: this.view.swarmId, nodeId: this.view.nodeView ? this.view.nodeView.node.nodeId : null };
  }

  // Reconnect the stream (resuming by id) when what is on screen changed; the mirror's live view then
  // fills in the text streamed meanwhile to the node that is now on screen.
  refocus() {
    const focus = this.focus();
    const current = this.stream.focus;
    if (!this.stream.running || JSON.stringify(focus) === JSON.stringify(current)) return false;
    this.stream.start(null, focus);
    return true;
  }

  loadLive(swarmId) {
    const model = this.model(swarmId);
    this.client.live(swarmId).then(
      (answer) => {
        model.loadLive(answer);
        this.changed(swarmId);
      },
      (error) => this.banners.error(`Cannot load the live state of swarm ${this.label(swarmId)}: ${error.message}`, "live"),
    );
  }

  openView(swarm) {
    this.dropView();
    const swarmId = swarm.swarm_id;
    const model = this.model(swarmId);
    this.view = new SwarmView(swarm, model, {
      inject: (nodes, content, mode) => this.inject(swarmId, nodes, content, mode),
      interrupt: (nodes) => this.interrupt(swarmId, nodes),
      decide: (nodeId, callId, decision) => this.client.decide(swarmId, callId, nodeId, decision),
      terminate: () => this.terminate(swarmId),
      download: () => this.download(swarmId),
      focus: (nodeId) => this.focused(swarmId, nodeId),
    });
    this.view.setArchive(this.archives.has(swarmId));
    this.slot.replaceChildren(this.view.root);
    this.nothing.hidden = true;
    this.changed(swarmId);
    this.refocus();
    this.loadLive(swarmId);
  }

  closeView() {
    this.dropView();
    this.refocus();
  }

  dropView() {
    if (this.view) this.view.root.remove();
    this.view = null;
    this.nothing.hidden = !this.launchFlow.panel.hidden;
  }

  // The focused node changed: its whole transcript comes from the durable route (one request).
  focused(swarmId, nodeId) {
    this.route.setNode(swarmId, nodeId);
    if (this.refocus() && nodeId !== null) this.loadLive(swarmId);
    if (nodeId === null) return;
    this.client.turns(swarmId, nodeId).then(
      (answer) => {
        const model = this.models.get(swarmId);
        if (!model) return;
        model.node(nodeId).loadDurable((answer && answer.turns) || []);
        model.dirty.add(nodeId);
        this.changed(swarmId);
      },
      (error) => this.banners.error(`Cannot load the transcript of node ${nodeId} of swarm ${this.label(swarmId)}: ${error.message}`, "turns"),
    );
  }

  // -- commands ----------------------------------------------------------------------------------

  async inject(swarmId, nodes, content, mode) {
    const answer = await this.client.inject(swarmId, nodes, content, mode);
    const model = this.models.get(swarmId);
    for (const ref of (answer && answer.injections) || []) {
      if (!model) break;
      model.node(ref.node_id).turn(ref.injection_id).setPrompt(content);
      model.dirty.add(ref.node_id);
    }
    this.changed(swarmId);
    return answer;
  }

  async interrupt(swarmId, nodes) {
    try {
      await this.client.interrupt(swarmId, nodes);
    } catch (error) {
      this.banners.error(`Interrupt on swarm ${this.label(swarmId)} refused: ${error.message}`);
    }
  }

  async terminate(swarmId) {
    const swarm = this.store.get(swarmId);
    if (!swarm) return;
    const choice = await this.terminateDialog.ask(swarmLabel(swarm), swarm.node_count);
    if (!choice) return;
    try {
      await this.client.terminate(swarmId, choice);
      if (choice.download_workspaces) {
        this.banners.show(`Terminating ${swarmLabel(swarm)}; a download button appears once its workspaces are archived.`, { kind: "notice" });
      }
    } catch (error) {
      this.banners.error(`Terminate ${swarmLabel(swarm)} refused: ${error.message}`);
    }
  }

  async download(swarmId) {
    try {
      const blob = await this.client.archive(swarmId);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `${swarmId}.tar.gz`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    } catch (error) {
      this.banners.error(`Cannot download the workspaces of ${this.label(swarmId)}: ${error.message}`);
    }
  }
}
