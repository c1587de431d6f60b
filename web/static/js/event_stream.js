// One EventSource on the mirror's /v1/events for the whole page.
//
// It starts after the id /v1/state reported (query last_event_id), so the snapshot and the stream
// meet without a gap; when the browser reconnects by itself it sends Last-Event-ID (which the mirror
// prefers over the query), so nothing is missed or repeated.  One bus entry may carry several events
// (they share its id); an event from an entry before the last one handled is dropped, as a last guard
// against doubles.

import { isAfter } from "./entry_ids.js";
import { ALL_EVENTS } from "./event_names.js";

export class EventStream {
  // onEvent(name, envelope, id); onState("connecting" | "live" | "reconnecting" | "closed");
  // onReset(reason): the mirror no longer holds the events after our id — reload the snapshot
  constructor(client, { onEvent, onState, onReset }) {
    this.client = client;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onReset = onReset;
    this.source = null;
    this.lastId = null;
    this.focus = null;
  }

  get running() {
    return this.source !== null;
  }

  // focus: null (every event) or {swarmId, nodeId} (deltas for that node only: /v1/events/focused)
  start(afterId, focus = this.focus) {
    this.stop();
    if (afterId) this.lastId = afterId;
    this.focus = focus;
    const source = new EventSource(this.client.eventsUrl(this.lastId, focus), { withCredentials: true });
    this.source = source;
    this.onState("connecting");
    for (const name of ALL_EVENTS) {
      source.addEventListener(name, (message) => this.receive(name, message));
    }
    source.addEventListener("reset", (message) => {
      let reason = "the event stream was reset";
      try {
        reason = JSON.parse(message.data).reason || reason;
      } catch {
        // keep the generic reason
      }
      this.stop();
      this.lastId = null;
      this.onReset(reason);
    });
    source.onopen = () => this.onState("live");
    source.onerror = () => {
      if (this.source !== source) return;
      this.onState(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    };
  }

  receive(name, message) {
    const id = message.lastEventId;
    if (id && this.lastId && isAfter(this.lastId, id)) return;
    if (id) this.lastId = id;
    let envelope;
    try {
      envelope = JSON.parse(message.data);
    } catch {
      return;
    }
    if (envelope && typeof envelope === "object" && envelope.data && typeof envelope.data === "object") {
      this.onEvent(name, envelope, id);
    }
  }

  stop() {
    if (this.source) {
      this.source.close();
      this.source = null;
    }
  }
}
