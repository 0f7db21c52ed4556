"""The one translation from docker-py and requests errors, and the policy's refusals, to HTTP
answers.

Views do not catch daemon errors: they reach the Api's handler, which asks ``describe``.
Streams, which cannot change their status once started, use ``describe`` to end with the same
error object in the stream.
"""

import re
from dataclasses import dataclass, field

import docker.errors
import requests.exceptions
from flask import current_app, g
from werkzeug.exceptions import default_exceptions

from .gateway.client import Conflict, Unsupported, root_cause
from .gateway.networks import NetworkRefused
from .gateway.streams import StreamError
from .gateway.volumes import VolumeInUse
from .policy import Denied
from .policy.teams import Unseen

# what talking to the daemon can raise (docker.errors.APIError is both)
DAEMON_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)
# what views let through to the one handler: those, and the policy's refusals
ANSWERED_ERRORS = (
    *DAEMON_ERRORS,
    Conflict,
    Denied,
    NetworkRefused,
    Unseen,
    Unsupported,
    VolumeInUse,
)

# daemon statuses passed on as they are; any other 4xx is a bad request, any 5xx an upstream failure
_PASSED_ON = {400, 403, 404, 409}


@dataclass
class Failure:
    code: int
    message: str
    headers: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)


# the engine's network refusals the gateway recognised, and the status each is answered with
_NETWORK_REFUSALS = {"not_found": 404, "conflict": 409, "invalid": 400}
# whose fault a failure reported inside a daemon stream is, as an HTTP status
_STREAM_FAILURES = {
    "not_found": 404,
    "invalid": 400,
    "conflict": 409,
    "build": 422,
    "upstream": 502,
    "timeout": 504,
}
# a reference the daemon could resolve to several objects: the engine's state, not the request,
# is at fault (networks: "2 matches found based on ID prefix", a 400; an image's export:
# "ambiguous digest string", a 500; older engines' words too)
_AMBIGUOUS = (
    r"matches found based on ID prefix|is ambiguous|multiple IDs found with provided prefix"
    r"|^ambiguous digest string$|^more than one result for"
)
# daemon 500s whose words show that the fault is not the daemon's, each matched narrowly:
# the status answered instead
_REFUSALS = (
    # a container's state forbids the action
    (409, r"is not paused|is not running|is already|is paused|is restarting"),
    # a copy into a read-only root filesystem or mount
    (409, r"^container rootfs is marked read-only$|^mounted volume is marked read-only$"),
    # a request the daemon could not read
    (
        400,
        r"(?i)invalid reference format|invalid tag format|invalid signal|syntax error in pattern",
    ),
    # docker top: ps refused its options, or they left out the PID column
    (400, r"^ps: error: |^ps: exit status \d+$|^Couldn't find PID field in ps output$"),
    # a copy in: a link in the tar to nothing or outside the target, a file as the target
    (
        400,
        r"^Error processing tar file\(.*?\): (?:invalid hardlink |\".*\" is outside of \""
        r"|link .+: (?:no such file or directory|operation not permitted)$)",
    ),
    (400, r"^extraction point is not a directory$"),
    # a start as a user or group the container's passwd or group file does not hold
    (400, r"^unable to find (?:user|group) .+: no matching entries in (?:passwd|group) file$"),
    # a volume mounted onto a file of the image
    (400, r"^source \S+ is not directory$"),
    # a path with a name longer than the filesystem takes
    (400, r": file name too long(?:: unknown)?$"),
    # Podman answers a 500 where Docker answers a 409: a state the action does not fit, a
    # name taken, an object in use
    (
        409,
        r": container state improper$|: exec session state improper$|is already in use"
        r"|already exists$|already used|has associated containers|is being used",
    ),
)


def users_named(users: list[dict]) -> str:
    """Containers, as a message names them: name (or short id) and state."""
    return ", ".join(f"{u['name'] or u['id'][:12]} ({u['state']})" for u in users)


