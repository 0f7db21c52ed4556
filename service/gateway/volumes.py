"""Volume verbs."""

import docker.errors


class VolumeVerbs:
    def volume_record(self, name) -> dict | None:
        """The engine's own record of a volume (driver, options), or None when there is none."""
        try:
            return self.clients.control.inspect_volume(name)
        except docker.errors.NotFound:
            return None
