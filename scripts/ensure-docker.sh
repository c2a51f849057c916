#!/usr/bin/env bash
# Make sure a Docker daemon answers on the unix socket: install Debian's
# docker.io when dockerd is missing, start dockerd when nothing answers.
#
# With WITH_RUNSC=1 (set by `make` when CODE_ENGINE_RUNTIME=runsc, and by
# `make test`, whose gVisor pass needs it), gVisor's runsc is installed from
# Debian's packages and registered as the Docker runtime `runsc`. A dockerd
# this script starts gets it registered before it starts; a dockerd this script
# started earlier (its pid is in $STARTED) reloads its configuration (SIGHUP)
# to take it up. A dockerd someone else started is never touched: the script
# prints the daemon.json entry to add and exits non-zero.
set -euo pipefail

SOCK="${DOCKER_HOST:-unix:///var/run/docker.sock}"
SOCK="${SOCK#unix://}"
DAEMON_JSON="${DAEMON_JSON:-/etc/docker/daemon.json}"
STARTED=/run/code-engine-dockerd.pid   # the dockerd this script started
WITH_RUNSC="${WITH_RUNSC:-0}"
export DEBIAN_FRONTEND=noninteractive

ping() { curl -sf --max-time 2 --unix-socket "$SOCK" http://docker/_ping >/dev/null 2>&1; }
# A process that exists and is not a zombie: a SIGKILLed dockerd whose parent has
# not reaped it yet (nohup'd, it is init's) still answers kill -0.
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
say() { echo "ensure-docker: $*" >&2; }
# Wait up to $2 quarter-seconds for process $1 to be gone; true once it is.
wait_gone() {
    for _ in $(seq 1 "$2"); do
        alive "$1" || return 0
        sleep 0.25
    done
    ! alive "$1"
}

# On this kind of host (a VM whose root network namespace is the only one
# runsc may not touch) gVisor runs only without its own network stack, which
# worker containers never use anyway (NetworkMode none). Not --oci-seccomp:
# this runsc turns the errno of Docker's clone3 rule (ENOSYS, on which glibc
# falls back to clone) into EPERM, and no thread could start; the job's own
# filter (agent/seccomp.py) refuses what the profile would inside the sandbox.
RUNSC_ARGS='["--network=none"]'
RUNSC_ENTRY='{"runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": '"$RUNSC_ARGS"'}}}'

# Exit 0 when dockerd has runsc with exactly these arguments; 2 when runsc is
# there with others (an earlier set-up's), 1 when it is missing.
runsc_registered() {
    curl -sf --max-time 5 --unix-socket "$SOCK" http://docker/info |
        python3 -c '
import json, sys
runsc = json.load(sys.stdin).get("Runtimes", {}).get("runsc")
sys.exit(1 if runsc is None else 0 if runsc.get("runtimeArgs") == json.loads(sys.argv[1]) else 2)
' "$RUNSC_ARGS"
}

install_packages() {
    local missing=()
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io debootstrap)
    if [ "$WITH_RUNSC" = 1 ] && ! [ -x /usr/bin/runsc ]; then missing+=(runsc); fi
    if [ "${#missing[@]}" -gt 0 ]; then
        say "installing ${missing[*]} from Debian's packages"
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

register_runsc() {
    # Merge the runtime into whatever daemon.json holds already.
    mkdir -p "$(dirname "$DAEMON_JSON")"
    python3 - "$DAEMON_JSON" "$RUNSC_ENTRY" <<'EOF'
import json, os, sys
path, entry = sys.argv[1], json.loads(sys.argv[2])
config = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
config.setdefault("runtimes", {}).update(entry["runtimes"])
with open(path + ".tmp", "w") as f:
    json.dump(config, f, indent=2)
os.replace(path + ".tmp", path)
EOF
    say "registered runsc in $DAEMON_JSON"
}

start_dockerd() {
    # A dockerd that was just stopped may still be exiting (or a zombie: nohup'd,
    # it is init's to reap), and a SIGKILLed one leaves its pid file behind; a new
    # one refuses to start while that file names a process that exists.
    if [ -f /var/run/docker.pid ]; then
        local old
        old="$(cat /var/run/docker.pid)"
        if ! wait_gone "$old" 60; then
            say "dockerd $old neither answers on $SOCK nor exits; see /var/log/dockerd.log"
            exit 1
        fi
        rm -f /var/run/docker.pid
    fi
    # The containerd a dead dockerd started for itself outlives it for a moment
    # (or as a zombie, never reaped): a new dockerd that finds its pid file
    # alive connects to it instead of starting its own, and waits forever for a
    # containerd that is going away. With no dockerd left, it is an orphan:
    # given time to go, then stopped (containers keep running: their shims
    # outlive containerd, and the new one takes them up).
    local managed=/var/run/docker/containerd/containerd.pid
    if [ -f "$managed" ]; then
        local orphan
        orphan="$(cat "$managed")"
        if ! wait_gone "$orphan" 20; then
            say "stopping containerd $orphan, left by a dockerd that is gone"
            kill -TERM "$orphan" 2>/dev/null || true
            wait_gone "$orphan" 20 || kill -KILL "$orphan" 2>/dev/null || true
        fi
        rm -f "$managed"
    fi
    say "starting dockerd (log: /var/log/dockerd.log)"
    # Without the caller's open files: a dockerd holding, say, the lock file a
    # `flock` around this script took would hold that lock for its whole life.
    (
        for fd in /proc/self/fd/*; do
            fd="${fd##*/}"
            if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null
    ) &
    echo $! >"$STARTED"
    for _ in $(seq 1 60); do
        if ping; then
            return 0
        fi
        sleep 0.5
    done
    say "dockerd did not answer within 30 s; see /var/log/dockerd.log"
    exit 1
}

started_here() {
    [ -f "$STARTED" ] && [ -f /var/run/docker.pid ] &&
        [ "$(cat "$STARTED")" = "$(cat /var/run/docker.pid)" ] &&
        alive "$(cat "$STARTED")"
}

install_packages

if ! ping; then
    if [ "$WITH_RUNSC" = 1 ]; then register_runsc; fi
    start_dockerd
fi

registered=0
if [ "$WITH_RUNSC" = 1 ]; then runsc_registered || registered=$?; fi
if [ "$registered" != 0 ]; then
    if ! started_here; then
        say "gVisor was asked for, but the running dockerd has no runsc runtime (or one without"
        say "these arguments) and was not started by this set-up, so it is left alone."
        say "Add this to $DAEMON_JSON and restart it (or send it SIGHUP):"
        echo "$RUNSC_ENTRY" >&2
        exit 1
    fi
    register_runsc
fi
if [ "$registered" != 0 ]; then
    # dockerd reloads its runtimes on SIGHUP: no restart, and running containers
    # (anyone's) are not disturbed.
    say "reloading the dockerd this set-up started, to take up runsc"
    kill -HUP "$(cat "$STARTED")"
    for _ in $(seq 1 20); do
        if runsc_registered; then
            exit 0
        fi
        sleep 0.5
    done
    say "dockerd still lists no runsc runtime with $RUNSC_ARGS; see /var/log/dockerd.log"
    exit 1
fi
