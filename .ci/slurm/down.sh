#!/usr/bin/env bash
# Stop the single-node SLURM cluster that up.sh started.
#
# Cancels the cluster's jobs, stops exactly the daemons whose PIDs up.sh recorded (no other
# process is signalled), then removes the configuration and state directory that up.sh wrote.
# Safe to run when nothing is up. Environment: SRHM_SLURM_STATE, as for up.sh.
set -euo pipefail

STATE=${SRHM_SLURM_STATE:-/var/tmp/srhm-slurm}
CONF_DIR=/etc/slurm
MARKER="# srhm-ci single-node SLURM cluster"
PIDS=$STATE/pids
STOP_TIMEOUT_S=20

if [[ ! -s $PIDS ]]; then
    echo "slurm down: no $PIDS, nothing to stop"
    exit 0
fi

# A recorded PID still names our daemon (and not a process that reused the number).
is_ours() { [[ -r /proc/$1/comm && $(</proc/"$1"/comm) == "$2" ]]; }

# Jobs first, while slurmctld still runs: their processes hang off slurmstepd, not the daemons.
job_ids=$(squeue --noheader --format=%i 2>/dev/null || true)
if [[ -n $job_ids ]]; then
    # shellcheck disable=SC2086
    scancel $job_ids || true
    deadline=$((SECONDS + STOP_TIMEOUT_S))
    while [[ -n $(squeue --noheader --states=running,completing --format=%i 2>/dev/null) ]] && ((SECONDS < deadline)); do
        sleep 0.5
    done
fi

# Daemons in reverse start order: slurmd, slurmctld, munged.
mapfile -t records < <(tac "$PIDS")
for record in "${records[@]}"; do
    read -r pid name <<<"$record"
    if is_ours "$pid" "$name"; then
        kill -TERM "$pid"
    fi
done
deadline=$((SECONDS + STOP_TIMEOUT_S))
for record in "${records[@]}"; do
    read -r pid name <<<"$record"
    while is_ours "$pid" "$name" && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if is_ours "$pid" "$name"; then
        echo "slurm down: $name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT_S} s, sending SIGKILL" >&2
        kill -KILL "$pid"
    fi
done

for conf in "$CONF_DIR"/slurm.conf "$CONF_DIR"/gres.conf; do
    if [[ -f $conf ]] && head -n 1 "$conf" | grep -qF "$MARKER"; then
        rm -f "$conf"
    fi
done
rm -rf "$STATE"
echo "slurm down: stopped ${#records[@]} daemons"
