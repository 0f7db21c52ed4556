"""A v1 search index on loopback, standing in for Docker Hub's (which this machine cannot
reach), so that `docker search 127.0.0.1:PORT/term` goes service -> daemon -> this index.

The daemon pings `/v1/_ping` (https first, then plain http for a loopback registry), then asks
`/v1/search?q=TERM&n=LIMIT` and filters what it gets (official, automated, stars) itself.

Also the other loopback servers the registry tests run: a black hole (a port that takes
connections and never answers), a scripted HTTP server, real registries with basic or token
auth, and a token service.
"""

import base64
import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.conftest import free_port

RESULTS = [
    {
        "name": "library/busybox",
        "description": "Busybox base image.",
        "star_count": 3000,
        "is_official": True,
        "is_automated": False,
    },
    {
        "name": "someone/busybox-tools",
        "description": "busybox with extras",
        "star_count": 12,
        "is_official": False,
        "is_automated": True,
    },
    {
        "name": "other/tiny-busybox",
        "description": "",
        "star_count": 0,
        "is_official": False,
        "is_automated": False,
    },
    {
        "name": "library/alpine",
        "description": "A minimal Docker image based on Alpine Linux",
        "star_count": 10000,
        "is_official": True,
        "is_automated": False,
    },
]


class SearchIndex:
    """``with SearchIndex() as index``: ``index.address`` is `127.0.0.1:PORT`; ``index.asked``
    holds each search's query, as {"q": ..., "n": ...}; ``index.seen`` every path asked."""

    def __init__(self, results=RESULTS):
        self.results = results
        self.asked: list[dict] = []
        self.seen: list[str] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                index.seen.append(self.path)
                url = urlsplit(self.path)
                if url.path == "/v1/_ping":
                    return self._answer(200, True)
                if url.path != "/v1/search":
                    return self._answer(404, {"error": "not found"})
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                index.asked.append(query)
                term = query.get("q", "").lower()
                found = [r for r in index.results if term in r["name"].lower()]
                found = found[: int(query.get("n", 25))]
                return self._answer(
                    200, {"num_results": len(found), "query": query.get("q"), "results": found}
                )

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass  # the daemon's https attempt arrives as garbage: nothing to report

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class BlackHole:
    """A loopback port that accepts connections (the kernel does, from the backlog) and
    never answers: an index or registry that hangs."""

    def __enter__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        return self

    def __exit__(self, *exc):
        self.socket.close()


# the other loopback servers the registry tests run


@contextlib.contextmanager
def http_server(handle, host="127.0.0.1"):
    """A loopback server whose GETs ``handle(path, headers)`` answers with (status, headers,
    JSON body); yields (`host:PORT`, the paths asked)."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            status, headers, body = handle(self.path, self.headers)
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{host}:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def serve_registry(root, auth=""):
    """A real distribution registry (`docker-registry`) on a free loopback port, with the
    ``auth`` section given (YAML): yields `127.0.0.1:PORT`."""
    address = f"127.0.0.1:{free_port()}"
    config = root / "config.yml"
    config.write_text(
        f"version: 0.1\nstorage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\n"
        f"http: {{addr: {address}}}\n{auth}"
    )
    with open(root / "registry.log", "wb") as log:
        process = subprocess.Popen(
            [shutil.which("docker-registry"), "serve", str(config)], stdout=log, stderr=log
        )
    try:
        answered(f"http://{address}/v2/")
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)


def answered(url, timeout=20.0):
    """Wait until ``url`` answers, whatever its status (a registry with auth says 401)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)


def htpasswd_auth(root, user, password) -> str:
    """The auth section of a registry that takes ``user`` and ``password`` (basic auth)."""
    with warnings.catch_warnings():
        # bcrypt, as distribution's htpasswd wants it; python's crypt goes in 3.13
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    (root / "htpasswd").write_text(f"{user}:{hashed}\n")
    return f"auth: {{htpasswd: {{realm: dockyard-test, path: {root / 'htpasswd'}}}}}\n"


@contextlib.contextmanager
def token_service(root, user, password):
    """A token service for a registry (the distribution spec's token auth): JWTs signed
    with a key of its own (openssl), for ``user`` and ``password`` only, granting the scopes
    asked. Yields (the registry's auth section, the realm's `host:PORT`, the Authorization
    headers it got)."""
    key, cert = root / "key.pem", root / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key)]
        + ["-out", str(cert), "-days", "1", "-subj", "/CN=dockyard-test-token"],
        check=True,
        capture_output=True,
    )
    der = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-outform", "DER"], check=True, capture_output=True
    ).stdout
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    given = []

    def part(document) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

    def handle(path, headers):
        given.append(headers.get("Authorization"))
        if headers.get("Authorization") != expected:
            return 401, {}, {"details": "bad credentials"}
        access = []
        for scope in parse_qs(urlsplit(path).query).get("scope", []):
            kind, name, actions = scope.rsplit(":", 2) if scope.count(":") >= 2 else ("", "", "")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": "dockyard-test", "sub": user, "aud": "dockyard-registry"}
        claims |= {"exp": now + 300, "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex}
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        signing = f"{part(header)}.{part({**claims, 'access': access})}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(key)],
            input=signing.encode(),
            check=True,
            capture_output=True,
        ).stdout
        token = f"{signing}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
        return 200, {"Content-Type": "application/json"}, {"token": token, "expires_in": 300}

    with http_server(handle) as (realm, _):
        auth = (
            f"auth: {{token: {{realm: 'http://{realm}/token', service: dockyard-registry, "
            f"issuer: dockyard-test, rootcertbundle: {cert}}}}}\n"
        )
        yield auth, realm, given
