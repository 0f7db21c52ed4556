"""A refusal of the policy: the rule that refuses, and what it judged."""

from dataclasses import dataclass


@dataclass
class Denied(Exception):
    rule: str
    message: str
    # where in the engine's form the refused value sits (`HostConfig.Privileged`), if a field
    field: str | None = None

    def __str__(self):
        where = f" ({self.field})" if self.field else ""
        return f"rule `{self.rule}`{where}: {self.message}"
