import marshmallow as ma

from . import Bool, Reply, Str, doc

KINDS = ("docker", "podman")
TRANSPORTS = ("unix", "tcp", "tls", "ssh")
SWARM_STATES = ("inactive", "pending", "active", "error", "locked")


class EngineSchema(Reply):
    name = Str(**doc("the engine's name: `/engines/{name}/...` targets it"))
    default = Bool(**doc("whether plain paths (no `/engines/{name}` prefix) reach this engine"))
    transport = Str(
        validate=ma.validate.OneOf(TRANSPORTS),
        **doc("how the service reaches it: a unix socket, tcp, tcp with TLS, ssh"),
    )
    reachable = Bool(**doc("whether it answered now; an engine that does not answers 503"))
    latency_ms = ma.fields.Float(
        allow_none=True,
        **doc("milliseconds it took to answer (or to fail); null: not asked"),
    )
    kind = Str(
        allow_none=True,
        validate=ma.validate.OneOf(KINDS),
        **doc("docker or podman, from its version answer; null when it did not answer"),
    )
    version = Str(allow_none=True, **doc("the engine's version; null when it did not answer"))
    api_version = Str(
        allow_none=True,
        **doc("the Engine API version this service speaks to it; null when it did not answer"),
    )
    swarm = Str(
        allow_none=True,
        validate=ma.validate.OneOf(SWARM_STATES),
        **doc("its swarm state; null when it has no swarm (Podman) or did not answer"),
    )
    error = Str(allow_none=True, **doc("why it did not answer; null when it did"))
