"""Schemas of /volumes."""

import marshmallow as ma

from . import (
    FILTERS_MAX,
    LABEL_KEY,
    LABEL_VALUE_MAX,
    Bool,
    BoundedDict,
    Int,
    Pattern,
    QueryArgsSchema,
    Reply,
    Schema,
    Str,
    doc,
    label_filters,
    label_map,
    most,
)
from .fields import filter_list, name_string

DRIVER_OPTS_MAX = 32
# a volume driver: `local`, or a plugin's name, which may carry a registry path and a tag
DRIVER = r"^[a-zA-Z0-9][a-zA-Z0-9_.:/-]{0,127}$"
_driver = Pattern(DRIVER, error="a driver is a name such as `local`")


class VolumeUserSchema(Reply):
    id = Str(**doc("the container's full id"))
    name = Str(**doc("the container's name"))
    state = Str(**doc("the container's state: running, exited, created..."))


class VolumeSchema(Reply):
    name = Str(**doc("volume name"))
    driver = Str(**doc("volume driver (`local`)"))
    mountpoint = Str(**doc("where the engine keeps its files on the host"))
    created = ma.fields.DateTime(allow_none=True, **doc("when it was created"))
    labels = ma.fields.Dict(Str(), Str(), **doc("its labels"))
    scope = Str(**doc("`local` (this engine) or `global` (a cluster-wide driver)"))
    in_use_by = ma.fields.List(
        ma.fields.Nested(VolumeUserSchema),
        **doc("the containers that mount it, running or not: it cannot be removed while any do"),
    )


class VolumeListItemSchema(VolumeSchema):
    size = ma.fields.Integer(
        allow_none=True,
        **doc("bytes its files take, as `docker system df -v` counts them (`size=true`); null "
              "when not asked, or when the engine does not know (a driver other than local)"),
    )  # fmt: skip


class VolumeDetailSchema(VolumeSchema):
    options = ma.fields.Dict(Str(), Str(), **doc("the driver's options it was created with"))


class VolumeListArgsSchema(QueryArgsSchema):
    label = label_filters(doc("only volumes with this label, `key` or `key=value` (repeatable)"))
    name = filter_list(256, "name contains this (repeatable: any of them)")
    driver = filter_list(128, "of this driver (repeatable: any of them)")
    dangling = Bool(**doc("true: only volumes no container mounts; false: only mounted ones"))
    size = Bool(
        load_default=False,
        **doc("also each volume's size: the engine then measures every volume's files (slow)"),
    )


LIST_FILTERS = ("label", "name", "driver", "dangling")


class VolumeCreateSchema(Schema):
    # the engine's own rule: two characters at least
    name = name_string(2, **doc("its name (2 characters at least); the engine makes one up"))
    driver = Str(load_default="local", validate=_driver, **doc("volume driver; allowed ones only"))
    driver_opts = BoundedDict(
        Str(validate=Pattern(r"^[a-zA-Z0-9_.-]{1,64}$", error="an option name")),
        Str(
            validate=[
                ma.validate.Length(max=4096),
                Pattern(r"^[^\x00\n\r]*$", error="no NUL nor line break"),
            ]
        ),
        entries=DRIVER_OPTS_MAX,
        load_default=dict,
        **doc(
            "the driver's options (`type`, `o`, `device` for `local`): a tmpfs, or a bind of "
            "a host path under the allowed roots; anything else is refused by the policy"
        ),
    )
    labels = label_map("labels to set on it")


class VolumeRemoveArgsSchema(QueryArgsSchema):
    force = Bool(
        load_default=False,
        **doc("also remove the containers that mount it (running ones are killed first)"),
    )


class VolumePruneSchema(Schema):
    label = label_filters(doc("only volumes with these labels (`key` or `key=value`)"))


class VolumePruneReportSchema(Reply):
    deleted = ma.fields.List(Str(), **doc("names of the volumes removed"))
    space_reclaimed = Int(**doc("bytes freed"))


_LABEL_SETTING = Pattern(
    rf"^{LABEL_KEY}=[^\x00\n\r]{{0,{LABEL_VALUE_MAX}}}$", error="a label is `key=value`"
)


class RestoreArgsSchema(QueryArgsSchema):
    mode = Str(
        load_default="merge",
        validate=ma.validate.OneOf(["merge", "replace"]),
        **doc(
            "`merge`: the archive's files are written over the volume's, the others stay; "
            "`replace`: the volume holds exactly the archive afterwards"
        ),
    )
    label = ma.fields.List(
        Str(validate=_LABEL_SETTING),
        validate=most(FILTERS_MAX),
        load_default=list,
        **doc("`key=value` labels for the volume when the restore creates it (repeatable)"),
    )


class RestoredSchema(Reply):
    volume = ma.fields.Nested(VolumeDetailSchema, **doc("the volume after the restore"))
    mode = Str(**doc("`merge` or `replace`"))
    created = Bool(**doc("whether the restore created the volume"))
    entries = Int(**doc("entries of the archive written (files, directories, links)"))
    bytes = Int(**doc("bytes of the archive received, as sent (compressed or not)"))
