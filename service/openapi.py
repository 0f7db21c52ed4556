"""What the OpenAPI document says beyond the views and schemas: operation ids, who may call
without a token, the document's description, examples, and binary bodies as generators read
them."""

import json

import marshmallow as ma
from apispec import BasePlugin

from .auth import PUBLIC_ENDPOINTS
from .engines import NEEDS_SWARM
from .schemas import Reply, Schema
from .streaming import TAR_BODY

DESCRIPTION = """\
Dockyard puts a Docker engine behind a documented HTTP API: images, containers and the
engine itself.

- JSON in and out, except where a stream (`application/x-ndjson`, `text/event-stream`) or a
  tar archive (`application/x-tar`) is named. Every field an answer declares is always sent,
  `null` where it is unknown.
- One error shape everywhere: `{"code", "status", "message", "errors"}`; `message` says what
  went wrong in words, `errors` says which input field is invalid (422).
- Every operation but `/health`, `/ready` and the course needs a bearer token whose scopes
  include the operation's `x-scope` (`read`, `operate`, `exec`, `write`, `admin`);
  `/auth/whoami` takes any valid token and says what it may do.
- Long work (pull, push, build, load) answers its result as JSON, or streams progress when
  `Accept` asks for `application/x-ndjson` or `text/event-stream`.
- A terminal is a WebSocket: `POST /containers/{id}/terminal` answers a single-use ticket,
  which the upgrade offers as a subprotocol.
- Docker's own Engine API is served too, under `/engine`, for the docker CLI, docker-compose
  and docker-py (`DOCKER_HOST=tcp://HOST:PORT/engine`), with the same tokens, scopes and
  policy: its contract is Docker's, and the README lists what it takes.
- Several engines (Docker, Podman) can stand behind one service: `GET /engines` lists them,
  and every path, the Engine API's included, targets one by name when prefixed with
  `/engines/{engine}` (this document's second server); plain paths reach the default engine.
  A token may be limited to some engines (403 on the others); an engine that does not answer
  is a 503 for its own paths only; a swarm operation on an engine that has no swarm (Podman)
  is a 501.
"""

