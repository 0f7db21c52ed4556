# Shared steps of serve.sh and test.sh: system packages, the venv, a Docker engine.
# Sourced, not run. Idempotent: each step does nothing when its work is already done.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
RUN_DIR="$ROOT/.run"
# as the service reads it: DOCKYARD_DOCKER_URL, else DOCKER_HOST, as docker's own tools do
DOCKER_URL="${DOCKYARD_DOCKER_URL:-${DOCKER_HOST:-unix:///var/run/docker.sock}}"

log() { printf '[dockyard] %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# docker.io (engine), busybox-static (test image), docker-registry (loopback registry),
# curl (probes), iproute2 (ss, to count sockets in tests), debootstrap (a base image for the
# service's own image), docker-compose (deploy/compose.yaml), chromium (browser tests),
# prometheus (scrapes the service in tests; promtool checks deploy/prometheus), podman (a
# second engine of another kind), socat and openssl (a TLS engine in tests), python3-venv
# (where python lacks venv)
ensure_packages() {
    local missing=()
    command -v curl >/dev/null || missing+=(curl)
    if engine_is_local; then
        command -v dockerd >/dev/null || missing+=(docker.io)
    fi
    if [ "${1:-}" = test ]; then
        [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || missing+=(busybox-static)
        command -v docker-registry >/dev/null || missing+=(docker-registry)
        command -v ss >/dev/null || missing+=(iproute2)
        command -v debootstrap >/dev/null || missing+=(debootstrap)
        command -v docker-compose >/dev/null || missing+=(docker-compose)
        [ -x /usr/bin/chromium ] || missing+=(chromium)
        command -v promtool >/dev/null || missing+=(prometheus)
        command -v podman >/dev/null || missing+=(podman)
        command -v socat >/dev/null || missing+=(socat)
        command -v openssl >/dev/null || missing+=(openssl)
    fi
    command -v python3 >/dev/null || missing+=(python3)
    if [ ! -x "$VENV/bin/python" ] && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        missing+=(python3-venv)
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# the venv with the service (and, for tests, its test extra); reinstalled when pyproject changes
ensure_venv() {
    local extra=${1:-} stamp="$VENV/.installed" hash have lock
    # the locked set: the service's, or with the tests' tools
    lock="$ROOT/requirements/${extra:-service}.txt"
    hash=$(cat "$ROOT/pyproject.toml" "$lock" | sha256sum | cut -c1-16)
    have=$(cat "$stamp" 2>/dev/null || true)
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    # up to date when pyproject is unchanged and the extra asked for is there (test covers none)
    if [ "${have%%:*}" != "$hash" ] || { [ -n "$extra" ] && [ "${have#*:}" != "$extra" ]; }; then
        log "installing the service into $VENV"
        "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
        "$VENV/bin/pip" install -q --disable-pip-version-check -r "$lock"
        "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e "$ROOT"
        echo "$hash:$extra" >"$stamp"
    fi
}

# node tools the tests run over the served spec, pinned; in .run/node, outside the venv
NODE_TOOLS="$RUN_DIR/node"
NODE_PACKAGES=(
    @stoplight/spectral-cli@6.16.3
    @redocly/cli@2.77.0
    openapi-typescript@7.13.0
    openapi-fetch@0.17.0
    orval@8.38.0
    typescript@5.9.3
)
ensure_node_tools() {
    local stamp="$NODE_TOOLS/.installed" want
    command -v npm >/dev/null || {
        log "installing nodejs npm"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    }
    want="${NODE_PACKAGES[*]}"
    [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ] && return 0
    log "installing $want into $NODE_TOOLS"
    mkdir -p "$NODE_TOOLS"
    npm install --prefix "$NODE_TOOLS" --no-audit --no-fund --loglevel=error --save-exact \
        "${NODE_PACKAGES[@]}" >/dev/null
    echo "$want" >"$stamp"
}

engine_is_local() {
    case "$DOCKER_URL" in unix://*) return 0 ;; *) return 1 ;; esac
}

engine_ping() {
    case "$DOCKER_URL" in
        unix://*) curl -sf --max-time 3 --unix-socket "${DOCKER_URL#unix://}" http://engine/_ping >/dev/null ;;
        tcp://*) curl -sf --max-time 3 "http://${DOCKER_URL#tcp://}/_ping" >/dev/null ;;
        *) return 1 ;;
    esac
}

# use the engine that answers; else start one (only for the default local socket)
# sets ENGINE_STARTED=1 and ENGINE_PID (from dockerd's own pidfile) when this script started it
ENGINE_STARTED=0
ensure_engine() {
    if engine_ping 2>/dev/null; then
        log "using the Docker engine at $DOCKER_URL"
        return 0
    fi
    if ! engine_is_local || [ "$DOCKER_URL" != unix:///var/run/docker.sock ]; then
        log "no Docker engine answers at $DOCKER_URL, and it is not one this script starts"
        return 1
    fi
    mkdir -p "$RUN_DIR"
    log "starting dockerd (log: $RUN_DIR/dockerd.log)"
    # its own session, so that stopping a foreground gunicorn does not stop the engine
    as_root setsid -f dockerd --pidfile /var/run/docker.pid >"$RUN_DIR/dockerd.log" 2>&1 </dev/null
    ENGINE_STARTED=1
    ENGINE_PID=$(await_up dockerd /var/run/docker.pid engine_ping "$RUN_DIR/dockerd.log" 120)
}

# the pid of a daemon just started, once its pidfile names it and ``ping`` answers (each try
# half a second apart); else its log's end, and a failure
await_up() {
    local name=$1 pidfile=$2 ping=$3 logfile=$4 tries=$5 pid
    for _ in $(seq 1 "$tries"); do
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [ -n "$pid" ] && "$ping" 2>/dev/null; then
            log "$name is up (pid $pid)"
            echo "$pid"
            return 0
        fi
        sleep 0.5
    done
    log "$name did not come up; the end of its log:"
    tail -n 20 "$logfile" >&2
    return 1
}

# stop the engine this script started, and wait for it to be gone
stop_engine() {
    [ "$ENGINE_STARTED" = 1 ] && [ -n "${ENGINE_PID:-}" ] || return 0
    # the owned-engine tests restart it: the pidfile names the one running now
    ENGINE_PID=$(cat /var/run/docker.pid 2>/dev/null || echo "$ENGINE_PID")
    stop_pid dockerd "$ENGINE_PID"
}

# stop a daemon this script started, by its pid, and wait for it to be gone (30 s, then KILL)
stop_pid() {
    local name=$1 pid=$2
    log "stopping the $name this run started (pid $pid)"
    as_root kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    log "$name did not stop in 30 s: killing it"
    as_root kill -KILL "$pid" 2>/dev/null || true
}

# a Podman engine serving its Docker-compatible API beside dockerd, for the tests of several
# engines: the one that answers at PODMAN_URL, else one started here (PODMAN_STARTED=1)
PODMAN_URL="${DOCKYARD_TEST_PODMAN_URL:-unix:///run/podman/podman.sock}"
PODMAN_STARTED=0
podman_ping() {
    curl -sf --max-time 3 --unix-socket "${PODMAN_URL#unix://}" http://podman/_ping >/dev/null
}
ensure_podman() {
    if podman_ping 2>/dev/null; then
        log "using the Podman engine at $PODMAN_URL"
        return 0
    fi
    local conf=/etc/containers/containers.conf
    # Podman's default rlimits are refused in containers like this machine's: give it some
    # it may set ("error setting rlimit type 7")
    if [ ! -e "$conf" ]; then
        as_root mkdir -p /etc/containers
        printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n' |
            as_root tee "$conf" >/dev/null
    elif ! grep -q default_ulimits "$conf"; then
        log "$conf sets no default_ulimits: Podman's containers may fail to start here"
    fi
    mkdir -p "$RUN_DIR"
    as_root mkdir -p "$(dirname "${PODMAN_URL#unix://}")"
    log "starting podman system service (log: $RUN_DIR/podman.log)"
    as_root setsid -f sh -c 'echo $$ >"$1"; exec podman system service --time=0 "$2"' \
        sh "$RUN_DIR/podman.pid" "$PODMAN_URL" >"$RUN_DIR/podman.log" 2>&1 </dev/null
    PODMAN_STARTED=1
    PODMAN_PID=$(await_up podman "$RUN_DIR/podman.pid" podman_ping "$RUN_DIR/podman.log" 60)
}

# stop the Podman service this script started
stop_podman() {
    [ "$PODMAN_STARTED" = 1 ] && [ -n "${PODMAN_PID:-}" ] || return 0
    stop_pid podman "$PODMAN_PID"
}
