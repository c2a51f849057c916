#!/usr/bin/env bash
# Build the worker's Debian base image offline (no container registry needed):
# debootstrap a minimal bookworm with Python, Node.js and g++, then `docker import`
# (Go comes from bookworm-backports in worker/Dockerfile).
#
#   scripts/bootstrap-base.sh [IMAGE]      (default: code-engine-base:bookworm)
set -euo pipefail

IMAGE="${1:-code-engine-base:bookworm}"
SUITE="${CODE_ENGINE_BASE_SUITE:-bookworm}"
PACKAGES="python3,nodejs,g++,ca-certificates"

mirror() {
    if [ -n "${CODE_ENGINE_DEBIAN_MIRROR:-}" ]; then echo "$CODE_ENGINE_DEBIAN_MIRROR"; return; fi
    local uri
    uri=$(grep -hoE '^URIs:\s*\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
    if [ -z "$uri" ]; then
        uri=$(grep -hoE '^deb\s+\S+' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

command -v debootstrap >/dev/null 2>&1 || {
    echo "bootstrap-base: installing debootstrap" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

ROOT=$(mktemp -d /var/tmp/code-engine-rootfs.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT

MIRROR=$(mirror)
echo "bootstrap-base: debootstrap $SUITE from $MIRROR (about a minute)" >&2
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >&2

rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
echo "bootstrap-base: importing as $IMAGE" >&2
tar -C "$ROOT" --exclude=./proc --exclude=./sys --exclude=./dev -c . | docker import - "$IMAGE" >&2
echo "bootstrap-base: done" >&2