# method and endpoint -> operationId: stable names for generated clients
OPERATION_IDS = {
    ("get", "system.Health"): "getHealth",
    ("get", "system.Ready"): "getReadiness",
    ("get", "system.Info"): "getSystemInfo",
    ("get", "system.Version"): "getSystemVersion",
    ("get", "system.DiskUsage"): "getDiskUsage",
    ("post", "system.Prune"): "pruneSystem",
    ("get", "system.Events"): "streamEvents",
    ("get", "auth.WhoAmI"): "getWhoAmI",
    ("get", "engines.Engines"): "listEngines",
    ("get", "engines.Engine"): "getEngine",
    ("get", "images.Images"): "listImages",
    ("post", "images.Pull"): "pullImage",
    ("post", "images.Build"): "buildImage",
    ("post", "images.Prune"): "pruneImages",
    ("post", "images.Import"): "importImages",
    ("get", "images.Image"): "inspectImage",
    ("delete", "images.Image"): "removeImage",
    ("get", "images.History"): "getImageHistory",
    ("post", "images.Tag"): "tagImage",
    ("post", "images.Push"): "pushImage",
    ("get", "images.Export"): "exportImage",
    ("post", "terminals.Terminal"): "openTerminal",
    ("get", "terminals.TerminalSocket"): "connectTerminal",
    ("get", "registry.Registries"): "listConfiguredRegistries",
    ("get", "containers.Containers"): "listContainers",
    ("post", "containers.Containers"): "createContainer",
    ("post", "containers.Decision"): "decideContainerCreate",
    ("delete", "containers.Containers"): "removeContainers",
    ("post", "containers.Prune"): "pruneContainers",
    ("get", "containers.Container"): "inspectContainer",
    ("delete", "containers.Container"): "removeContainer",
    ("post", "containers.StartContainer"): "startContainer",
    ("post", "containers.StopContainer"): "stopContainer",
    ("post", "containers.RestartContainer"): "restartContainer",
    ("post", "containers.KillContainer"): "killContainer",
    ("post", "containers.PauseContainer"): "pauseContainer",
    ("post", "containers.UnpauseContainer"): "unpauseContainer",
    ("post", "containers.Rename"): "renameContainer",
    ("post", "containers.Update"): "updateContainer",
    ("post", "containers.Wait"): "waitContainer",
    ("get", "containers.Logs"): "getContainerLogs",
    ("get", "containers.Stats"): "getContainerStats",
    ("get", "containers.Top"): "listContainerProcesses",
    ("get", "containers.Changes"): "listContainerChanges",
    ("post", "containers.Exec"): "execInContainer",
    ("post", "containers.Commit"): "commitContainer",
    ("get", "containers.Export"): "exportContainer",
    ("get", "containers.Archive"): "copyFromContainer",
    ("put", "containers.Archive"): "copyToContainer",
    ("get", "volumes.Volumes"): "listVolumes",
    ("post", "volumes.Volumes"): "createVolume",
    ("post", "volumes.Decision"): "decideVolumeCreate",
    ("get", "volumes.Volume"): "inspectVolume",
    ("delete", "volumes.Volume"): "removeVolume",
    ("post", "volumes.Prune"): "pruneVolumes",
    ("get", "volumes.Backup"): "backupVolume",
    ("post", "volumes.Restore"): "restoreVolume",
    ("get", "networks.Networks"): "listNetworks",
    ("post", "networks.Networks"): "createNetwork",
    ("get", "networks.Network"): "inspectNetwork",
    ("delete", "networks.Network"): "removeNetwork",
    ("post", "networks.Connect"): "connectNetwork",
    ("post", "networks.Disconnect"): "disconnectNetwork",
    ("post", "networks.Prune"): "pruneNetworks",
    ("get", "registry.Search"): "searchImages",
    ("get", "registry.Catalog"): "listRegistryRepositories",
    ("get", "registry.Tags"): "listRegistryTags",
    ("get", "swarm.Swarm"): "inspectSwarm",
    ("post", "swarm.Init"): "initSwarm",
    ("post", "swarm.Leave"): "leaveSwarm",
    ("get", "swarm.Nodes"): "listNodes",
    ("get", "swarm.Node"): "inspectNode",
    ("post", "swarm.NodeUpdate"): "updateNode",
    ("get", "swarm.Tasks"): "listTasks",
    ("get", "services.Services"): "listServices",
    ("post", "services.Services"): "createService",
    ("get", "services.Service"): "inspectService",
    ("delete", "services.Service"): "removeService",
    ("post", "services.Scale"): "scaleService",
    ("post", "services.Update"): "updateService",
    ("post", "services.Rollback"): "rollbackService",
    ("get", "services.Logs"): "getServiceLogs",
    ("get", "secrets.Secrets"): "listSecrets",
    ("post", "secrets.Secrets"): "createSecret",
    ("delete", "secrets.Secret"): "removeSecret",
    ("get", "secrets.Configs"): "listConfigs",
    ("post", "secrets.Configs"): "createConfig",
    ("delete", "secrets.Config"): "removeConfig",
    ("get", "concepts.Concepts"): "listConcepts",
    ("get", "concepts.Concept"): "getConcept",
    ("get", "concepts.Diagram"): "getConceptDiagram",
    ("get", "teams.Teams"): "listTeams",
    ("get", "teams.Team"): "getTeam",
    ("put", "teams.given_containers"): "giveContainerToTeam",
    ("delete", "teams.given_containers"): "takeContainerFromTeam",
    ("put", "teams.given_volumes"): "giveVolumeToTeam",
    ("delete", "teams.given_volumes"): "takeVolumeFromTeam",
    ("put", "teams.given_networks"): "giveNetworkToTeam",
    ("delete", "teams.given_networks"): "takeNetworkFromTeam",
    ("put", "teams.given_services"): "giveServiceToTeam",
    ("delete", "teams.given_services"): "takeServiceFromTeam",
    ("put", "teams.given_secrets"): "giveSecretToTeam",
    ("delete", "teams.given_secrets"): "takeSecretFromTeam",
    ("put", "teams.given_configs"): "giveConfigToTeam",
    ("delete", "teams.given_configs"): "takeConfigFromTeam",
}

