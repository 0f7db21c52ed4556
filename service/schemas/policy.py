import marshmallow as ma

from ..policy import ALLOWED, BOUNDED, FORCED, REFUSED
from . import Reply, Str, doc

Int = ma.fields.Integer
Bool = ma.fields.Boolean
Strings = ma.fields.List


class PolicyFieldSchema(Reply):
    field = Str(**doc("the engine's field, by the form it is in (`HostConfig.Privileged`)"))
    rule = Str(
        validate=ma.validate.OneOf((ALLOWED, BOUNDED, FORCED, REFUSED)),
        **doc(
            "`allowed`: any value; `bounded`: within what `allows` says; `forced`: set by the "
            "service at create, held to what `allows` says; `refused`: never set"
        ),
    )
    allows = Str(**doc("what the rule lets through, in words"))
    refusal = Str(allow_none=True, **doc("the rule a refusal names, for a refused field"))


class PolicyRuleSchema(Reply):
    rule = Str(**doc("the rule's name, as refusals name it"))
    says = Str(**doc("what the rule keeps"))


class PolicySettingsSchema(Reply):
    allowed_bind_roots = Strings(Str(), **doc("host directories binds may be under"))
    allow_writable_binds = Bool(**doc("whether host paths may be mounted writable"))
    allowed_volume_drivers = Strings(Str(), **doc("volume drivers allowed"))
    allowed_publish_ips = Strings(Str(), **doc("host addresses ports may be published on"))
    publish_host_ip = Str(**doc("where ports are published when a request names no address"))
    allow_low_ports = Bool(**doc("whether host ports below 1024 may be published"))
    default_memory = Int(**doc("memory in bytes a container gets when it asks for none"))
    max_memory = Int(**doc("the most memory in bytes a container may ask for"))
    default_pids_limit = Int(**doc("processes a container gets when it asks for no limit"))
    max_pids_limit = Int(**doc("the most processes a container may ask for"))
    max_cpus = ma.fields.Float(**doc("the most CPUs a container may ask for"))
    pull_push_registries = Strings(Str(), **doc("registries the engine may fetch from (`*`: any)"))
    restore_max_bytes = Int(**doc("the most bytes a volume restore unpacks"))
    restore_max_entries = Int(**doc("the most entries a volume restore holds"))


class PolicySchema(Reply):
    fields = ma.fields.List(
        ma.fields.Nested(PolicyFieldSchema), **doc("every engine field the policy knows")
    )
    rules = ma.fields.List(
        ma.fields.Nested(PolicyRuleSchema), **doc("the rules that judge more than one field")
    )
    settings = ma.fields.Nested(PolicySettingsSchema, **doc("the configured values the rules read"))
