"""Field types the request schemas share: names and references, environments, commands,
paths, ports, mounts, limits, list filters."""

import posixpath
import shlex

import marshmallow as ma

from . import (
    ADDRESS_MAX,
    ARGUMENT_MAX,
    COMMAND_MAX,
    COMMAND_WORDS_MAX,
    ENV_ENTRIES_MAX,
    ENV_MAX,
    ENV_NAME_MAX,
    ENV_VALUE_MAX,
    EXECUTABLE_MAX,
    FILTERS_MAX,
    HOST_PATH_MAX,
    NAME_MAX,
    PATH_MAX,
    PATH_PART_MAX,
    Bool,
    BoundedDict,
    Int,
    Pattern,
    Schema,
    Str,
    absent,
    doc,
    given,
    having,
    most,
    when,
)

# docker's own rule for container, volume and network names, bounded
NAME = rf"[a-zA-Z0-9][a-zA-Z0-9_.-]{{1,{NAME_MAX - 1}}}"
# a container as a path addresses it: id, short id or name
CONTAINER_REF = rf"^[a-zA-Z0-9][a-zA-Z0-9_.-]{{0,{NAME_MAX - 1}}}$"

name_field = Pattern(
    rf"^{NAME}$",
    error=f"a name is 2 to {NAME_MAX} letters, digits, `_`, `.`, `-`, starting with one of the "
    "first two",
)


def name_string(least: int = 1, **kwargs):
    """A container, volume or network name (or an alias), of ``least`` characters at least."""
    return Str(validate=[ma.validate.Length(min=least, max=NAME_MAX), name_field], **kwargs)


_ENV_NAME = Pattern(
    rf"^[^=\x00\n\r]{{1,{ENV_NAME_MAX}}}$",
    error=f"an environment name is 1 to {ENV_NAME_MAX} characters, without `=`",
)
# values that may span lines (environment, file contents) must only hold no NUL
_NO_NUL = ma.validate.Regexp(r"^[^\x00]*$", error="no NUL character")


def env_map(description: str, load_default=dict):
    """Environment variables by name, bounded one by one and in all."""
    return BoundedDict(
        Str(validate=_ENV_NAME),
        Str(validate=[ma.validate.Length(max=ENV_VALUE_MAX), _NO_NUL]),
        entries=ENV_ENTRIES_MAX,
        total=ENV_MAX,
        load_default=load_default,
        **doc(
            f"{description}: at most {ENV_ENTRIES_MAX}, values of at most {ENV_VALUE_MAX} "
            f"characters, {ENV_MAX} in all"
        ),
    )


# a command given as one string: words as a POSIX shell splits them (shlex), quotes closed
# and no backslash left at the end, no NUL; short enough that its first word fits
COMMAND_TEXT_MAX = EXECUTABLE_MAX
_BLANK = r"[ \t\r\n]"
_WORD_PART = r"""(?:[^ \t\r\n'"\\\x00]|\\[^\x00]|'[^'\x00]*'|"(?:[^"\\\x00]|\\[^\x00])*")"""
SHELL_WORDS = rf"^{_BLANK}*{_WORD_PART}(?:{_WORD_PART}|{_BLANK})*$"


