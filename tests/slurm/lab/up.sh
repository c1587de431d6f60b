#!/usr/bin/env bash
# Bring up (idempotently) a real Slurm 22.05 cluster on loopback for the test suite:
# munged, slurmctld, two slurmd's (node1, node2) and an sshd login node on 127.0.0.1.
# Run as root. Spec: /work/shared/notes/slurm-test-cluster.md.
#
# Knobs (environment): SLURM_LAB_DIR (default /var/tmp/codeswarm-slurm-lab), SLURM_LAB_CTLD_PORT (6817),
# SLURM_LAB_NODE_PORT (17001; node2 uses the next port), SLURM_LAB_SSH_PORT (2222), SLURM_LAB_TIMEOUT (60 s
# per wait). Unset port knobs default to what DIR/lab.env recorded last time, then to the defaults above.
#
# Output: progress on stderr; on stdout `LAB_ENV=<path of lab.env>`, `LAB_STARTED=0|1` (1 = this run started at least one daemon)
# and, last, `LAB_READY`. Writes $SLURM_LAB_DIR/lab.env (shell-style KEY=VALUE lines).
set -euo pipefail
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/common.sh
. "$HERE/common.sh"

T0=$(now_ms)
[[ $(id -u) == 0 ]] || die "up.sh must run as root"