def describe(exc: Exception) -> Failure:
    """The HTTP status and message for an error raised while talking to the daemon."""
    if isinstance(exc, StreamError):
        return Failure(_STREAM_FAILURES.get(exc.kind, 502), exc.message, errors=exc.details)
    if isinstance(exc, Denied):
        return Failure(403, str(exc))
    if isinstance(exc, Unseen):
        return Failure(404, str(exc))
    if isinstance(exc, Unsupported):
        return Failure(501, f"{_engine()}{exc}")
    if isinstance(exc, Conflict):
        return Failure(409, f"{_engine()}{exc}")
    if isinstance(exc, NetworkRefused):
        return Failure(_NETWORK_REFUSALS[exc.kind], exc.message)
    if isinstance(exc, VolumeInUse):
        return Failure(
            409,
            f"volume {exc.name} is in use by {users_named(exc.users) or 'a container'}: "
            "remove them, or use force=true",
        )
    if isinstance(exc, docker.errors.APIError):
        reason = _reason(exc)
        status = exc.status_code or 502
        swarm = _swarm_failure(reason)
        if swarm is not None:
            return swarm
        if status in (400, 500) and re.search(_AMBIGUOUS, reason):
            return Failure(409, f"{reason}: give more of the id, or the name")
        if status in _PASSED_ON:
            return Failure(status, reason)
        if 400 <= status < 500:
            return Failure(400, reason)
        for refused, words in _REFUSALS:
            if re.search(words, reason):
                return Failure(refused, reason)
        return Failure(502, f"the Docker daemon failed: {reason}")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return Failure(504, "the Docker daemon did not answer in time")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        # an answer cut in the middle: the engine stopped, or restarted, under it
        return Failure(
            503,
            "the Docker engine went away in the middle of the answer (it stopped or restarted)",
            {"Retry-After": str(current_app.config["RETRY_AFTER"])},
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        # ConnectTimeout is a ConnectionError too: the daemon cannot be reached either way
        return Failure(
            503,
            f"{_engine()}the Docker daemon cannot be reached at {_daemon_url()}: {root_cause(exc)}",
            {"Retry-After": str(current_app.config["RETRY_AFTER"])},
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return Failure(502, f"talking to the Docker daemon failed: {root_cause(exc)}")
    if isinstance(exc, docker.errors.InvalidArgument | docker.errors.NullResource):
        # raised by docker-py itself before any call, from values it refuses
        return Failure(400, str(exc))
    if isinstance(exc, docker.errors.InvalidVersion):
        # the API version negotiated with this engine is too old for what was asked
        return Failure(501, f"{_engine()}the engine's API version lacks it: {exc}")
    if isinstance(exc, docker.errors.DockerException):
        return Failure(502, f"talking to the Docker daemon failed: {exc}")
    return Failure(500, "internal error")


SWARM_HINT = (
    "make this engine a swarm manager first: POST /swarm/init with "
    '{"confirm": true, "advertise_addr": "127.0.0.1"} (docker swarm init --advertise-addr '
    "127.0.0.1)"
)
# the engine's words when it is not (or already) in a swarm, and the status answered
_SWARM = (
    # the engine says 503, but nothing is unavailable: its state conflicts with the request
    (409, r"^This node is not a swarm manager\b", SWARM_HINT),
    (409, r"^This node is not part of a swarm$", SWARM_HINT),
    (409, r"^This node is already part of a swarm\b", "leave it first: POST /swarm/leave"),
    (409, r"is in use by the following service", "remove or update those services first"),
    (
        409,
        r"^You are attempting to leave the swarm on a node that is participating as a manager",
        'say so with {"confirm": true, "force": true}',
    ),
)


def _swarm_failure(reason: str) -> Failure | None:
    for status, words, hint in _SWARM:
        if re.search(words, reason):
            return Failure(status, f"{reason.split(chr(10))[0]} ({hint})")
    return None


def http_exception(failure: Failure):
    """A werkzeug HTTPException that flask-smorest's handler renders in the common shape."""
    exc = default_exceptions[failure.code]()
    exc.data = {"message": failure.message, "headers": failure.headers, "errors": failure.errors}
    return exc


def _reason(exc: docker.errors.APIError) -> str:
    explanation = exc.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return (explanation or str(exc)).strip()


def _daemon_url() -> str:
    engine = g.get("engine")
    return engine.url if engine is not None else current_app.config["DOCKER_URL"]


def _engine() -> str:
    """The engine a failure is of, named when the service drives several (service.engines)."""
    engine = g.get("engine")
    several = len(current_app.extensions.get("dockyard_engines") or ()) > 1
    return f"engine `{engine.name}`: " if engine is not None and several else ""
