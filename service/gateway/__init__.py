"""The gateway: the only code that speaks docker-py. No Flask in here.

Each resource's verbs live in a module of their own and are gathered on DockerGateway.
Errors are docker-py's and requests' own; service.errors turns them into HTTP answers.
"""

from .client import DaemonClients, DaemonSettings
from .containers import ContainerVerbs
from .front import FrontVerbs
from .images import ImageVerbs
from .mirror import Mirror, Reads
from .networks import NetworkVerbs
from .registry import RegistryVerbs
from .services import ServiceVerbs
from .swarm import SwarmVerbs
from .system import SystemVerbs
from .terminals import TerminalVerbs
from .volumes import VolumeVerbs


class DockerGateway(
    SystemVerbs,
    ImageVerbs,
    ContainerVerbs,
    TerminalVerbs,
    VolumeVerbs,
    NetworkVerbs,
    RegistryVerbs,
    ServiceVerbs,
    SwarmVerbs,
    FrontVerbs,
):
    def __init__(self, settings: DaemonSettings, name: str = "default"):
        self.clients = DaemonClients(settings)
        # the engine's name in the service (its events name it)
        self.name = name
        # the worker's mirror of the engine's objects (set by the service, else none)
        self.mirror: Mirror | None = None

    def reads(self, cached: bool = False):
        """Where a read goes: the engine's mirror when ``cached`` and the mirror serves (it
        asks the daemon for what it cannot answer), else the daemon."""
        if cached and self.mirror is not None and self.mirror.serving():
            return Reads(self.mirror, self.clients.control)
        return self.clients.control

    @property
    def url(self) -> str:
        return self.clients.settings.url

    def close(self):
        self.clients.close()


__all__ = ["DockerGateway", "DaemonSettings"]