class CommandField(ma.fields.Field):
    """A command as a list of arguments, or as one string split the way a shell would."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            if len(value) > COMMAND_TEXT_MAX:
                raise ma.ValidationError(
                    f"a command given as one string is at most {COMMAND_TEXT_MAX} characters "
                    "(a longer one is a list)"
                )
            try:
                value = shlex.split(value)
            except ValueError as exc:
                raise ma.ValidationError(f"cannot split this command: {exc}") from exc
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ma.ValidationError("a command is a list of strings, or a string")
        if not value:
            raise ma.ValidationError("a command has at least one word")
        if len(value) > COMMAND_WORDS_MAX or any("\x00" in v for v in value):
            raise ma.ValidationError(
                f"a command has at most {COMMAND_WORDS_MAX} arguments, without NUL"
            )
        # runc wedges writing its error about an executable name past 64 KiB
        if len(value[0]) > EXECUTABLE_MAX:
            raise ma.ValidationError(
                f"a command's first word (the executable) is at most {EXECUTABLE_MAX} characters"
            )
        if any(len(v) > ARGUMENT_MAX for v in value[1:]):
            raise ma.ValidationError(
                f"a command's arguments are at most {ARGUMENT_MAX} characters each"
            )
        if sum(len(v) for v in value) > COMMAND_MAX:
            raise ma.ValidationError(f"a command is at most {COMMAND_MAX} characters in all")
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return value


def _word(most: int) -> dict:
    return {"type": "string", "pattern": r"^[^\x00]*$", "maxLength": most}


def command_field(description, **kwargs):
    return CommandField(
        metadata={
            "description": f"{description}: a list of words, the first (the executable) at "
            f"most {EXECUTABLE_MAX} characters, any other at most {ARGUMENT_MAX}, all at most "
            f"{COMMAND_MAX}; or one string of at most {COMMAND_TEXT_MAX}, split as a POSIX "
            "shell splits words (quotes and backslashes; no variables or globs)",
            "oneOf": [
                {
                    "type": "array",
                    "prefixItems": [_word(EXECUTABLE_MAX)],
                    "items": _word(ARGUMENT_MAX),
                    "minItems": 1,
                    "maxItems": COMMAND_WORDS_MAX,
                },
                {"type": "string", "pattern": SHELL_WORDS, "maxLength": COMMAND_TEXT_MAX},
            ],
        },
        **kwargs,
    )


def _path_fits(value: str) -> None:
    # the engine answers 500 "file name too long" for longer ones
    if len(value.encode("utf-8", "surrogatepass")) > PATH_MAX or any(
        len(part.encode("utf-8", "surrogatepass")) > PATH_PART_MAX for part in value.split("/")
    ):
        raise ma.ValidationError(
            f"a path is at most {PATH_MAX} bytes (UTF-8), each of its names {PATH_PART_MAX}"
        )


def absolute_path(value: str) -> str:
    if not value.startswith("/") or "\x00" in value:
        raise ma.ValidationError("an absolute path inside the container is needed")
    _path_fits(value)
    # normpath keeps a leading `//`, which the engine reads as `/`
    return "/" + posixpath.normpath(value).lstrip("/")


_ABSOLUTE = [
    ma.validate.Length(max=PATH_MAX),
    # each name at most PATH_PART_MAX characters (and bytes, checked when loaded)
    Pattern(
        rf"^(?:/[^/\x00\n\r]{{0,{PATH_PART_MAX}}})+$",
        error="an absolute path is needed, each name at most 255 characters",
    ),
]


class AbsolutePath(ma.fields.String):
    def __init__(self, **kwargs):
        kwargs.setdefault("validate", _ABSOLUTE)
        metadata = kwargs.setdefault("metadata", {})
        metadata["description"] = (
            f"{metadata.get('description', 'a path')} (at most {PATH_MAX} bytes in UTF-8, "
            f"{PATH_PART_MAX} a name)"
        )
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return absolute_path(super()._deserialize(value, attr, data, **kwargs))


# IP addresses as written (RFC 3986's grammar, no zone): what Python's ipaddress reads, so
# that the document's patterns are the service's own checks
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H16 = r"[0-9a-fA-F]{1,4}"
_LS32 = rf"(?:{_H16}:{_H16}|{IPV4})"


def _groups(count: int) -> str:
    return rf"(?:{_H16}:){{{count}}}"


def _before(most: int) -> str:
    """Up to ``most`` + 1 groups before a `::`, or none."""
    return rf"(?:(?:{_H16}:){{0,{most}}}{_H16})?"


IPV6 = (
    "(?:"
    + "|".join(
        [
            rf"{_groups(6)}{_LS32}",
            rf"::{_groups(5)}{_LS32}",
            rf"{_before(0)}::{_groups(4)}{_LS32}",
            rf"{_before(1)}::{_groups(3)}{_LS32}",
            rf"{_before(2)}::{_groups(2)}{_LS32}",
            rf"{_before(3)}::{_H16}:{_LS32}",
            rf"{_before(4)}::{_LS32}",
            rf"{_before(5)}::{_H16}",
            rf"{_before(6)}::",
        ]
    )
    + ")"
)
IP_ADDRESS = rf"(?:{IPV4}|{IPV6})"
# an address range: an address and its prefix length
SUBNET = rf"(?:{IPV4}/(?:3[0-2]|[12]?[0-9])|{IPV6}/(?:12[0-8]|1[01][0-9]|[1-9]?[0-9]))"
_ip = Pattern(rf"^{IP_ADDRESS}$", error="not an IP address (IPv4, or IPv6 without a zone)")


class PortSchema(Schema):
    container_port = Int(
        required=True, validate=ma.validate.Range(1, 65535), **doc("port inside the container")
    )
    protocol = Str(
        load_default="tcp", validate=ma.validate.OneOf(["tcp", "udp", "sctp"]), **doc("protocol")
    )
    host_port = Int(
        allow_none=True,
        validate=ma.validate.Range(1, 65535),
        **doc("port on the host; none for one the engine picks"),
    )
    host_ip = Str(
        allow_none=True,
        validate=[ma.validate.Length(max=ADDRESS_MAX), _ip],
        **doc("host address to publish on; the configured one (127.0.0.1) by default"),
    )


# mount targets the engine refuses, or that would cover what the runtime mounts there itself:
# the root, /dev, and anything at or under /proc and /sys
_RESERVED_TARGETS = {"/", "/dev"}
_RESERVED_TREES = ("/proc", "/sys")
# files the engine writes into every container: only a bind (of a file) may stand in for them
_ENGINE_FILES = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}


def _mount_target(value: str) -> None:
    if value in _RESERVED_TARGETS or any(
        value == tree or value.startswith(f"{tree}/") for tree in _RESERVED_TREES
    ):
        raise ma.ValidationError(
            "a mount may not cover /, /dev, /proc or /sys (nor anything under the last two)"
        )


_MOUNT_TYPES = ("volume", "bind", "tmpfs")


def _kind(*names: str) -> dict:
    """A condition: the mount is of one of these types."""
    return having("type", {"enum": list(names)} if len(names) > 1 else {"const": names[0]})


def _other_than(name: str) -> dict:
    return _kind(*(kind for kind in _MOUNT_TYPES if kind != name))


class MountSchema(Schema):
    document_rules = (
        when(_kind("bind"), given("source", {"pattern": "^/"})),
        when(_kind("volume"), having("source", {"pattern": rf"^{NAME}$"})),
        # an anonymous volume
        when(
            {**_kind("volume"), "properties": {"type": {"const": "volume"}, "source": False}},
            having("read_only", {"const": False}),
        ),
        when(_kind("tmpfs"), absent("source")),
        when(_other_than("tmpfs"), absent("tmpfs_size")),
        when(_other_than("bind"), having("target", {"not": {"enum": sorted(_ENGINE_FILES)}})),
    )

    type = Str(
        required=True,
        validate=ma.validate.OneOf(["volume", "bind", "tmpfs"]),
        **doc("volume (named or anonymous), bind (a host path, when allowed), tmpfs"),
    )
    source = Str(
        validate=ma.validate.Length(min=1, max=HOST_PATH_MAX),
        **doc(
            f"volume name (at most {NAME_MAX} characters), or host path for a bind; none for an "
            "anonymous volume or tmpfs"
        ),
    )
    target = AbsolutePath(
        required=True,
        validate=[*_ABSOLUTE, _mount_target],
        **doc(
            "absolute path inside the container: not /, /dev, /proc, /sys nor under the last two"
        ),
    )
    read_only = Bool(load_default=False, **doc("mount read-only (not an anonymous volume)"))
    tmpfs_size = Int(validate=ma.validate.Range(min=1), **doc("tmpfs: size in bytes"))

    @ma.validates_schema
    def _source_fits_type(self, data, **kwargs):
        kind, source = data.get("type"), data.get("source")
        if kind == "bind" and not (source or "").startswith("/"):
            raise ma.ValidationError("a bind mount's source is an absolute host path", "source")
        if kind == "volume" and source is not None:
            try:
                name_field(source)
            except ma.ValidationError as exc:
                raise ma.ValidationError(exc.messages, "source") from exc
        if kind == "volume" and source is None and data.get("read_only"):
            # the engine refuses it: an anonymous volume starts empty
            raise ma.ValidationError("an anonymous volume cannot be read-only", "read_only")
        if kind == "tmpfs" and source is not None:
            raise ma.ValidationError("a tmpfs mount has no source", "source")
        if kind != "tmpfs" and "tmpfs_size" in data:
            raise ma.ValidationError("only a tmpfs mount has a size", "tmpfs_size")
        if kind != "bind" and data.get("target") in _ENGINE_FILES:
            raise ma.ValidationError(
                f"{data['target']} is a file the engine writes: only a bind may replace it",
                "target",
            )


class RestartPolicySchema(Schema):
    document_rules = (
        when(
            given("maximum_retry_count", {"exclusiveMinimum": 0}),
            having("name", {"const": "on-failure"}),
        ),
    )

    name = Str(
        required=True,
        validate=ma.validate.OneOf(["no", "always", "unless-stopped", "on-failure"]),
        **doc("when the engine restarts the container"),
    )
    maximum_retry_count = Int(
        load_default=0,
        validate=ma.validate.Range(min=0, max=1000),
        **doc("on-failure only: restarts at most this many times (0: no limit)"),
    )

    @ma.validates_schema
    def _retries_on_failure(self, data, **kwargs):
        if data.get("maximum_retry_count") and data.get("name") != "on-failure":
            raise ma.ValidationError(
                "a retry count is for `on-failure` only", "maximum_retry_count"
            )


def user_field():
    return Str(
        validate=Pattern(r"^[a-zA-Z0-9_.-]{1,64}(:[a-zA-Z0-9_.-]{1,64})?$"),
        **doc("user (and group) the command runs as, by name or id"),
    )


def memory_field():
    return Int(
        validate=ma.validate.Range(min=6 * 1024 * 1024, max=2**50),
        **doc("memory limit in bytes (at least 6 MiB)"),
    )


def cpus_field():
    return ma.fields.Float(
        validate=ma.validate.Range(min=0.01, max=1024),
        **doc("CPUs the container may use, e.g. 0.5"),
    )


def pids_field():
    return Int(validate=ma.validate.Range(min=1, max=4194304), **doc("most processes at once"))


def filter_list(longest: int, description: str):
    """A repeatable query filter of non-empty values: an empty one would match everything."""
    return ma.fields.List(
        Str(validate=ma.validate.Length(min=1, max=longest)),
        validate=most(FILTERS_MAX),
        load_default=list,
        **doc(description),
    )
