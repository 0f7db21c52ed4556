# The service's image. It talks to the host's engine through the socket mounted into it,
# and serves on all the container's addresses; give it tokens (without any, it makes an
# administrator token in /var/lib/dockyard/admin-token):
#   docker run -d --name dockyard -p 127.0.0.1:8000:8000 \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -e DOCKYARD_TOKENS='[{"name": "ops", "hash": "sha256:...", "scopes": ["read"]}]' dockyard
# (make a token with: flask --app service token new ops --scope read)
#
# BASE_IMAGE must provide python3 with venv. Where the build cannot reach PyPI, put the
# service's wheels and its dependencies' (pip wheel -w wheels .) in ./wheels: they are
# installed with --no-index.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

WORKDIR /app
COPY wheels/ /wheels/
COPY pyproject.toml README.md ./
COPY service/ service/
COPY deploy/gunicorn.conf.py deploy/gunicorn.conf.py

RUN python3 -m venv /opt/venv \
 && if ls /wheels/*.whl >/dev/null 2>&1; then \
      /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels dockyard ; \
    else \
      /opt/venv/bin/pip install --no-cache-dir . ; \
    fi \
 && rm -rf /wheels build \
 && mkdir -m 700 /var/lib/dockyard && chown 10001:10001 /var/lib/dockyard

# not root: access to the engine comes from the socket's group (--group-add above)
USER 10001:10001
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DOCKYARD_BIND=0.0.0.0:8000 \
    DOCKYARD_ADMIN_TOKEN_FILE=/var/lib/dockyard/admin-token
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
