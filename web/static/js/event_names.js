// The codeswarm.router.v1 event names this page listens for: every name of EventName in
// services/protocol/events.py (tests/e2e/test_event_names.py fails when the two differ, so a new
// event cannot silently vanish).  Anything else on the stream is ignored, as the protocol asks.

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
  "agent_warning",
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
  "inject_queued",
  "inject_steered",
  "workspace_archive_ready",
  "workspace_archive_failed",
  "swarm_files_deleted",
];

export const ALL_EVENTS = [...EXECUTION_EVENTS, ...LIFECYCLE_EVENTS];
