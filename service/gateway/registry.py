"""Registries: the daemon's search (docker search), and a small client of the v2 distribution
API for the registries the configuration lists. No Flask in here.

The v2 client only ever speaks to the registry it is given: it follows redirects itself, to
the same scheme and host only; answers a bearer challenge only with a realm on the registry's
own host or one configured for it; reads bounded answers; and puts no credential into an
error's text. Which registry a request may name is the views' business.
"""

import base64
import contextlib
import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import docker.auth
import docker.errors
import requests
import requests.adapters
import requests.exceptions

from .client import root_cause

HUB = "docker.io"
# a registry as docker names it: host[:port], an IPv6 address in brackets
HOST = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?"
)
_HOST = re.compile(rf"^{HOST}$")
# a repository's name in a registry (no host), and a tag: docker's grammar, ASCII only
COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = rf"{COMPONENT}(?:/{COMPONENT})*"
TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
# what a manifest GET accepts: indexes first, so that a multi-platform tag keeps its digest
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
ANSWER_MAX = 4 * 1024 * 1024  # bytes of one answer read (a catalog page, a manifest, a token)
REDIRECTS_MAX = 5
SCAN_MAX = 10_000  # names one request reads looking for matches; `next` tells where it stopped
PAGES_MAX = 500  # pages one request reads (a registry could link pages in a circle)
TOKENS_KEPT = 1000  # credentials cached per worker, by registry and scope
_REDIRECTS = {301, 302, 303, 307, 308}
_LOCK = threading.Lock()


class RegistryError(Exception):
    """A registry or index failed. ``kind``: `unreachable`, `timeout`, `refused` (it turned
    down the service or its credentials), `not_found`, or `failed` (an answer the service
    cannot use)."""

    def __init__(self, registry: str, kind: str, reason: str):
        super().__init__(reason)
        self.registry, self.kind, self.reason = registry, kind, reason

    def __str__(self):
        return f"the registry `{self.registry}` {self.reason}"


@dataclass(frozen=True)
class Registry:
    """One configured registry. The password is never shown (repr, messages)."""

    host: str
    insecure: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    password_file: str | None = None
    token_realms: tuple[str, ...] = ()
    timeout: float = 5.0

    @property
    def base(self) -> str:
        return f"{'http' if self.insecure else 'https'}://{self.host}"

    def secret(self) -> str | None:
        if self.password is not None:
            return self.password
        if not self.password_file:
            return None
        try:
            with open(os.path.expanduser(self.password_file), encoding="utf-8") as file:
                return file.read().rstrip("\r\n")
        except OSError as exc:
            raise RegistryError(
                self.host, "failed", f"has a password file the service cannot read: {exc.strerror}"
            ) from None

    def scrub(self, text: str) -> str:
        """``text`` with the password taken out, wherever a registry may have echoed it."""
        try:
            secret = self.secret()
        except RegistryError:
            secret = None
        return text.replace(secret, "********") if secret else text


def is_host(value: str) -> bool:
    return len(value) <= 255 and bool(_HOST.match(value))


def split_term(term: str) -> tuple[str, str]:
    """The index a search term (or a reference) names and the rest, as the daemon splits
    them, in docker-py's own reading: a first part with a dot or a colon, or `localhost`, is
    a host; else Docker Hub's."""
    index, rest = docker.auth.split_repo_name(term)
    return docker.auth.resolve_index_name(index), rest


def registry_of(reference: str) -> str:
    """The registry a pull or push of ``reference`` reaches (`docker.io` for Docker Hub)."""
    return split_term(reference.split("@", 1)[0])[0]


