#!/usr/bin/env bash
# Make sure a Compose command exists, and print it: the Compose v2 plugin
# (`docker compose`) when the Docker CLI has it, else `docker-compose`; when
# neither is there, install Debian's docker-compose package (1.29, from the
# distribution's own archive: no container registry or download site needed).
set -euo pipefail

if docker compose version >/dev/null 2>&1; then
    echo "docker compose"
    exit 0
fi
if ! command -v docker-compose >/dev/null 2>&1; then
    echo "ensure-compose: installing docker-compose from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq docker-compose >/dev/null 2>&1 || {
        apt-get update -qq
        apt-get install -y -qq docker-compose >/dev/null
    }
fi
echo "docker-compose"
