"""Which images a Docker build will fetch, told from its Dockerfile before the engine sees it.

``build_sources`` lists the image references a build may pull, so that a policy can compare
their registries (``service.gateway.registry.registry_of``) with the ones it allows and refuse
a build before the engine contacts any other. It is pure: no engine, no registry, no files.

DockerfileParser (dockerfile-parse) splits the text into instructions: continued lines,
comments, the escape directive. Where it reads lines otherwise than the engine (a blank line
inside a continued instruction, a continuation at the end of the file, a blank other than a
space after the escape character, an escape directive the engine ignores), the text is
mended first or the split is checked and refused. Its parent_images, baseimage and build_args
are not used: they leave ARG defaults unexpanded, make an unset ARG an empty string, know
neither `${NAME:-word}` nor stages nor `scratch`, and give a stage's `ARG NAME=default` the
global value instead.

What counts:

- each FROM that is not an earlier stage (nor `scratch`); each `COPY --from` that is not an
  earlier stage's name nor a stage index; each `from=` of a `RUN --mount` that is not an
  earlier stage's name (BuildKit looks mounts up by name only: `from=0` is an image);
- only earlier stages are stages: the classic builder, which the service uses, pulls
  `COPY --from=x` as an image when `x` names the current or a later stage;
- with a target, every stage up to and including it, as the classic builder builds them all
  (BuildKit skips those the target does not need: fewer pulls, never more);
- variables: `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:+word}`, quotes and escapes, as the
  engine's shell lexer reads them. FROM sees the ARGs declared before the first FROM (a
  build argument overrides a default); a stage sees its own ARGs (`ARG NAME` alone takes the
  global value) and ENVs, in order. A variable the stage does not set may come from its base
  image, which is not known here: a reference that uses one is refused (UnresolvedSource), as
  is one that uses an unset variable, one left with a `$`, or one that is empty. The classic
  builder does not expand `COPY --from` at all (`$X` is then an invalid name): counting the
  expanded value is the safe side. BuildKit's platform ARGs (TARGETARCH...) are known only
  through ``build_args``.

Not counted: the `# syntax=` directive's image and a `BUILDKIT_SYNTAX` build argument, which
only BuildKit pulls (as the Dockerfile's frontend): the service builds with the classic
builder, which ignores both; ONBUILD instructions (they run in later builds FROM the image
made here), and the ONBUILD triggers of base images, which the Dockerfile does not show;
`ADD` of a URL or a git repository (not a registry). Heredocs (BuildKit) are not read: their
lines are taken as instructions, as the classic builder does, and an unknown instruction is
refused.
"""

import csv
import io
import posixpath
import re
import tarfile
import tempfile
from collections.abc import Iterator

from dockerfile_parse import DockerfileParser

from .archives import ChunkReader

INSTRUCTIONS = frozenset(
    "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM HEALTHCHECK LABEL MAINTAINER ONBUILD RUN "
    "SHELL STOPSIGNAL USER VOLUME WORKDIR".split()
)
# set by buildkit from the build's platforms, which are not known here
PLATFORM_ARGS = frozenset(
    "BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT "
    "TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT".split()
)
# a parser directive as the engine reads it: ascii blanks only
_DIRECTIVE = re.compile(r"#[ \t]*([A-Za-z][A-Za-z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*")
_INDEX = re.compile(r"[+-]?[0-9]+")


class UnresolvedSource(ValueError):
    """A build whose sources cannot be told from its Dockerfile. ``line`` is 1-based; None
    when no one line is at fault (an unknown target, a text that is not UTF-8)."""

    def __init__(self, line: int | None, reason: str):
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line, self.reason = line, reason


