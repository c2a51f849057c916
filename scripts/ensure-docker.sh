#!/usr/bin/env bash
# Make sure a Docker daemon answers on the unix socket: install Debian's
# docker.io when dockerd is missing, start dockerd when nothing answers.
set -euo pipefail

SOCK="${DOCKER_HOST:-unix:///var/run/docker.sock}"
SOCK="${SOCK#unix://}"

ping() { curl -sf --max-time 2 --unix-socket "$SOCK" http://docker/_ping >/dev/null 2>&1; }

if ping; then
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
    echo "ensure-docker: installing docker.io from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io debootstrap >/dev/null
fi
command -v curl >/dev/null 2>&1 || apt-get install -y -qq curl >/dev/null

echo "ensure-docker: starting dockerd (log: /var/log/dockerd.log)" >&2
nohup dockerd >/var/log/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
    if ping; then
        exit 0
    fi
    sleep 0.5
done
echo "ensure-docker: dockerd did not answer within 30 s; see /var/log/dockerd.log" >&2
exit 1