# --- packages (pitfalls 1, 2) ------------------------------------------------------------
PKGS=(slurm-wlm munge openssh-server)
pkg_installed() { [[ $(dpkg-query -W -f '${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }
missing=()
for p in "${PKGS[@]}"; do pkg_installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    added_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    apt_install() {
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PKGS[@]}" >"$1" 2>&1
    }
    out=$(mktemp)
    rc=0
    apt_install "$out" || rc=$?
    if ((rc)) && grep -Eq 'Unable to locate package|has no installation candidate|Failed to fetch|404 +Not Found' "$out"; then
        log "package lists missing or stale: apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update >>"$out" 2>&1 || true
        rc=0
        apt_install "$out" || rc=$?
    fi
    ((added_policy)) && rm -f /usr/sbin/policy-rc.d
    if ((rc)); then
        cat "$out" >&2
        rm -f "$out"
        die "apt-get install failed"
    fi
    rm -f "$out"
    log "packages installed in $(($(now_ms) - T0)) ms"
fi
getent passwd slurm >/dev/null || die "user slurm missing after install"
getent passwd munge >/dev/null || die "user munge missing after install"

# --- the lab user (pitfall 5) ------------------------------------------------------------
if ! getent passwd "$LAB_USER" >/dev/null; then
    useradd -m -s /bin/bash "$LAB_USER"
fi
LAB_HOME=$(getent passwd "$LAB_USER" | cut -d: -f6)
LAB_REMOTE_BASE="$LAB_HOME/codeswarm"
if [[ $(getent shadow "$LAB_USER" | cut -d: -f2) != '*' ]]; then
    usermod -p '*' "$LAB_USER"
fi
install -d -o "$LAB_USER" -g "$LAB_USER" -m 0755 "$LAB_HOME" "$LAB_REMOTE_BASE"
install -d -o "$LAB_USER" -g "$LAB_USER" -m 0700 "$LAB_HOME/.ssh"

# --- the lab directory ---------------------------------------------------------------------
mkdir -p "$LAB_DIR"
# the lab user (jobs, sbatch, munge clients) must traverse DIR and its parents
d=$LAB_DIR
while [[ $d != / && -n $d ]]; do
    if [[ $(stat -c '%A' "$d") != ?????????[xt] ]]; then
        log "making $d traversable (o+x)"
        chmod o+x "$d"
    fi
    d=$(dirname "$d")
done
chmod 0755 "$LAB_DIR"

exec 9>"$LAB_DIR/.lock"
flock -w "$LAB_TIMEOUT" 9 || die "another up.sh/down.sh holds $LAB_DIR/.lock"

install -d -m 0755 "$LAB_DIR/etc" "$LAB_SSH"
install -d -o slurm -g slurm -m 0755 "$LAB_RUN" "$LAB_LOG" "$LAB_DIR/state"
install -d -o munge -g munge -m 0755 "$LAB_MUNGE"
install -d -m 0755 "$LAB_DIR/spool"
for n in "${LAB_NODES[@]}"; do install -d -m 0755 "$LAB_DIR/spool/$n"; done # pitfall 3
touch "$LAB_STARTED_PIDS"

# --- configuration ---------------------------------------------------------------------------
node_last_port=$((LAB_NODE_PORT + ${#LAB_NODES[@]} - 1))
slurm_conf() {
    cat <<EOF
ClusterName=lab
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$LAB_CTLD_PORT
SlurmUser=slurm
# bind slurmctld / slurmd / srun to the configured address instead of 0.0.0.0
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$LAB_SOCKET
StateSaveLocation=$LAB_DIR/state
SlurmdSpoolDir=$LAB_DIR/spool/%n
SlurmctldPidFile=$LAB_RUN/slurmctld.pid
SlurmdPidFile=$LAB_RUN/slurmd.%n.pid
SlurmctldLogFile=$LAB_LOG/slurmctld.log
SlurmdLogFile=$LAB_LOG/slurmd.%n.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LAB_LOG/jobcomp.txt
SelectType=select/cons_tres
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
EnforcePartLimits=ALL
KillWait=5
MinJobAge=300
NodeName=node[1-${#LAB_NODES[@]}] NodeHostname=localhost NodeAddr=127.0.0.1 Port=[$LAB_NODE_PORT-$node_last_port] CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=small Nodes=ALL MaxNodes=1 MaxTime=10 State=UP
EOF
}
sshd_conf() {
    cat <<EOF
Port $LAB_SSH_PORT
ListenAddress 127.0.0.1
HostKey $LAB_SSH/ssh_host_ed25519_key
PidFile $LAB_RUN/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
AllowUsers $LAB_USER
AuthorizedKeysFile .ssh/authorized_keys
SetEnv SLURM_CONF=$LAB_CONF $LAB_TAG
Subsystem sftp internal-sftp
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 64
LogLevel INFO
EOF
}

# write_conf FILE GENERATOR DAEMON...: (re)write FILE; refuse to change it under running daemons.
write_conf() {
    local file=$1 gen=$2 new
    shift 2
    new=$("$gen")
    if [[ -e $file ]] && [[ $(cat "$file") == "$new" ]]; then
        return 0
    fi
    local d
    for d in "$@"; do
        if daemon_running "$d"; then
            die "$file would change (other ports/knobs?) while $d runs; run $HERE/down.sh first"
        fi
    done
    printf '%s\n' "$new" >"$file.tmp"
    chmod 0644 "$file.tmp"
    mv "$file.tmp" "$file"
}
write_conf "$LAB_CONF" slurm_conf slurmctld "${LAB_NODES[@]}"
write_conf "$LAB_SSH/sshd_config" sshd_conf sshd

# --- keys ----------------------------------------------------------------------------------------
if [[ ! -s $LAB_MUNGE/munge.key ]]; then
    runuser -u munge -- mungekey --create --keyfile="$LAB_MUNGE/munge.key" --bits=1024
fi
if [[ ! -s $LAB_SSH/ssh_host_ed25519_key ]]; then
    rm -f "$LAB_SSH/ssh_host_ed25519_key" "$LAB_SSH/ssh_host_ed25519_key.pub"
    ssh-keygen -q -t ed25519 -N '' -C "codeswarm-slurm-lab-host" -f "$LAB_SSH/ssh_host_ed25519_key"
fi
if [[ ! -s $LAB_SSH/id_ed25519 ]]; then
    rm -f "$LAB_SSH/id_ed25519" "$LAB_SSH/id_ed25519.pub"
    ssh-keygen -q -t ed25519 -N '' -C "codeswarm-slurm-lab:$LAB_DIR" -f "$LAB_SSH/id_ed25519"
fi
chmod 0600 "$LAB_SSH/ssh_host_ed25519_key" "$LAB_SSH/id_ed25519"
read -r host_type host_key _ <"$LAB_SSH/ssh_host_ed25519_key.pub"
printf '[127.0.0.1]:%s %s %s\n' "$LAB_SSH_PORT" "$host_type" "$host_key" >"$LAB_SSH/known_hosts.tmp"
mv "$LAB_SSH/known_hosts.tmp" "$LAB_SSH/known_hosts"
chmod 0644 "$LAB_SSH/known_hosts"

# authorized_keys: keep other keys, replace this lab's entry
ak="$LAB_HOME/.ssh/authorized_keys"
pub=$(cat "$LAB_SSH/id_ed25519.pub")
if ! [[ -e $ak ]] || ! grep -qxF "$pub" "$ak"; then
    # shellcheck disable=SC2015 # grep -v exits 1 when it prints nothing
    { [[ -e $ak ]] && grep -vF " codeswarm-slurm-lab:$LAB_DIR" "$ak" || true; } >"$ak.tmp"
    printf '%s\n' "$pub" >>"$ak.tmp"
    mv "$ak.tmp" "$ak"
fi
chown "$LAB_USER:$LAB_USER" "$ak"
chmod 0600 "$ak"

# --- daemons ---------------------------------------------------------------------------------
# check every port we are about to bind before starting anything (pitfall 19)
daemon_running slurmctld || require_port_free "$LAB_CTLD_PORT"
for i in "${!LAB_NODES[@]}"; do
    daemon_running "${LAB_NODES[$i]}" || require_port_free $((LAB_NODE_PORT + i))
done
daemon_running sshd || require_port_free "$LAB_SSH_PORT"

STARTED=0

munge_works() { munge -n --socket="$LAB_SOCKET" 2>/dev/null | unmunge --socket="$LAB_SOCKET" >/dev/null 2>&1; }
if ! daemon_running munged; then
    rm -f "$LAB_MUNGE/munged.pid" "$LAB_SOCKET" "$LAB_SOCKET.lock"
    env "$LAB_TAG" runuser -u munge -- munged \
        --key-file="$LAB_MUNGE/munge.key" \
        --socket="$LAB_SOCKET" \
        --pid-file="$LAB_MUNGE/munged.pid" \
        --log-file="$LAB_MUNGE/munged.log" \
        --seed-file="$LAB_MUNGE/munged.seed" 9>&-
    wait_for "munged pid file" 15 daemon_running munged || die "munged did not start; see $LAB_MUNGE/munged.log"
    record_started munged
    STARTED=1
fi
wait_for "munge round trip" "$LAB_TIMEOUT" munge_works || die "munged does not answer on $LAB_SOCKET"

ctld_started=0
if ! daemon_running slurmctld; then
    start_slurmctld
    STARTED=1
    ctld_started=1
    log "slurmctld UP after $(($(now_ms) - T0)) ms"
fi

missing_nodes=()
for n in "${LAB_NODES[@]}"; do daemon_running "$n" || missing_nodes+=("$n"); done
if ((${#missing_nodes[@]})); then
    # pitfall 12: jobs slurmctld knows before we (re)start slurmd's are left over from an unclean
    # stop. Note them now; cancel them once the slurmd's have registered.
    mapfile -t recovered < <(squeue -h -o '%i' 2>/dev/null || true)
    for i in "${!LAB_NODES[@]}"; do
        n=${LAB_NODES[$i]}
        daemon_running "$n" && continue
        require_port_free $((LAB_NODE_PORT + i))
        rm -f "$(pidfile_of "$n")"
        env "$LAB_TAG" slurmd -f "$LAB_CONF" -N "$n" 9>&-
    done
    for n in "${missing_nodes[@]}"; do
        wait_for "slurmd $n pid file" 15 daemon_running "$n" || die "slurmd $n did not start; see $LAB_LOG/slurmd.$n.log"
        record_started "$n"
    done
    STARTED=1
    if ((${#recovered[@]})); then
        log "cancelling jobs left over from an unclean stop: ${recovered[*]}"
        wait_for "slurmd's to register" "$LAB_TIMEOUT" nodes_registered || die "nodes did not register: $(node_states | tr '\n' ' ')"
        scancel "${recovered[@]}" 2>/dev/null || true
    fi
elif ((ctld_started)); then
    # only slurmctld was down: the running slurmd's would re-register only after ~4 s
    nudge_registration || die "nodes did not register: $(node_states | tr '\n' ' ')"
fi
wait_for "both nodes idle" "$LAB_TIMEOUT" nodes_idle || die "nodes not idle: $(node_states | tr '\n' ' '); see $LAB_LOG/"
log "nodes idle after $(($(now_ms) - T0)) ms"

if ! daemon_running sshd; then
    start_sshd
    STARTED=1
fi
wait_for "sshd to answer" "$LAB_TIMEOUT" sshd_answers || die "sshd does not answer on 127.0.0.1:$LAB_SSH_PORT"

# --- lab.env -----------------------------------------------------------------------------------
{
    printf '%s=%q\n' \
        SLURM_LAB_DIR "$LAB_DIR" \
        SLURM_CONF "$LAB_CONF" \
        LAB_SSH_HOST 127.0.0.1 \
        LAB_SSH_PORT "$LAB_SSH_PORT" \
        LAB_SSH_USER "$LAB_USER" \
        LAB_SSH_KEY "$LAB_SSH/id_ed25519" \
        LAB_KNOWN_HOSTS "$LAB_SSH/known_hosts" \
        LAB_REMOTE_BASE "$LAB_REMOTE_BASE" \
        LAB_STARTED_PIDS "$LAB_STARTED_PIDS" \
        LAB_CTLD_PORT "$LAB_CTLD_PORT" \
        LAB_NODE_PORT "$LAB_NODE_PORT"
} >"$LAB_DIR/lab.env.tmp"
chmod 0644 "$LAB_DIR/lab.env.tmp"
mv "$LAB_DIR/lab.env.tmp" "$LAB_DIR/lab.env"

log "ready in $(($(now_ms) - T0)) ms (started=$STARTED, dir=$LAB_DIR)"
printf 'LAB_ENV=%s\n' "$LAB_DIR/lab.env"
echo "LAB_STARTED=$STARTED"
echo "LAB_READY"