def build_sources(
    dockerfile: str, build_args: dict[str, str] | None = None, target: str | None = None
) -> list[str]:
    """Every image reference the build may pull, after variable substitution, in order of
    appearance and without duplicates. Raises UnresolvedSource naming the line when one
    cannot be resolved (an unset or unknowable variable, a `$` left, an empty value, a
    Dockerfile the engine would read otherwise or not at all)."""
    build_args = dict(build_args or {})
    lines = _lines(dockerfile)
    escape, _ = _directives(lines)
    instructions = _instructions(lines, escape)

    names = [_from_args(value, line)[1] for line, kind, value in instructions if kind == "FROM"]
    last = len(names) - 1
    if target:
        if target.lower() not in names:
            raise UnresolvedSource(None, f"no stage is named `{target}`")
        last = names.index(target.lower())

    sources: list[str] = []
    # global ARGs: a value, None when not knowable; absent when unset
    metas: dict[str, str | None] = {name: build_args.get(name) for name in PLATFORM_ARGS}
    scope: dict[str, str | None] = {}  # the current stage's variables; absent: unknown
    stage = -1
    for line, kind, value in instructions:
        if kind == "FROM":
            stage += 1
            if stage > last:
                break
            image = _resolve(_from_args(value, line)[0], metas, escape, line, closed=True)
            if image != "scratch" and image.lower() not in names[:stage]:
                sources.append(image)
            scope = {}
        elif stage < 0:
            if kind != "ARG":
                raise UnresolvedSource(line, f"{kind} comes before the first FROM")
            _global_args(metas, value, escape, line, build_args)
        elif kind == "ARG":
            _stage_args(scope, value, escape, line, build_args, metas)
        elif kind == "ENV":
            before = dict(scope)
            for name, word in _pairs(value, escape, line, legacy=True):
                scope[name] = _value(word, before, escape, line, closed=False)
        elif kind == "COPY":
            for flag in _flags(value)[0]:
                key, _, word = flag.partition("=")
                if key.lower() == "--from":
                    ref = _resolve(word, scope, escape, line, closed=False)
                    if not _INDEX.fullmatch(ref) and ref.lower() not in names[:stage]:
                        sources.append(ref)
        elif kind == "RUN":
            for flag in _flags(value)[0]:
                key, _, mount = flag.partition("=")
                if key.lower() == "--mount":
                    for word in _mount_froms(mount, line):
                        ref = _resolve(word, scope, escape, line, closed=False)
                        if ref.lower() not in names[:stage]:
                            sources.append(ref)
    return list(dict.fromkeys(sources))


def _lines(dockerfile: str) -> list[str]:
    """The text's lines, as the engine reads them (a BOM dropped, CRLF as LF)."""
    lines = dockerfile.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _directives(lines: list[str]) -> tuple[str, str | None]:
    """The escape character and the `syntax` image set by the directives heading the file."""
    escape, syntax, others = None, None, False
    for number, line in enumerate(lines, 1):
        found = _DIRECTIVE.fullmatch(line.lstrip(" \t"))
        if not found:
            break
        key, value = found.group(1).lower(), found.group(2)
        if key == "escape":
            # after another directive: the classic builder ignores it, buildkit may not
            if escape or others or value not in ("\\", "`"):
                raise UnresolvedSource(number, "an escape directive builders read differently")
            escape = value
        elif key == "syntax" and syntax is None:
            syntax = value
        else:
            others = True
    return escape or "\\", syntax


def _instructions(lines: list[str], escape: str) -> list[tuple[int, str, str]]:
    """(line, INSTRUCTION, value) of each instruction, by DockerfileParser, whose joining of
    continued lines is checked against the engine's."""
    # the engine skips blank lines inside a continued instruction, the parser ends it there;
    # a comment both skip. the blank line added ends an instruction continued at the end
    text = "".join((line if line.strip() else "#") + "\n" for line in lines) + "\n"
    try:
        structure = DockerfileParser(fileobj=io.BytesIO(text.encode())).structure
    except UnicodeError:
        raise UnresolvedSource(None, "the Dockerfile is not UTF-8 text") from None
    found = []
    for item in structure:
        kind, line = item["instruction"], item["startline"] + 1
        if kind == "COMMENT":
            continue
        if kind not in INSTRUCTIONS:
            raise UnresolvedSource(line, f"unknown instruction `{kind}`")
        # the parser continues a line after any blank, and may not know the escape directive
        rows = item["content"].split("\n")[:-1]
        continued = [row.rstrip(" \t").endswith(escape) for row in rows]
        if continued != [True] * (len(rows) - 1) + [False]:
            raise UnresolvedSource(line, "the engine would join this instruction's lines otherwise")
        found.append((line, kind, item["value"]))
    return found


