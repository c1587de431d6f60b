#!/usr/bin/env bash
# Outage helpers for tests, on a lab that up.sh brought up (its ports are read from DIR/lab.env):
#   ctl.sh stop-slurmctld    stop slurmctld only (jobs and slurmd's keep running)
#   ctl.sh start-slurmctld   start it again; wait for `scontrol ping` UP and the slurmd's to re-register
#                            (jobs are recovered from the state directory)
#   ctl.sh restart-sshd      stop the login node's sshd and its open sessions, start it again
#   ctl.sh stop-sshd         stop the login node's sshd and its open sessions (the login node is down)
#   ctl.sh start-sshd        start it again and wait until it answers
#   ctl.sh status            print one "NAME PID|-" line per daemon
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/common.sh
. "$HERE/common.sh"

[[ $(id -u) == 0 ]] || die "ctl.sh must run as root"
[[ -r $LAB_DIR/lab.env ]] || die "no lab.env in $LAB_DIR; run up.sh first"

exec 9>"$LAB_DIR/.lock"
flock -w "$LAB_TIMEOUT" 9 || die "another lab script holds $LAB_DIR/.lock"

case ${1:-} in
stop-slurmctld)
    stop_slurmctld
    ;;
start-slurmctld)
    start_slurmctld
    # slurmctld starts with every node UNKNOWN; usable again once the slurmd's have re-registered
    all_nodes_up=1
    for n in "${LAB_NODES[@]}"; do daemon_running "$n" || all_nodes_up=0; done
    if ((all_nodes_up)); then
        nudge_registration || die "nodes did not register: $(node_states | tr '\n' ' ')"
    fi
    ;;
restart-sshd)
    stop_sshd
    start_sshd
    ;;
stop-sshd)
    stop_sshd
    ;;
start-sshd)
    start_sshd
    ;;
status)
    for d in munged slurmctld "${LAB_NODES[@]}" sshd; do
        printf '%s %s\n' "$d" "$(daemon_pid "$d" || echo -)"
    done
    ;;
*)
    die "usage: $0 stop-slurmctld|start-slurmctld|restart-sshd|status"
    ;;
esac
echo "OK"