_ID = "4f9a2c1e7b3d" + "0" * 52
_IMAGE_ID = "sha256:" + "3c5e9a1f2b7d" + "0" * 52
_CONTAINER = {
    "id": _ID,
    "short_id": _ID[:12],
    "name": "web",
    "image": "nginx:1.27",
    "image_id": _IMAGE_ID,
    "command": "/docker-entrypoint.sh nginx -g 'daemon off;'",
    "state": "running",
    "status": "Up 3 minutes",
    "created": "2024-05-02T09:30:00+00:00",
    "ports": [{"container_port": 80, "protocol": "tcp", "host_ip": "127.0.0.1", "host_port": 8080}],
    "labels": {"team": "web"},
    "networks": [
        {
            "name": "bridge",
            "ip_address": "172.17.0.2",
            "gateway": "172.17.0.1",
            "mac_address": "02:42:ac:11:00:02",
            "aliases": [],
        }
    ],
    "mounts": [
        {
            "type": "volume",
            "name": "web-data",
            "source": "/var/lib/docker/volumes/web-data/_data",
            "destination": "/usr/share/nginx/html",
            "read_only": False,
        }
    ],
}
_IMAGE = {
    "id": _IMAGE_ID,
    "short_id": _IMAGE_ID[7:19],
    "tags": ["nginx:1.27"],
    "digests": ["nginx@sha256:" + "9d" * 32],
    "created": "2024-04-16T20:14:01+00:00",
    "size": 187694648,
    "labels": {"maintainer": "NGINX Docker Maintainers"},
}

# component schema -> an example of it
EXAMPLES = {
    "ContainerCreate": {
        "image": "nginx:1.27",
        "name": "web",
        "env": {"NGINX_PORT": "80"},
        "ports": [{"container_port": 80, "host_port": 8080}],
        "mounts": [{"type": "volume", "source": "web-data", "target": "/usr/share/nginx/html"}],
        "labels": {"team": "web"},
        "restart_policy": {"name": "unless-stopped"},
        "memory": 268435456,
        "start": True,
    },
    "Container": _CONTAINER,
    "ContainerDetail": {
        **_CONTAINER,
        "argv": ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"],
        "state_detail": {
            "status": "running",
            "running": True,
            "paused": False,
            "restarting": False,
            "oom_killed": False,
            "dead": False,
            "pid": 4242,
            "exit_code": 0,
            "error": None,
            "started_at": "2024-05-02T09:30:01+00:00",
            "finished_at": None,
            "health": None,
        },
        "restart_count": 0,
        "config": {
            "cmd": ["nginx", "-g", "daemon off;"],
            "entrypoint": ["/docker-entrypoint.sh"],
            "env": {"NGINX_PORT": "80"},
            "working_dir": "",
            "user": "",
            "hostname": _ID[:12],
            "labels": {"team": "web"},
            "tty": False,
            "stdin_open": False,
        },
        "host_config": {
            "memory": 268435456,
            "cpus": None,
            "pids_limit": 1024,
            "read_only": False,
            "restart_policy": {"name": "unless-stopped", "maximum_retry_count": 0},
            "network_mode": "bridge",
        },
    },
    "Exec": {"cmd": ["nginx", "-t"], "timeout": 10},
    "ExecResult": {
        "exit_code": 0,
        "stdout": "",
        "stderr": "nginx: configuration file /etc/nginx/nginx.conf test is successful\n",
        "truncated": False,
    },
    "Image": _IMAGE,
    "ImageDetail": {
        **_IMAGE,
        "architecture": "amd64",
        "os": "linux",
        "parent": None,
        "comment": "",
        "author": "",
        "config": {
            "cmd": ["nginx", "-g", "daemon off;"],
            "entrypoint": ["/docker-entrypoint.sh"],
            "env": {"NGINX_VERSION": "1.27.0"},
            "exposed_ports": ["80/tcp"],
            "working_dir": "",
            "user": "",
            "volumes": [],
            "stop_signal": "SIGQUIT",
        },
        "layers": ["sha256:" + "5d" * 32],
    },
    "Pull": {"image": "nginx", "tag": "1.27"},
    "Tag": {"repository": "127.0.0.1:5000/team/web", "tag": "1.0"},
    "BuildJson": {
        "dockerfile": 'FROM busybox\nCOPY hi.txt /\nCMD ["cat", "/hi.txt"]\n',
        "files": {"hi.txt": "hi\n"},
        "tag": "demo/hi:1",
        "labels": {"team": "web"},
    },
    "Info": {
        "name": "host1",
        "server_version": "24.0.7",
        "api_version": "1.43",
        "os": "linux",
        "operating_system": "Debian GNU/Linux 12 (bookworm)",
        "kernel_version": "6.1.0-21-amd64",
        "architecture": "x86_64",
        "cpus": 8,
        "memory_bytes": 16663232512,
        "containers": 3,
        "containers_running": 1,
        "containers_paused": 0,
        "containers_stopped": 2,
        "images": 12,
        "storage_driver": "overlay2",
        "logging_driver": "json-file",
        "cgroup_driver": "systemd",
        "docker_root_dir": "/var/lib/docker",
        "swarm": "inactive",
        "streams": {
            "limit": 1500,
            "open": 12,
            "refused": 0,
            "event_subscriptions": 1,
            "by_token": [{"token": "ops", "open": 3, "refused": 0, "quota": 64}],
        },
        "read_cache": {
            "enabled": True,
            "serving": True,
            "bytes": 951279,
            "limit_bytes": 67108864,
            "rebuilds": 1,
            "kinds": [
                {
                    "kind": kind,
                    "listed": True,
                    "records": records,
                    "bytes": size,
                    "too_large": False,
                    "hits": hits,
                    "misses": 1,
                }
                for kind, records, size, hits in (
                    ("containers", 200, 921344, 5120),
                    ("images", 3, 2921, 88),
                    ("volumes", 4, 1842, 40),
                    ("networks", 3, 25172, 31),
                )
            ],
        },
    },
    "Error": {
        "code": 409,
        "status": "Conflict",
        "message": 'Conflict. The container name "/web" is already in use',
        "errors": {},
    },
}

