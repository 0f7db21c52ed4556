#!/usr/bin/env bash
# Install what is missing, make sure a Docker engine answers, and serve the API with gunicorn
# (127.0.0.1:8000 unless DOCKYARD_BIND says otherwise). On a machine that already runs Docker,
# that engine is used as it is; otherwise dockerd is started and left running.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_packages
ensure_venv
ensure_engine
cd "$ROOT"
log "serving on ${DOCKYARD_BIND:-127.0.0.1:8000}"
exec "$VENV/bin/gunicorn" -c "$ROOT/deploy/gunicorn.conf.py"