def _from_args(value: str, line: int) -> tuple[str, str]:
    """The image word of a FROM and its stage's name (lowercase; "" for none)."""
    args = _flags(value)[1].split()
    if len(args) == 1:
        return args[0], ""
    if len(args) == 3 and args[1].lower() == "as":
        return args[0], args[2].lower()
    raise UnresolvedSource(line, "FROM takes an image, then optionally AS and a stage name")


def _flags(value: str) -> tuple[list[str], str]:
    """The leading `--flags` of an instruction, quotes off and backslash escapes applied as
    the engine does (whatever the escape directive), and the rest of its arguments."""
    flags, pos = [], 0
    while True:
        while pos < len(value) and value[pos].isspace():
            pos += 1
        if not value.startswith("--", pos):
            return flags, value[pos:]
        word, quote = [], None
        while pos < len(value) and (quote or not value[pos].isspace()):
            ch = value[pos]
            if ch == "\\":
                pos += 1
                word.append(value[pos : pos + 1])
            elif quote is None and ch in "'\"":
                quote = ch
            elif ch == quote:
                quote = None
            else:
                word.append(ch)
            pos += 1
        if "".join(word) == "--":
            return flags, value[pos:]
        flags.append("".join(word))


def _mount_froms(mount: str, line: int) -> list[str]:
    """The `from=` values of a `--mount` (comma-separated fields, as csv, keys any case)."""
    try:
        fields = next(csv.reader([mount]), [])
    except csv.Error:
        raise UnresolvedSource(line, f"a --mount that cannot be read: {mount}") from None
    pairs = (field.partition("=") for field in fields)
    return [word for key, eq, word in pairs if eq and key.strip().lower() == "from"]


def _words(text: str, escape: str) -> list[str]:
    """``text`` split at blanks outside quotes, quotes and escapes kept (ARG and ENV)."""
    words, word, quote, pos = [], "", None, 0
    while pos < len(text):
        ch = text[pos]
        if quote is None and ch.isspace():
            if word:
                words.append(word)
            word = ""
        elif ch == escape and quote != "'":
            word += text[pos : pos + 2]
            pos += 1
        else:
            if quote is None and ch in "'\"":
                quote = ch
            elif ch == quote:
                quote = None
            word += ch
        pos += 1
    return words + [word] if word else words


def _pairs(value: str, escape: str, line: int, legacy: bool) -> list[tuple[str, str | None]]:
    """The (name, raw value or None) an ARG or ENV declares; ``legacy``: `ENV NAME value`."""
    words = _words(value, escape)
    if legacy and words and "=" not in words[0]:
        parts = re.split(r"[ \t]+", value.strip(" \t"), maxsplit=1)
        if len(parts) < 2:
            raise UnresolvedSource(line, f"ENV {parts[0]} has no value")
        return [(parts[0], parts[1])]
    pairs = []
    for word in words:
        name, eq, raw = word.partition("=")
        if legacy and not eq:
            raise UnresolvedSource(line, f"`{word}` in an ENV is not NAME=value")
        pairs.append((name, raw if eq else None))
    return pairs


def _global_args(metas, value, escape, line, build_args) -> None:
    """Applies an ARG before the first FROM to the global ARGs ``metas``."""
    before = dict(metas)
    for name, raw in _pairs(value, escape, line, legacy=False):
        if name in PLATFORM_ARGS:
            continue
        if name in build_args:
            metas[name] = build_args[name]
        elif raw is not None:
            metas[name] = _value(raw, before, escape, line, closed=True)
        else:
            metas.pop(name, None)
        # builders differ on whether a later value on the line sees this one
        before[name] = None