class RegistryVerbs:
    def search_index(self, term: str, limit: int, filters: dict, timeout: float) -> list[dict]:
        """docker search: the daemon asks the index the term names (Docker Hub's by default).
        The daemon gets ``timeout`` to answer; it has its own, longer ones."""
        index = split_term(term)[0]
        params = {"term": term, "limit": limit}
        if filters:
            params["filters"] = json.dumps(filters)
        try:
            found = self.clients.call("GET", "/images/search", params=params, timeout=timeout)
        except requests.exceptions.ReadTimeout:
            raise RegistryError(
                index, "timeout", f"did not answer the daemon's search within {timeout:g} s"
            ) from None
        except docker.errors.APIError as exc:
            if not exc.is_server_error():
                raise
            reason = str(exc.explanation or exc).strip()
            raise RegistryError(index, "unreachable", f"cannot be searched: {reason}") from None
        fields = ("name", "description", "star_count", "is_official", "is_automated")
        return [
            {**{key: item.get(key) for key in fields}, "registry": index}
            for item in (found or [])[:limit]
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        ]

    def registry_catalog(self, registry, n, last=None, limit=25, match=None):
        """Repository names (lexical order) after ``last`` that contain ``match``, at most
        ``limit``, read ``n`` a page; and where to go on from (None: the end)."""
        pages = self._pages(
            registry, "/v2/_catalog", "repositories", n, last, "registry:catalog:*", REPOSITORY
        )
        needle = (match or "").lower()
        return _collect(pages, limit, lambda name: needle in name.lower())

    def registry_tags(self, registry, repository, n, last=None, limit=25):
        """A repository's tags (lexical order) after ``last``, at most ``limit``; and where to
        go on from. Raises RegistryError(not_found) for an unknown repository."""
        path, scope = f"/v2/{repository}/tags/list", f"repository:{repository}:pull"
        missing = f"has no repository `{repository}`"
        pages = self._pages(registry, path, "tags", n, last, scope, TAG, missing)
        return _collect(pages, limit, lambda name: True)

    def registry_manifest(self, registry, repository, reference) -> dict | None:
        """The digest, media type and size (config and layers, as stored: compressed) of a
        tag's manifest; None when the tag has gone. An index's size is unknown (None)."""
        url = f"{registry.base}/v2/{repository}/manifests/{reference}"
        scope = f"repository:{repository}:pull"
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        response = self._request(registry, "GET", url, scope=scope, headers=headers)
        if response.status_code == 404:
            response.close()
            return None
        body = self._body(registry, response)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        claimed = response.headers.get("Docker-Content-Digest", "")
        if _DIGEST.match(claimed) and claimed != digest:
            raise RegistryError(registry.host, "failed", f"sent a manifest that is not {claimed}")
        manifest = _json(registry, body)
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        parts = [manifest.get("config"), *(manifest.get("layers") or [])]
        sizes = [part.get("size") for part in parts if isinstance(part, dict)]
        known = "layers" in manifest and all(isinstance(size, int) for size in sizes)
        return {
            "digest": digest,
            "media_type": media_type or manifest.get("mediaType"),
            "size": sum(sizes) if known else None,
        }

    # the v2 conversation

    def _pages(self, registry, path, key, n, last, scope, grammar, missing=None):
        """(names, more) page after page, following the registry's `Link: <...>; rel=next`.
        Names are sorted and those up to ``last`` dropped: some registries (distribution 2.8
        for tags) ignore `n` and `last` and send everything, in any order. A name outside
        ``grammar`` is left out: it would go on into a path."""
        valid = re.compile(rf"^(?=.{{1,255}}$)(?:{grammar})$")
        url, params = registry.base + path, {"n": n, **({"last": last} if last else {})}
        for _ in range(PAGES_MAX):
            response = self._request(registry, "GET", url, params=params, scope=scope)
            if response.status_code == 404:
                response.close()
                if missing:
                    raise RegistryError(registry.host, "not_found", missing)
                raise RegistryError(registry.host, "failed", f"answered 404 to `{path}`")
            page = _json(registry, self._body(registry, response)).get(key) or []
            if not isinstance(page, list):
                raise RegistryError(registry.host, "failed", f"sent a `{key}` that is not a list")
            names = sorted(
                {
                    name
                    for name in page
                    if isinstance(name, str) and valid.match(name) and (not last or name > last)
                }
            )
            url, params = _next_page(registry, response), None
            yield names, url is not None
            if not url:
                return
            last = names[-1] if names else last

    def _request(self, registry, method, url, *, scope, params=None, headers=None):
        """One request, answering a 401 once: with basic credentials, or with a token from
        the realm the registry names (the distribution spec's token dance)."""
        headers = dict(headers or {})
        tokens = self._registry_tokens()
        cached = tokens.get((registry.host, scope))
        if cached and cached[1] > time.monotonic():
            headers["Authorization"] = cached[0]
        response = self._send(registry, method, url, params, headers)
        if response.status_code != 401:
            return response
        challenge = response.headers.get("WWW-Authenticate", "")
        response.close()
        credential, lifetime = self._answer(registry, challenge)
        if len(tokens) >= TOKENS_KEPT:
            tokens.clear()  # a scope per repository: bounded, not clever
        tokens[(registry.host, scope)] = (credential, time.monotonic() + lifetime)
        headers["Authorization"] = credential
        response = self._send(registry, method, url, params, headers)
        if response.status_code == 401:
            response.close()
            tokens.pop((registry.host, scope), None)
            raise RegistryError(registry.host, "refused", "refused the configured credentials")
        return response

    def _answer(self, registry, challenge: str) -> tuple[str, float]:
        scheme, _, rest = challenge.partition(" ")
        options = {k.lower(): v for k, v in re.findall(r'(\w+)="?([^",]*)"?', rest)}
        secret = registry.secret()
        if scheme.lower() == "basic":
            if not registry.username or secret is None:
                raise RegistryError(registry.host, "refused", "needs credentials; none are set")
            pair = f"{registry.username}:{secret}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii"), 3600.0
        if scheme.lower() != "bearer" or not options.get("realm"):
            named = scheme[:32] or "nothing"  # the registry's words, kept short
            raise RegistryError(registry.host, "refused", f"asks for an unknown `{named}` auth")
        realm = urlsplit(options["realm"])
        schemes = ("https", "http") if registry.insecure else ("https",)
        hosts = (registry.host, *registry.token_realms)
        if realm.scheme not in schemes or realm.netloc not in hosts:
            raise RegistryError(
                registry.host,
                "refused",
                f"names a token service at `{realm.netloc}`, which is neither its own host nor "
                "one of its token_realms",
            )
        query = {k: options[k] for k in ("service", "scope") if options.get(k)}
        auth = (registry.username, secret) if registry.username and secret is not None else None
        response = self._send(registry, "GET", options["realm"], query, {}, auth, (401, 403))
        if response.status_code in (401, 403):
            response.close()
            raise RegistryError(
                registry.host,
                "refused",
                f"had its token service at `{realm.netloc}` refuse the configured credentials",
            )
        answer = _json(registry, self._body(registry, response))
        token = answer.get("token") or answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryError(registry.host, "failed", "had its token service send no token")
        lifetime = answer.get("expires_in")
        lifetime = lifetime if isinstance(lifetime, int) and lifetime > 0 else 60
        # a little early, so that a token never expires on its way
        return f"Bearer {token}", max(min(lifetime, 3600) - 10, 1)

    def _send(self, registry, method, url, params, headers, auth=None, answered=(401, 404)):
        """Send, following redirects only to the same scheme and host (never to storage on
        another host, which the service was not configured to reach)."""
        origin, session = urlsplit(url)[:2], self._registry_session()
        # the same timeout to connect and between two reads; bodies are read as they come
        options = {"auth": auth, "timeout": registry.timeout, "stream": True}
        for _ in range(REDIRECTS_MAX + 1):
            with _talking(registry):
                response = session.request(
                    method, url, params=params, headers=headers, allow_redirects=False, **options
                )
            if response.status_code not in _REDIRECTS:
                if response.status_code >= 400 and response.status_code not in answered:
                    raise _refusal(registry, response)
                return response
            target = urljoin(response.url, response.headers.get("Location", ""))
            response.close()
            if urlsplit(target)[:2] != origin:
                raise RegistryError(
                    registry.host,
                    "failed",
                    f"redirected to `{urlsplit(target).netloc}`, another host, which the "
                    "service does not follow",
                )
            url, params = target, None
            method = "GET" if response.status_code == 303 else method
        raise RegistryError(registry.host, "failed", f"redirected more than {REDIRECTS_MAX} times")

    def _body(self, registry, response) -> bytes:
        chunks, size = [], 0
        try:
            with _talking(registry):
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > ANSWER_MAX:
                        raise RegistryError(
                            registry.host, "failed", f"sent an answer over {ANSWER_MAX} bytes"
                        )
                    chunks.append(chunk)
        finally:
            response.close()
        return b"".join(chunks)

    def _registry_session(self) -> requests.Session:
        """One session per worker process (made after the fork), pooled like the daemon's."""
        held = getattr(self, "_registry_held", None)
        if held is None or held[0] != os.getpid():
            with _LOCK:
                held = getattr(self, "_registry_held", None)
                if held is None or held[0] != os.getpid():
                    session = requests.Session()
                    # no proxy, no .netrc from the environment: only what is configured
                    session.trust_env = False
                    size = self.clients.settings.pool_size
                    adapter = requests.adapters.HTTPAdapter(pool_maxsize=size)
                    session.mount("http://", adapter)
                    session.mount("https://", adapter)
                    held = self._registry_held = (os.getpid(), session, {})
        return held[1]

    def _registry_tokens(self) -> dict:
        """(host, scope) -> (Authorization value, monotonic expiry), per worker process."""
        self._registry_session()
        return self._registry_held[2]


