// The codeswarm.router.v1 event names this page listens for (services/protocol/events.py).
// Anything else on the stream is ignored, as the protocol asks of clients.

export const EXECUTION_EVENTS = [
  "turn_started",
  "reasoning_delta",
  "reasoning",
  "assistant_delta",
  "assistant",
  "command_started",
  "command_output_delta",
  "command_completed",
  "filechange_started",
  "filechange_completed",
  "exec_approval_required",
  "exec_approval_resolved",
  "usage",
  "turn_complete",
  "thread_status",
  "agent_error",
];

export const LIFECYCLE_EVENTS = [
  "swarm_launch_progress",
  "swarm_launched",
  "swarm_status",
  "swarm_terminated",
  "swarm_removed",
  "node_status",
  "command_rejected",
  "inject_ack",
  "inject_delivered",
  "inject_failed",
  "workspace_archive_ready",
  "workspace_archive_failed",
];

export const ALL_EVENTS = [...EXECUTION_EVENTS, ...LIFECYCLE_EVENTS];
