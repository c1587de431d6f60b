# shellcheck shell=bash
# Shared helpers for the loopback Slurm lab (sourced by up.sh, down.sh and ctl.sh).
# Spec: /work/shared/notes/slurm-test-cluster.md. Everything here identifies processes by pid
# (pid files, recorded start times, the lab tag, unix sockets under DIR), never by name.

# shellcheck disable=SC2034 # some of these are used only by the scripts that source this file
LAB_DIR=${SLURM_LAB_DIR:-/var/tmp/codeswarm-slurm-lab}
case $LAB_DIR in
/*) ;;
*)
    echo "SLURM_LAB_DIR must be an absolute path: $LAB_DIR" >&2
    exit 2
    ;;
esac
LAB_DIR=${LAB_DIR%/}
LAB_USER=swarm
LAB_NODES=(node1 node2)
# the daemons get the tag explicitly; nothing else this script runs should carry it
unset SLURM_LAB_TAG

# Port knobs: the environment wins; otherwise the values this DIR's lab.env recorded (so a lab
# brought up with other ports is found again without repeating them); otherwise the defaults.
_lab_env_value() {
    local key=$1 line
    [[ -r $LAB_DIR/lab.env ]] || return 0
    line=$(grep -m1 "^$key=" "$LAB_DIR/lab.env" || true)
    printf '%s' "${line#*=}"
}
_v=$(_lab_env_value LAB_CTLD_PORT)
LAB_CTLD_PORT=${SLURM_LAB_CTLD_PORT:-${_v:-6817}}
_v=$(_lab_env_value LAB_NODE_PORT)
LAB_NODE_PORT=${SLURM_LAB_NODE_PORT:-${_v:-17001}}
_v=$(_lab_env_value LAB_SSH_PORT)
LAB_SSH_PORT=${SLURM_LAB_SSH_PORT:-${_v:-2222}}
LAB_TIMEOUT=${SLURM_LAB_TIMEOUT:-60}
unset _v
for _knob in LAB_CTLD_PORT LAB_NODE_PORT LAB_SSH_PORT LAB_TIMEOUT; do
    if ! [[ ${!_knob} =~ ^[0-9]+$ ]]; then
        echo "$_knob must be a number: ${!_knob}" >&2
        exit 2
    fi
done
unset _knob

LAB_CONF="$LAB_DIR/etc/slurm.conf"
LAB_RUN="$LAB_DIR/run"
LAB_LOG="$LAB_DIR/log"
LAB_MUNGE="$LAB_DIR/munge"
# shellcheck disable=SC2034
LAB_SOCKET="$LAB_MUNGE/munge.socket.2"
LAB_SSH="$LAB_DIR/ssh"
LAB_STARTED_PIDS="$LAB_RUN/started.pids"
LAB_TAG="SLURM_LAB_TAG=$LAB_DIR"
LAB_HOME=$(getent passwd "$LAB_USER" | cut -d: -f6 || true)
LAB_HOME=${LAB_HOME:-/home/$LAB_USER}
# shellcheck disable=SC2034
LAB_REMOTE_BASE="$LAB_HOME/codeswarm"

export SLURM_CONF="$LAB_CONF"

log() { printf '[slurm-lab] %s\n' "$*" >&2; }
die() {
    printf '[slurm-lab] ERROR: %s\n' "$*" >&2
    exit 1
}

now_ms() { date +%s%3N; }

# wait_for DESCRIPTION SECONDS COMMAND...: poll COMMAND until it succeeds or the deadline passes.
wait_for() {
    local what=$1 secs=$2
    shift 2
    local deadline=$(($(now_ms) + secs * 1000))
    until "$@"; do
        if (($(now_ms) > deadline)); then
            log "timed out after ${secs}s waiting for: $what"
            return 1
        fi
        sleep 0.05
    done
}

# --- processes -------------------------------------------------------------------------

# Fields of /proc/PID/stat after the command name (which may contain spaces): 1=state, 19=starttime.
proc_stat_field() {
    local pid=$1 field=$2 stat rest
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest
    printf '%s\n' "${!field}"
}
proc_state() { proc_stat_field "$1" 1; }
proc_starttime() { proc_stat_field "$1" 20; }
proc_ppid() { proc_stat_field "$1" 2; }

# alive = exists and is not a zombie (pitfall 14: PID 1 reaps orphans lazily here).
proc_alive() {
    local st
    st=$(proc_state "$1") || return 1
    [[ $st != Z && $st != X ]]
}

proc_has_tag() { grep -qsxzF -- "$LAB_TAG" "/proc/$1/environ"; }
proc_cmdline_has_dir() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$LAB_DIR/"; }

# A live process belongs to this lab if it carries the tag or names DIR on its command line.
lab_owns() {
    local pid=$1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    ((pid > 1)) || return 1
    proc_alive "$pid" || return 1
    proc_has_tag "$pid" || proc_cmdline_has_dir "$pid"
}

pidfile_of() {
    case $1 in
    munged) echo "$LAB_MUNGE/munged.pid" ;;
    slurmctld) echo "$LAB_RUN/slurmctld.pid" ;;
    sshd) echo "$LAB_RUN/sshd.pid" ;;
    node*) echo "$LAB_RUN/slurmd.$1.pid" ;;
    *) return 1 ;;
    esac
}

# daemon_pid NAME: print the pid of the lab's running daemon NAME, or fail.
daemon_pid() {
    local f pid
    f=$(pidfile_of "$1") || return 1
    [[ -r $f ]] || return 1
    read -r pid <"$f" || true
    lab_owns "$pid" || return 1
    echo "$pid"
}
daemon_running() { daemon_pid "$1" >/dev/null; }

record_started() {
    local name=$1 pid
    pid=$(daemon_pid "$name") || return 0
    printf '%s %s %s\n' "$name" "$pid" "$(proc_starttime "$pid")" >>"$LAB_STARTED_PIDS"
}

# pids of all descendants of PID (via the ppid field of /proc/*/stat).
descendants_of() {
    local root=$1 p pp
    local -A kids=()
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        pp=$(proc_ppid "$p" 2>/dev/null) || continue
        kids[$pp]+="$p "
    done
    local queue=("$root") cur c
    while ((${#queue[@]})); do
        cur=${queue[0]}
        queue=("${queue[@]:1}")
        for c in ${kids[$cur]:-}; do
            echo "$c"
            queue+=("$c")
        done
    done
}

# "PID STARTTIME" for every live process whose environment carries the lab tag (pitfall 13).
# Never included: this script, its ancestors and its descendants (forked subshells keep the
# environment block they were born with, so they may show the tag even though we unset it).
tagged_processes() {
    local f p a=$$
    local -A mine=()
    while [[ $a =~ ^[0-9]+$ ]] && ((a > 1)); do
        mine[$a]=1
        a=$(proc_ppid "$a") || break
    done
    grep -lsxzF -- "$LAB_TAG" /proc/[0-9]*/environ 2>/dev/null | while read -r f; do
        p=${f#/proc/}
        p=${p%/environ}
        [[ -n ${mine[$p]:-} ]] && continue
        a=$p
        while [[ $a =~ ^[0-9]+$ ]] && ((a > 1)) && ((a != $$)); do
            a=$(proc_ppid "$a") || break
        done
        [[ $a == "$$" ]] && continue
        proc_alive "$p" && echo "$p $(proc_starttime "$p")"
    done
    return 0
}

# "PID STARTTIME" of slurmstepd's, found by their unix sockets under DIR/spool (pitfall 13).
spool_socket_processes() {
    ss -xlpH 2>/dev/null | grep -F " $LAB_DIR/spool/" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u |
        while read -r p; do
            proc_alive "$p" && echo "$p $(proc_starttime "$p")"
        done
    return 0
}

# still_same PID STARTTIME: the process is alive and is the one we noted (no pid reuse).
still_same() {
    proc_alive "$1" || return 1
    [[ $(proc_starttime "$1") == "$2" ]]
}

# stop_processes DEADLINE_SECONDS "PID STARTTIME"...: SIGTERM, then SIGKILL after the deadline.
stop_processes() {
    local secs=$1
    shift
    local entry pid st left=()
    for entry in "$@"; do
        read -r pid st <<<"$entry"
        [[ -n $pid && -n $st ]] || continue
        still_same "$pid" "$st" || continue
        kill -TERM "$pid" 2>/dev/null || true
        left+=("$pid $st")
    done
    ((${#left[@]})) || return 0
    # shellcheck disable=SC2317 # called through wait_for
    _all_gone() {
        local e p s
        for e in "${left[@]}"; do
            read -r p s <<<"$e"
            still_same "$p" "$s" && return 1
        done
        return 0
    }
    if ! wait_for "processes to exit after SIGTERM" "$secs" _all_gone 2>/dev/null; then
        for entry in "${left[@]}"; do
            read -r pid st <<<"$entry"
            if still_same "$pid" "$st"; then
                log "SIGKILL $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done
        wait_for "processes to exit after SIGKILL" 10 _all_gone || return 1
    fi
    return 0
}

# "PID STARTTIME" of daemon NAME, if it runs.
daemon_entry() {
    local pid
    pid=$(daemon_pid "$1") || return 1
    echo "$pid $(proc_starttime "$pid")"
}

# --- ports / cluster state -------------------------------------------------------------

port_in_use() { [[ -n $(ss -Htln "sport = :$1" 2>/dev/null) ]]; }
require_port_free() { port_in_use "$1" && die "port $1 already in use"; return 0; }

ctld_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }

# "NAME STATE" per node, as slurmctld sees it.
node_states() { sinfo -h -N -o '%N %T' 2>/dev/null | sort -u; }

nodes_all() {
    local want=$1 states n
    states=$(node_states) || return 1
    for n in "${LAB_NODES[@]}"; do
        grep -Eqx "$n $want" <<<"$states" || return 1
    done
}
nodes_idle() { nodes_all 'idle'; }
# registered = slurmctld hears from the slurmd (no "*" = not-responding flag, state known).
nodes_registered() { nodes_all '(idle|allocated|mixed|completing|drained|draining)[~#%!$@^-]?'; }

sshd_answers() {
    local banner
    # shellcheck disable=SC2016 # $1 expands in the inner bash
    banner=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && head -c 4 <&3' _ "$LAB_SSH_PORT" 2>/dev/null) || return 1
    [[ $banner == SSH- ]]
}

# jobcomp file readable/appendable by the lab user (pitfall 8); slurmctld resets it on open.
fix_jobcomp() {
    local f="$LAB_LOG/jobcomp.txt"
    wait_for "slurmctld to open $f" 10 test -e "$f" || return 1
    chown "slurm:$LAB_USER" "$f"
    chmod 0664 "$f"
}

# A restarted slurmctld marks every node UNKNOWN and pings running slurmd's only after ~4 s.
# `scontrol reconfigure` makes them re-register at once (~30 ms); it reopens the jobcomp file, so fix
# its mode again afterwards.
nudge_registration() {
    scontrol reconfigure || return 1
    fix_jobcomp || return 1
    wait_for "slurmd's to re-register" "$LAB_TIMEOUT" nodes_registered || return 1
}

start_slurmctld() {
    daemon_running slurmctld && return 0
    require_port_free "$LAB_CTLD_PORT"
    rm -f "$(pidfile_of slurmctld)"
    env "$LAB_TAG" slurmctld -f "$LAB_CONF" -i 9>&-
    wait_for "slurmctld to write its pid file" 15 daemon_running slurmctld || die "slurmctld did not start; see $LAB_LOG/slurmctld.log"
    record_started slurmctld
    wait_for "scontrol ping UP" "$LAB_TIMEOUT" ctld_up || die "slurmctld not UP; see $LAB_LOG/slurmctld.log"
    fix_jobcomp || die "jobcomp file did not appear"
}

start_sshd() {
    daemon_running sshd && return 0
    require_port_free "$LAB_SSH_PORT"
    mkdir -p /run/sshd
    chmod 0755 /run/sshd
    /usr/sbin/sshd -t -f "$LAB_SSH/sshd_config" || die "sshd -t failed"
    rm -f "$(pidfile_of sshd)"
    env "$LAB_TAG" /usr/sbin/sshd -f "$LAB_SSH/sshd_config" -E "$LAB_LOG/sshd.log" 9>&-
    wait_for "sshd pid file" 15 daemon_running sshd || die "sshd did not start; see $LAB_LOG/sshd.log"
    record_started sshd
    wait_for "sshd to answer on 127.0.0.1:$LAB_SSH_PORT" "$LAB_TIMEOUT" sshd_answers || die "sshd does not answer"
}

stop_sshd() {
    local entry
    entry=$(daemon_entry sshd) || return 0
    local pid=${entry%% *} sess=() p
    # note the per-connection sshd's and what runs under them before the listener goes (pitfall 13)
    for p in $(descendants_of "$pid"); do
        proc_alive "$p" && sess+=("$p $(proc_starttime "$p")")
    done
    stop_processes 5 "$entry"
    ((${#sess[@]})) && stop_processes 3 "${sess[@]}"
    rm -f "$(pidfile_of sshd)"
}

stop_slurmctld() {
    local entry
    entry=$(daemon_entry slurmctld) || return 0
    stop_processes 15 "$entry"
    rm -f "$(pidfile_of slurmctld)"
}
