#!/usr/bin/env bash
# The same set-up as serve.sh, plus the test tools, then the whole suite against the real engine.
# It starts a Podman engine beside dockerd (the tests of several engines), and stops what it
# started. The suite itself starts the loopback registry and builds the busybox test image
# (on both engines), and removes them, with everything else it created, when it ends. Extra
# arguments go to pytest.
#
# Tests that could remove objects they did not create run only against an engine this script
# started, or one given explicitly with DOCKYARD_TEST_ENGINE_OWNED=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_packages test
ensure_venv test
ensure_node_tools
ensure_engine
trap stop_engine EXIT
ensure_podman
trap 'stop_podman; stop_engine' EXIT

export DOCKYARD_TEST_DOCKER_URL="$DOCKER_URL"
export DOCKYARD_TEST_NODE_TOOLS="$NODE_TOOLS"
export DOCKYARD_TEST_PODMAN_URL="$PODMAN_URL"
if [ "$ENGINE_STARTED" = 1 ]; then
    export DOCKYARD_TEST_ENGINE_OWNED=1
fi
cd "$ROOT"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/pytest" "$@"
