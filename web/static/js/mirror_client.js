// The mirror's REST API over fetch: the token goes in the Authorization header, errors become
// MirrorError with the status and the server's own message.

import { readToken } from "./token_store.js";

export class MirrorError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }

  get isAuth() {
    return this.status === 401 || this.status === 403;
  }
}

function describe(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item) => {
        const where = Array.isArray(item.loc) ? item.loc.filter((part) => part !== "body").join(".") : "";
        return where ? `${where}: ${item.msg}` : String(item.msg ?? JSON.stringify(item));
      })
      .join("; ");
  }
  return JSON.stringify(detail);
}

export class MirrorClient {
  constructor(baseUrl) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  url(path) {
    return `${this.baseUrl}${path}`;
  }

  async send(method, path, body) {
    const headers = {};
    const token = readToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      return await fetch(this.url(path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "include",
      });
    } catch (error) {
      throw new MirrorError(0, `the mirror at ${this.baseUrl} does not answer (${error.message})`);
    }
  }

  async request(method, path, body) {
    const answer = await this.send(method, path, body);
    if (answer.status === 204) return null;
    const text = await answer.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!answer.ok) {
      const reason = parsed && parsed.detail !== undefined ? describe(parsed.detail) : text || answer.statusText;
      throw new MirrorError(answer.status, reason);
    }
    return parsed;
  }

  state() {
    return this.request("GET", "/v1/state");
  }

  providers() {
    return this.request("GET", "/v1/providers");
  }

  live(swarmId) {
    return this.request("GET", `/v1/swarms/${encodeURIComponent(swarmId)}/live`);
  }

  turns(swarmId, nodeId) {
    return this.request("GET", `/v1/swarms/${encodeURIComponent(swarmId)}/nodes/${nodeId}/turns`);
  }

  launch(body) {
    return this.request("POST", "/v1/swarms", body);
  }

  inject(swarmId, nodes, content, mode = "queue") {
    return this.request("POST", `/v1/swarms/${encodeURIComponent(swarmId)}/inject`, { nodes, content, mode });
  }

  interrupt(swarmId, nodes) {
    return this.request("POST", `/v1/swarms/${encodeURIComponent(swarmId)}/interrupt`, { nodes });
  }

  terminate(swarmId, options = {}) {
    return this.request("POST", `/v1/swarms/${encodeURIComponent(swarmId)}/terminate`, options);
  }

  // The workspaces archive as a Blob (fetched with the token, which a plain link could not send).
  async archive(swarmId) {
    const answer = await this.send("GET", `/v1/swarms/${encodeURIComponent(swarmId)}/archive`);
    if (!answer.ok) {
      const text = await answer.text();
      let reason = text || answer.statusText;
      try {
        reason = describe(JSON.parse(text).detail);
      } catch {
        // keep the text
      }
      throw new MirrorError(answer.status, reason);
    }
    return answer.blob();
  }

  decide(swarmId, callId, nodeId, decision) {
    const path = `/v1/swarms/${encodeURIComponent(swarmId)}/approvals/${encodeURIComponent(callId)}`;
    return this.request("POST", path, { node_id: nodeId, decision });
  }

  // The HttpOnly cookie that lets EventSource (which cannot send headers) authenticate.
  openSession() {
    return this.request("POST", "/v1/session");
  }

  closeSession() {
    return this.request("DELETE", "/v1/session");
  }

  // The whole stream, or (focus {swarmId, nodeId}) the stream for a page showing that swarm: deltas
  // only for that node, everything else for all.
  eventsUrl(lastEventId, focus = null) {
    const query = new URLSearchParams();
    if (focus) query.set("swarm_id", focus.swarmId);
    if (focus && focus.nodeId !== null) query.set("node_id", String(focus.nodeId));
    if (lastEventId) query.set("last_event_id", lastEventId);
    const text = query.toString();
    return this.url(`/v1/events${focus ? "/focused" : ""}${text ? `?${text}` : ""}`);
  }
}
