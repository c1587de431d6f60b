// How a TypeScript program uses the types openapi-typescript generates from Codeswarm's descriptions
// (README, "Generate a client").  generated/router.ts and generated/mirror.ts come from the services'
// /openapi.json; generated/events.ts from the event catalogue (GET /v1/events/schema on the mirror).
// Compiled with `tsc -p clients` by tests/integration/test_generated_client_types.py.

import type { components as Router, operations } from "./generated/router";
import type { paths as MirrorPaths } from "./generated/mirror";
import type { components as Events } from "./generated/events";

type LaunchRequest = Router["schemas"]["LaunchRequest"];
type LaunchAccepted = operations["launchSwarm"]["responses"][202]["content"]["application/json"];
type InjectRequest = operations["injectPrompt"]["requestBody"]["content"]["application/json"];
type TurnList = operations["listTurns"]["responses"][200]["content"]["application/json"];
type ErrorBody = Router["schemas"]["ErrorBody"];
type SwarmList = MirrorPaths["/v1/swarms"]["get"]["responses"][200]["content"]["application/json"];
type Envelope = Events["schemas"]["Envelope"];

/** What a refusal says, whichever of its two shapes the detail has. */
export function refusal(error: ErrorBody): string {
  return typeof error.detail === "string"
    ? error.detail
    : error.detail.map((field) => `${field.loc.join(".")}: ${field.msg}`).join("; ");
}

async function call<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, { ...init, headers: { "content-type": "application/json" } });
  if (!response.ok) {
    throw new Error(`${response.status}: ${refusal((await response.json()) as ErrorBody)}`);
  }
  return (await response.json()) as T;
}

export async function launchAndPrompt(router: string, prompt: string): Promise<string> {
  const launch: LaunchRequest = { nodes: 2, runtime: "mock", runtime_params: { delay_ms: 0 } };
  const accepted = await call<LaunchAccepted>(`${router}/v1/swarms`, { method: "POST", body: JSON.stringify(launch) });
  const inject: InjectRequest = { nodes: "all", content: prompt, mode: "queue" };
  await call(`${router}/v1/swarms/${accepted.swarm_id}/inject`, { method: "POST", body: JSON.stringify(inject) });
  const turns = await call<TurnList>(`${router}/v1/swarms/${accepted.swarm_id}/nodes/0/turns`);
  return turns.turns.map((turn) => `${turn.status}: ${turn.assistant}`).join("\n");
}

export async function swarmCount(mirror: string): Promise<number> {
  return (await call<SwarmList>(`${mirror}/v1/swarms`)).swarms.length;
}

/** One line for an event of the mirror's stream: the union narrows on `event`. */
export function describe(envelope: Envelope): string {
  switch (envelope.event) {
    case "assistant":
      return `node ${envelope.data.node_id}: ${envelope.data.text}`;
    case "command_completed":
      return `$ ${String(envelope.data.command)} → exit ${envelope.data.exit_code ?? "?"}`;
    case "swarm_status":
      return `${envelope.data.swarm_id} is ${envelope.data.status} (${envelope.data.health})`;
    default:
      return envelope.event;
  }
}

const FOLLOWED: Envelope["event"][] = ["assistant", "command_completed", "swarm_status"];

export function follow(mirror: string, onLine: (line: string) => void): EventSource {
  const source = new EventSource(`${mirror}/v1/events`, { withCredentials: true });
  for (const name of FOLLOWED) {
    source.addEventListener(name, (message) => onLine(describe(JSON.parse(message.data) as Envelope)));
  }
  return source;
}