def _stage_args(scope, value, escape, line, build_args, metas) -> None:
    """Applies an ARG of a stage to its variables ``scope``; `ARG NAME` alone takes the
    global value, or leaves NAME as it was (an ENV, the base image's)."""
    before = dict(scope)
    for name, raw in _pairs(value, escape, line, legacy=False):
        if name in build_args:
            scope[name] = build_args[name]
        elif raw is not None:
            scope[name] = _value(raw, before, escape, line, closed=False)
        elif name in metas:
            scope[name] = metas[name]
        before[name] = None


def _value(word, scope, escape, line, closed) -> str | None:
    """A variable's value; None when it cannot be known here."""
    try:
        return _Lexer(word, scope, escape, line, closed).word()
    except UnresolvedSource:
        return None


def _resolve(word, scope, escape, line, closed) -> str:
    """An image reference, its variables substituted; refused when it cannot be known."""
    ref = _Lexer(word, scope, escape, line, closed).word()
    if not ref:
        raise UnresolvedSource(line, f"`{word}` is empty once substituted")
    if "$" in ref:
        raise UnresolvedSource(line, f"`{ref}` keeps a `$`")
    return ref


class _Lexer:
    """The engine's word expansion: quotes, escapes, `$NAME`, `${NAME}`, `${NAME:-word}`,
    `${NAME:+word}`. ``scope``: name to value, None when it cannot be known; a name absent
    is unset when ``closed`` (the global ARGs), else unknown (a base image's ENV, maybe)."""

    def __init__(self, text, scope, escape, line, closed):
        self.text, self.scope, self.closed = text, scope, closed
        self.escape, self.line = escape, line
        self.pos = 0
        self.quiet = 0  # inside a default or an alternative that is not used

    def fail(self, reason: str) -> UnresolvedSource:
        return UnresolvedSource(self.line, reason)

    def next(self) -> str:
        self.pos += 1
        return self.text[self.pos - 1 : self.pos]

    def word(self, stop: str | None = None) -> str:
        out = []
        while self.pos < len(self.text):
            ch = self.next()
            if ch == stop:
                return "".join(out)
            if ch == self.escape:
                out.append(self.next())
            elif ch == "'":
                end = self.text.find("'", self.pos)
                if end < 0:
                    raise self.fail("a single quote is not closed")
                out.append(self.text[self.pos : end])
                self.pos = end + 1
            elif ch == '"':
                out.append(self.double())
            elif ch == "$":
                out.append(self.dollar())
            else:
                out.append(ch)
        if stop:
            raise self.fail("a `${` is not closed")
        return "".join(out)

    def double(self) -> str:
        out = []
        while self.pos < len(self.text):
            ch = self.next()
            if ch == '"':
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
            elif ch == self.escape and self.text[self.pos : self.pos + 1] in ('"', "$", ch):
                out.append(self.next())
            else:
                out.append(ch)
        raise self.fail("a double quote is not closed")

    def name(self) -> str:
        start = self.pos
        digits = self.text[start : start + 1].isdigit()
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if not (ch.isdigit() if digits else ch.isalnum() or ch == "_"):
                break
            self.pos += 1
        return self.text[start : self.pos]

    def lookup(self, name: str) -> str | None:
        """The variable's value; None when it is known to be unset."""
        value = self.scope.get(name)
        if value is not None:
            return value
        if self.quiet:
            return ""
        if name not in self.scope and self.closed:
            return None
        if name in self.scope:
            raise self.fail(f"`${name}` has no value that can be known before the build")
        raise self.fail(f"`${name}` is not set in this stage (it may come from the base image)")

    def dollar(self) -> str:
        if self.text[self.pos : self.pos + 1] != "{":
            name = self.name()
            return self.variable(name) if name else "$"
        self.pos += 1
        name = self.name()
        after = self.next()
        if name and after == "}":
            return self.variable(name)
        if not after:
            raise self.fail("a `${` is not closed")
        modifier = self.next()
        if not name or after != ":" or modifier not in ("-", "+"):
            raise self.fail("a substitution other than ${NAME}, ${NAME:-word}, ${NAME:+word}")
        value = self.lookup(name) or ""
        used = not value if modifier == "-" else bool(value)
        self.quiet += not used
        word = self.word(stop="}")
        self.quiet -= not used
        if modifier == "-":
            return value or word
        return word if value else ""

    def variable(self, name: str) -> str:
        value = self.lookup(name)
        if value is None:
            raise self.fail(f"`${name}` is not set (no default, no build argument)")
        return value


