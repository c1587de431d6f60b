#!/usr/bin/env bash
# Tear down (idempotently) what up.sh started, by pid only: the daemons from their pid files and
# $LAB_STARTED_PIDS (start times checked against pid reuse), sshd's sessions noted before sshd stops,
# and leftover slurmstepd's / job tasks found by their sockets under DIR/spool and by the lab tag
# in their environment (pitfall 13). SIGTERM first, SIGKILL after a deadline; zombies count as
# stopped (pitfall 14). Keeps DIR (state, logs, keys) so job ids persist (pitfall 17).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/common.sh
. "$HERE/common.sh"

T0=$(now_ms)
[[ $(id -u) == 0 ]] || die "down.sh must run as root"
if [[ ! -d $LAB_DIR ]]; then
    log "no lab at $LAB_DIR; nothing to stop"
    echo "LAB_DOWN"
    exit 0
fi
exec 9>"$LAB_DIR/.lock"
flock -w "$LAB_TIMEOUT" 9 || die "another up.sh/down.sh holds $LAB_DIR/.lock"

# 1. login node first (no new work comes in), with the sessions it had
stop_sshd

# 2. cancel running jobs while the cluster still works, so their steps end cleanly instead of
#    being left to SIGKILL (pitfall 12)
no_live_jobs() { [[ -z $(squeue -h -o '%i' 2>/dev/null) ]]; }
all_nodes_up=1
for n in "${LAB_NODES[@]}"; do daemon_running "$n" || all_nodes_up=0; done
if daemon_running slurmctld && ((all_nodes_up)) && daemon_running munged && ctld_up; then
    mapfile -t jobs < <(squeue -h -o '%i' 2>/dev/null || true)
    if ((${#jobs[@]})); then
        log "cancelling jobs: ${jobs[*]}"
        scancel "${jobs[@]}" 2>/dev/null || true
        wait_for "jobs to end" 10 no_live_jobs || true
    fi
fi

# 3. slurmctld, then the slurmd's
stop_slurmctld
entries=()
for n in "${LAB_NODES[@]}"; do
    e=$(daemon_entry "$n") && entries+=("$e")
done
((${#entries[@]})) && stop_processes 10 "${entries[@]}"
for n in "${LAB_NODES[@]}"; do rm -f "$(pidfile_of "$n")"; done

# 4. anything else this lab started and recorded (e.g. daemons whose pid file went missing)
entries=()
if [[ -r $LAB_STARTED_PIDS ]]; then
    while read -r name pid st; do
        [[ $name == munged ]] && continue
        [[ -n ${pid:-} && -n ${st:-} ]] && still_same "$pid" "$st" && entries+=("$pid $st")
    done <"$LAB_STARTED_PIDS"
fi
((${#entries[@]})) && stop_processes 10 "${entries[@]}"

# 5. leftover slurmstepd's and job tasks (they ignore SIGTERM: SIGKILL after 3 s)
munged_entry=$(daemon_entry munged || true)
mapfile -t entries < <({ spool_socket_processes; tagged_processes; } | sort -u | grep -vxF "${munged_entry:-none}")
if ((${#entries[@]})); then
    log "stopping ${#entries[@]} leftover process(es): $(cut -d' ' -f1 <<<"$(printf '%s\n' "${entries[@]}")" | tr '\n' ' ')"
    stop_processes 3 "${entries[@]}"
fi

# 6. munged last
[[ -n $munged_entry ]] && stop_processes 10 "$munged_entry"
if [[ -r $LAB_STARTED_PIDS ]]; then
    while read -r name pid st; do
        [[ $name == munged && -n ${pid:-} && -n ${st:-} ]] && still_same "$pid" "$st" && stop_processes 10 "$pid $st"
    done <"$LAB_STARTED_PIDS"
fi
rm -f "$LAB_MUNGE/munged.pid"
: >"$LAB_STARTED_PIDS"

log "down in $(($(now_ms) - T0)) ms"
echo "LAB_DOWN"
