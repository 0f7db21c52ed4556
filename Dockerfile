# The service's image. It talks to the host's engine through the socket mounted into it,
# and serves on all the container's addresses; give it tokens (without any, it makes an
# administrator token in /var/lib/dockyard/admin-token):
#   docker run -d --name dockyard -p 127.0.0.1:8000:8000 \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -e DOCKYARD_TOKENS='[{"name": "ops", "hash": "sha256:...", "scopes": ["read"]}]' dockyard
# (make a token with: flask --app service token new ops --scope read)
# deploy/compose.yaml, deploy/stack.yaml and deploy/kubernetes/ run it read-only, with tokens
# from a file.
#
# Two stages: the builder makes the wheels and installs them into a venv; the runtime stage
# gets that venv alone (no pip, no build tools, no caches, no wheels).
#
# BASE_IMAGE must provide python3 with venv, the same in both stages (the venv points at its
# python). Where the build cannot reach PyPI, put the service's wheels and its dependencies'
# in ./wheels (pip wheel -w wheels -r requirements/service.txt && pip wheel --no-deps -w wheels
# .): they are installed with --no-index. Otherwise the builder makes them from PyPI, as locked.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS builder
WORKDIR /src
COPY wheels/ /wheels/
COPY pyproject.toml README.md ./
COPY requirements/service.txt requirements/
COPY service/ service/
RUN if ! ls /wheels/*.whl >/dev/null 2>&1; then \
      python3 -m venv /tmp/wheel-venv \
      && /tmp/wheel-venv/bin/pip wheel --no-cache-dir --wheel-dir /wheels \
           -r requirements/service.txt \
      && /tmp/wheel-venv/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . ; \
    fi \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels dockyard \
 && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
 && rm -f /opt/venv/bin/Activate.ps1

FROM ${BASE_IMAGE}
ARG BASE_IMAGE
# set at build time when known: --build-arg REVISION=$(git rev-parse HEAD)
# --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ARG REVISION=""
ARG CREATED=""
LABEL org.opencontainers.image.title="Dockyard" \
      org.opencontainers.image.description="A Docker engine behind a documented, secure HTTP API" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY deploy/gunicorn.conf.py deploy/gunicorn.conf.py
# the administrator token's directory (used only when no token is configured) and the
# grants to teams (give it a volume to keep them), and where
# volume restores spool their archive: give the latter a volume when the root is read-only.
# No set-user-id programs: swarm cannot set no-new-privileges
RUN mkdir -m 700 /var/lib/dockyard /var/spool/dockyard \
 && chown 10001:10001 /var/lib/dockyard /var/spool/dockyard \
 && find / -xdev -type f -perm /6000 -exec chmod ug-s {} +

# not root: access to the engine comes from the socket's group (--group-add above)
USER 10001:10001
# the root may be read-only: nothing is compiled at run time (the venv holds its .pyc files)
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DOCKYARD_BIND=0.0.0.0:8000 \
    DOCKYARD_ADMIN_TOKEN_FILE=/var/lib/dockyard/admin-token \
    DOCKYARD_SPOOL_DIR=/var/spool/dockyard \
    DOCKYARD_GRANTS_FILE=/var/lib/dockyard/grants.json
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