# the largest Dockerfile read out of a tar context
DOCKERFILE_MAX = 1024 * 1024
SPOOL_CHUNK = 1024 * 1024


class ContextTooLarge(ValueError):
    """A build context that unpacks to more than it may."""


class SpooledContext:
    """A tar build context (maybe compressed) read as it arrives and written again, as read,
    to a plain tar in a spool file: the engine then gets exactly the entries whose Dockerfile
    was read here, whatever another tar reader would have made of the original bytes.

    ``path`` is the Dockerfile's path in the context (`dockerfile` is looked for too when it
    is the default `Dockerfile`, as the engine does)."""

    def __init__(self, chunks, path: str, directory: str | None = None, max_bytes=None):
        wanted = posixpath.normpath(path)
        self._names = (wanted, "dockerfile") if wanted == "Dockerfile" else (wanted,)
        # what each name is once extracted: its text, or why it cannot be read here
        self._found: dict[str, bytes | str] = {}
        self._links: set[str] = set()  # paths that are symbolic links once extracted
        self._file = tempfile.TemporaryFile(dir=directory or None)
        try:
            self._spool(ChunkReader(chunks), max_bytes)
        except BaseException:
            self._file.close()
            raise

    def _spool(self, body, max_bytes) -> None:
        unpacked = 0
        try:
            with (
                tarfile.open(fileobj=body, mode="r|*") as tar,
                tarfile.open(fileobj=self._file, mode="w", format=tarfile.PAX_FORMAT) as out,
            ):
                for member in tar:
                    name = posixpath.normpath(member.name.lstrip("/"))
                    unpacked += member.size if member.isfile() else 0
                    if max_bytes is not None and unpacked > max_bytes:
                        raise ContextTooLarge(f"it unpacks to more than {max_bytes} bytes")
                    (self._links.add if member.issym() else self._links.discard)(name)
                    data = tar.extractfile(member) if member.isfile() else None
                    if name in self._names:
                        self._found[name] = self._read(member, data)
                        data = io.BytesIO(self._found[name]) if data else None
                    out.addfile(member, data)
                    tar.members.clear()
                    out.members.clear()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise UnresolvedSource(None, f"the context is not a readable tar: {exc}") from exc
        self._file.flush()

    @staticmethod
    def _read(member, data) -> bytes | str:
        if data is None:
            return "a link or not a file"
        if member.size > DOCKERFILE_MAX:
            return f"larger than {DOCKERFILE_MAX} bytes"
        return data.read()

    def dockerfile(self) -> str:
        """The Dockerfile's text; empty when there is none (the engine then fails the build,
        fetching nothing). UnresolvedSource when the engine could read another file than the
        one read here: the path goes through a link, or the Dockerfile is one."""
        for name in self._names:
            parts = name.split("/")
            through = ["/".join(parts[:depth]) for depth in range(1, len(parts))]
            linked = [step for step in through if step in self._links]
            if linked:
                raise UnresolvedSource(
                    None, f"the Dockerfile's path `{name}` goes through the link `{linked[0]}`"
                )
            found = self._found.get(name)
            if isinstance(found, str):
                raise UnresolvedSource(None, f"the Dockerfile `{name}` is {found}")
            if found is not None:
                return found.decode("utf-8", "replace")
        return ""

    def __iter__(self) -> Iterator[bytes]:
        self._file.seek(0)
        try:
            while chunk := self._file.read(SPOOL_CHUNK):
                yield chunk
        finally:
            self._file.close()
