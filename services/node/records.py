"""The mailbox contract between the router and the node program (standard library only).

Layout, on a filesystem both sides see (the shared filesystem on Slurm)::

    <base>/mailbox/inbox/<job_id>_<NN>.jsonl    router appends, node reads
    <base>/mailbox/outbox/<job_id>_<NN>.jsonl   node appends, router follows
    <base>/runs/<job_id>/node_<NN>/             the node's workspace (the agent's cwd)

NN is the node index, at least two digits.  Every line is one JSON object followed by "\\n".

Outbox record (node → router)::

    {"seq": 1, "ts": 1795527514.66, "job_id": "...", "node_id": 0, "injection_id": null,
     "kind": "hello", "payload": {...}}

`seq` starts at 1 and grows by one per record of that node, so (job_id, node_id, seq) identifies a
record and ingestion is idempotent.  Kinds:

- ``hello``      the node program started: ``{pid, host, runtime, thread_id}``
- ``heartbeat``  every heartbeat interval: ``{}``
- ``runtime``    one raw runtime message, exactly as the runtime wrote it (codex app-server JSON-RPC
                 shapes; the mock and shell runtimes write the same shapes): ``{...}``
- ``inbox_error`` an inbox line the node could not use: ``{line, error}``
- ``exit``       the node program is exiting: ``{code, reason}``

Inbox line (router → node)::

    {"type": "inject", "injection_id": "...", "content": "...", "mode": "queue" | "steer", "ts": ...}
    {"type": "approval", "call_id": "...", "decision": "accept" | "acceptForSession" | "decline" | ..., "ts": ...}
    {"type": "interrupt", "ts": ...}

A `runtime` record whose method starts with ``codeswarm/`` was written by the node program itself, not by
the agent (NODE_METHODS below): what became of an injection, and what the node did to a turn.
"""

from __future__ import annotations

KIND_HELLO = "hello"
KIND_HEARTBEAT = "heartbeat"
KIND_RUNTIME = "runtime"
KIND_INBOX_ERROR = "inbox_error"
KIND_EXIT = "exit"

INBOX_INJECT = "inject"
INBOX_APPROVAL = "approval"
INBOX_INTERRUPT = "interrupt"

# Inject modes: "queue" runs after the injections already waiting; "steer" goes to the head of the queue
# (ahead of every queued injection, behind earlier steers) unless the runtime can steer the running turn.
MODE_QUEUE = "queue"
MODE_STEER = "steer"
INJECT_MODES = (MODE_QUEUE, MODE_STEER)

# The node program's own runtime messages ({"method": ..., "params": {...}}), next to the agent's.
NODE_INJECTION_QUEUED = "codeswarm/injectionQueued"  # {position}: waits behind a running turn
NODE_INJECTION_STEERED = "codeswarm/injectionSteered"  # {turnId}: added to the running turn
NODE_STEER_REJECTED = "codeswarm/steerRejected"  # {message}: the agent refused the steer
NODE_ITEM_ABANDONED = "codeswarm/itemAbandoned"  # {item}: an item the turn ended without completing
NODE_TURN_ABORTED = "codeswarm/turnAborted"  # {turnId, message}: the turn ended failed (agent exited)
NODE_TURN_WATCHDOG = "codeswarm/turnWatchdog"  # {turnId, idleS, message}: no progress; interrupting
NODE_AGENT_RESTARTED = "codeswarm/agentRestarted"  # {attempt, threadId, resumed}
NODE_BAD_AGENT_LINE = "codeswarm/badAgentLine"  # {line, error}: the agent wrote a line that is not JSON
NODE_CONTEXT_TRIMMED = "codeswarm/contextTrimmed"  # {trimmed, estimatedTokens}: old tool outputs cut to fit
NODE_APPROVAL_ANSWERED = "codeswarm/approvalAnswered"  # {callId, requestId, decision}: passed to the agent
# {bytes, limit, kind}: written by a follower, not a node, in place of a record longer than RECORD_LIMIT
NODE_RECORD_TOO_BIG = "codeswarm/recordTooBig"

# The longest outbox line a follower reads; a longer one is skipped to its newline and reported.
RECORD_LIMIT = 16 << 20
# The characters of one command's output a node streams as deltas and keeps in `aggregatedOutput`; past
# it the output is cut, TRUNCATION_NOTE says how much more the command wrote, and the item carries
# `truncated: true` and `outputChars` (the command's whole output, in characters).  The router's durable
# transcript cuts again, to CODESWARM_COMMAND_OUTPUT_CAP, with the same note.  The node's own commands
# stop there (runtimes/commands.py); the outbox caps relayed agents' messages alike (output_cap.py).
OUTPUT_CAP = 256 << 10
TRUNCATION_NOTE = "\n… [output truncated: {dropped} more characters]"


def truncation_note(dropped: int) -> str:
    return TRUNCATION_NOTE.format(dropped=dropped)


def cut_output(output: str, cap: int, total: int | None = None) -> str:
    """`output` cut to `cap` characters with TRUNCATION_NOTE; `total` is the whole output's length when
    `output` is already a cut one (its note then stands when it fits)."""
    if len(output) <= cap:
        return output
    return output[:cap] + truncation_note(max(total or 0, len(output)) - cap)


# `exit` record codes: 0 = stopped (signal or end of input), 1 = unexpected error, 2 = bad configuration.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2


def node_tag(node_id: int) -> str:
    """The two-digit node index used in file and directory names."""
    return f"{node_id:02d}"


def mailbox_name(job_id: str, node_id: int) -> str:
    """File name of a node's inbox or outbox."""
    return f"{job_id}_{node_tag(node_id)}.jsonl"


def inbox_path(base: str, job_id: str, node_id: int) -> str:
    return f"{base}/mailbox/inbox/{mailbox_name(job_id, node_id)}"


def outbox_path(base: str, job_id: str, node_id: int) -> str:
    return f"{base}/mailbox/outbox/{mailbox_name(job_id, node_id)}"


def workspace_path(base: str, job_id: str, node_id: int) -> str:
    return f"{base}/runs/{job_id}/node_{node_tag(node_id)}"


def agent_home_path(base: str, job_id: str, node_id: int) -> str:
    """The agent's own private state (e.g. CODEX_HOME): outside the workspace and outside /tmp."""
    return f"{base}/agents/{job_id}/node_{node_tag(node_id)}"


def secret_name(node_id: int) -> str:
    """The file in the swarm's control directory that hands node `node_id` its key (read, then removed)."""
    return f"secret_{node_tag(node_id)}"