def _collect(pages, limit, keep):
    found, scanned = [], 0
    for names, more in pages:
        for index, name in enumerate(names):
            scanned += 1
            if keep(name):
                found.append(name)
            if len(found) >= limit or scanned >= SCAN_MAX:
                rest = more or index + 1 < len(names)
                return found, (name if rest else None)
    return found, None


def _next_page(registry, response) -> str | None:
    link = response.links.get("next", {}).get("url")
    if not link:
        return None
    target = urljoin(response.url, link)
    parts = urlsplit(target)
    if (parts.scheme, parts.netloc) != urlsplit(registry.base)[:2] or not parts.path.startswith(
        "/v2/"
    ):
        raise RegistryError(registry.host, "failed", "links its next page to another place")
    return target


def _json(registry, body: bytes) -> dict:
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise RegistryError(registry.host, "failed", "sent an answer that is not a JSON object")
    return answer


def _refusal(registry, response) -> RegistryError:
    """A 4xx or 5xx, with the registry's own words (distribution: `errors[].message`)."""
    status = response.status_code
    try:
        errors = _json(registry, response.raw.read(64 * 1024, decode_content=True)).get("errors")
        words = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))
    except Exception:
        words = ""  # the status alone says enough
    finally:
        response.close()
    reason = f"answered {status}" + (f": {words}" if words else "")
    kind = "refused" if status in (403, 405) else "failed"
    return RegistryError(registry.host, kind, registry.scrub(reason[:500]))


@contextlib.contextmanager
def _talking(registry):
    """requests' errors, as RegistryError naming the registry and the reason."""
    try:
        yield
    except requests.exceptions.RequestException as exc:
        if isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc):
            reason, kind = f"did not answer within {registry.timeout:g} s", "timeout"
        elif isinstance(exc, requests.exceptions.ConnectionError):
            reason, kind = f"cannot be reached: {root_cause(exc)}", "unreachable"
        else:
            reason, kind = f"could not be talked to: {root_cause(exc)}", "failed"
        raise RegistryError(registry.host, kind, registry.scrub(reason)) from None