# an archive, as the service takes and sends it
TAR_ARCHIVE = {
    **TAR_BODY["schema"],
    "description": "a tar archive; uploads may also be compressed (gzip, bzip2, xz, zstd)",
}
_TAR = "application/x-tar"
# what generated clients read as raw bytes: a tar may come labelled so too
_BYTES = "application/octet-stream"
# other files the service sends or takes
_FILES = ("application/gzip", "image/svg+xml")


# gunicorn's limit on a request line (deploy/gunicorn.conf.py), answered in the error shape
TOO_LONG = {
    "description": "the request line (path and query) is over 8190 bytes",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


# what an engine without a swarm (Podman) answers to an operation of these
NO_SWARM = {
    "description": "the engine has no swarm (Podman): `message` names it",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def operation_id(method: str, endpoint: str) -> str:
    """From the table, else `getVolumes`-like: the method and the view's name."""
    known = OPERATION_IDS.get((method, endpoint))
    return known or method + endpoint.rpartition(".")[2]


class DocumentPlugin(BasePlugin):
    def init_spec(self, spec):
        self.spec = spec
        # the error schema is registered with the api, before this plugin
        for name, definition in spec.components.schemas.items():
            definition.update(self.schema_helper(name, definition))
        spec.components.schema("TarArchive", TAR_ARCHIVE)
        # flask-smorest's, for pagination headers this API does not send
        spec.components.schemas.pop("PaginationMetadata", None)

    def schema_helper(self, name, definition, **kwargs):
        extra = _rules(kwargs.get("schema"))
        if name == "Error":
            # the error handler always sends all four
            extra["required"] = ["code", "status", "message", "errors"]
        if name in EXAMPLES:
            extra["example"] = EXAMPLES[name]
        return extra

    def operation_helper(self, path=None, operations=None, rule=None, **kwargs):
        if rule is None:
            return
        for method, operation in operations.items():
            if method == "parameters":
                continue
            operation.setdefault("operationId", operation_id(method, rule.endpoint))
            if rule.endpoint in PUBLIC_ENDPOINTS:
                operation["security"] = []
            body = operation.get("requestBody", {}).get("content", {})
            _binary(body)
            for response in operation.get("responses", {}).values():
                if isinstance(response, dict):
                    _binary(response.get("content", {}))
            # what the server answers on any path, before the service reads the request
            operation["responses"].setdefault("414", TOO_LONG)
            if {502, "502"} & operation["responses"].keys():
                _ambiguous(operation["responses"])
            if rule.endpoint.partition(".")[0] in NEEDS_SWARM:
                operation["responses"].setdefault("501", NO_SWARM)


# a reference the engine finds several objects for (errors.describe)
AMBIGUOUS = "an id prefix several objects share"


def _ambiguous(responses: dict) -> None:
    """An operation that calls the daemon may name an object by an id prefix that several
    objects share: a 409, said beside the conflicts the operation documents itself."""
    # (flask-smorest keys an operation's own answers by number, until the document is written)
    key = 409 if 409 in responses else "409"
    conflict = responses.get(key)
    if conflict is None:
        responses[key] = {
            "description": f"the engine's state refuses it: {AMBIGUOUS}",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    elif AMBIGUOUS not in conflict.get("description", ""):
        conflict["description"] = f"{conflict['description']}; or {AMBIGUOUS}"


def _rules(schema) -> dict:
    """What a request schema checks across its fields (`document_rules`), as JSON Schema:
    one rule as it is, several under `allOf`."""
    if schema is None or isinstance(schema, str):
        return {}
    rules = getattr(schema, "document_rules", ())
    if len(rules) == 1:
        return dict(rules[0])
    return {"allOf": list(rules)} if rules else {}


def _binary(content: dict) -> None:
    """A file's bytes under their own type, and also as bytes, which generators keep: a tar
    under the named component, a gzip archive, an SVG drawing."""
    if _TAR in content:
        archive = {"schema": {"$ref": "#/components/schemas/TarArchive"}}
        content[_TAR] = archive
        content.setdefault(_BYTES, archive)
    for kind in _FILES:
        if kind in content:
            content.setdefault(_BYTES, {"schema": {"type": "string", "format": "binary"}})


def _request_default(converter, field, ret, **kwargs) -> dict:
    """A request body's field keeps its default in words: generators read a `default` as a
    field the client must send (openapi-typescript), where the service fills it in."""
    owner = field.parent
    while isinstance(owner, ma.fields.Field):
        owner = owner.parent
    if "default" in ret and isinstance(owner, Schema) and not isinstance(owner, Reply):
        said = f"default {json.dumps(ret.pop('default'))}"
        ret["description"] = f"{ret['description']} ({said})" if ret.get("description") else said
    return {}


def _key_names(converter, field, ret, **kwargs) -> dict:
    """A mapping's keys as the service takes them (label keys, variable names, paths): the
    key field's own rules, as JSON Schema's `propertyNames`."""
    keys = getattr(field, "key_field", None)
    if not isinstance(field, ma.fields.Dict) or keys is None:
        return {}
    names = converter.field2property(keys)
    names.pop("description", None)
    return {"propertyNames": names} if names.keys() - {"type"} else {}


def init_app(api, default_engine: str) -> None:
    """Before the blueprints are registered: the plugin sees every operation."""
    info = api.spec.options.setdefault("info", {})
    info["description"] = DESCRIPTION
    info["license"] = {"name": "MIT", "url": "https://opensource.org/licenses/MIT"}
    # each deployment is run by someone: they answer for it
    info["contact"] = {"name": "the operators of this service"}
    # wherever this document is served from: the docs' "try it" calls the address they
    # were loaded from, and a client is given its own
    api.spec.options["servers"] = [
        {"url": "/", "description": "where this document is served: the default engine"},
        {
            "url": "{origin}/engines/{engine}",
            "description": "one engine of the service, by name (`GET /engines` lists them)",
            "variables": {
                "origin": {
                    "default": "http://127.0.0.1:8000",
                    "description": "where the service is served",
                },
                "engine": {"default": default_engine, "description": "the engine's name"},
            },
        },
    ]
    api.ma_plugin.converter.add_attribute_function(_request_default)
    api.ma_plugin.converter.add_attribute_function(_key_names)
    plugin = DocumentPlugin()
    api.spec.plugins.append(plugin)
    plugin.init_spec(api.spec)
