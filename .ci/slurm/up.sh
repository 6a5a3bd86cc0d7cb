#!/usr/bin/env bash
# Bring up a real single-node SLURM cluster (munged, slurmctld, slurmd) on this machine.
#
# For CI machines without systemd, as root: installs the Debian packages if missing, writes
# /etc/slurm/slurm.conf and gres.conf for this host from the *.in templates beside this script,
# starts the three daemons in the background and records their PIDs in $SRHM_SLURM_STATE/pids
# for down.sh. Returns once the node accepts jobs, printing how long the bring-up took; on
# failure prints the daemons' logs and stops what it started. Running it again restarts the
# cluster it started before.
#
# Environment: SRHM_SLURM_STATE (default /var/tmp/srhm-slurm): state, logs and PID file.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${SRHM_SLURM_STATE:-/var/tmp/srhm-slurm}
CONF_DIR=/etc/slurm
MARKER="# srhm-ci single-node SLURM cluster"
READY_TIMEOUT_S=60

fail() {
    echo "slurm up: $*" >&2
    for log in "$STATE"/munged.log "$STATE"/slurmctld.log "$STATE"/slurmd.log; do
        [[ -s $log ]] && { echo "--- tail of $log" >&2; tail -n 20 "$log" >&2; }
    done
    [[ -s $STATE/pids ]] && "$HERE/down.sh" >&2
    exit 1
}

seconds_since() { awk -v t0="$1" -v t1="$EPOCHREALTIME" 'BEGIN { printf "%.1f", t1 - t0 }'; }

[[ $(id -u) -eq 0 ]] || { echo "slurm up: must run as root (starts daemons, writes $CONF_DIR)" >&2; exit 1; }
# A cluster from an earlier bring-up (or its stale PID file) is stopped and cleared first.
if [[ -s $STATE/pids ]]; then
    "$HERE/down.sh"
fi
for conf in slurm.conf gres.conf; do
    if [[ -e $CONF_DIR/$conf ]] && ! head -n 1 "$CONF_DIR/$conf" | grep -qF "$MARKER"; then
        echo "slurm up: $CONF_DIR/$conf was not written by this script; refusing to overwrite a site's configuration" >&2
        exit 1
    fi
done

if ! dpkg -s slurmctld slurmd slurm-client munge >/dev/null 2>&1; then
    install_start=$EPOCHREALTIME
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
    echo "slurm up: packages installed in $(seconds_since "$install_start") s"
fi

start=$EPOCHREALTIME
rm -rf "$STATE"
mkdir -p "$STATE"/slurmctld "$STATE"/slurmd

# munge: one shared key; the daemon runs as the munge user and listens on /run/munge.
if [[ ! -s /etc/munge/munge.key ]]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge

# Configuration for this host: the node line (CPUs, sockets, cores, memory) as slurmd sees it.
node_line=$(slurmd -C | head -n 1)
[[ $node_line == NodeName=* ]] || fail "slurmd -C gave no node line: $node_line"
cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node_line")
real_mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")
def_mem_per_cpu=$((real_mem / cpus < 1024 ? real_mem / cpus : 1024))
mkdir -p "$CONF_DIR"
for conf in slurm.conf gres.conf; do
    sed -e "s|@HOST@|$(hostname -s)|g" \
        -e "s|@STATE@|$STATE|g" \
        -e "s|@DEF_MEM_PER_CPU@|$def_mem_per_cpu|g" \
        -e "s|@NODE_LINE@|$node_line|g" \
        "$HERE/$conf.in" >"$CONF_DIR/$conf.tmp$$"
    mv "$CONF_DIR/$conf.tmp$$" "$CONF_DIR/$conf"
done

# Daemons in the foreground of background processes, so $! is the daemon itself.
start_daemon() {
    local name=$1
    shift
    setsid "$@" >"$STATE/$name.log" 2>&1 </dev/null &
    echo "$! $name" >>"$STATE/pids"
}
start_daemon munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground
for _ in $(seq 50); do
    [[ -S /run/munge/munge.socket.2 ]] && break
    sleep 0.1
done
munge -n | unmunge >/dev/null || fail "munge credentials do not round-trip"
start_daemon slurmctld /usr/sbin/slurmctld -D
start_daemon slurmd /usr/sbin/slurmd -D

# Ready when the node is idle in the default partition.
deadline=$((SECONDS + READY_TIMEOUT_S))
until [[ $(sinfo --noheader --partition=cpu --format=%T 2>/dev/null) == idle ]]; do
    ((SECONDS < deadline)) || fail "node not idle after ${READY_TIMEOUT_S} s: $(sinfo 2>&1)"
    while read -r pid name; do
        kill -0 "$pid" 2>/dev/null || fail "$name (pid $pid) exited"
    done <"$STATE/pids"
    sleep 0.2
done
echo "slurm up: node $(hostname -s) ready in $(seconds_since "$start") s ($cpus CPUs, $real_mem MB; state in $STATE)"
