"""Hiding secrets from tokens that do not reach inside containers (neither `exec` nor `admin`).

Three kinds of secret are hidden wherever an answer carries them:

- values whose names look secret (``SECRET_NAME``): environment variables, build arguments,
  ARG defaults and ENV instructions in an image's history;
- in a command's words, the value of an option or an assignment whose name looks secret
  (``--password=x``, ``--token x``, ``DB_PASS=x``);
- passwords inside URLs (``scheme://user:password@host``), whatever the name: the user stays.

An image's history records a RUN step's build arguments as ``|N K1=V1 ... KN=VN CMD...``,
values unquoted, so a value may hold spaces or ``X=y``. The ARG instructions recorded in the
same history name the arguments, which tells where each value ends. When that stays unclear,
more is hidden, never less.
"""

import bisect
import re

# names whose values are hidden: passwords, tokens, keys, credentials, connection strings
SECRET_NAME = re.compile(
    r"PASS|PWD|TOKEN|SECRET|KEY|CRED|PRIVATE|AUTH|CERT|DSN|SALT|WEBHOOK"
    r"|CONN_?STR|CONNECTION_?STRING",
    re.I,
)
REDACTED = "********"

# scheme://user:password@host: the password runs to the last @ before a blank, as a client
# splits it; a user may hold an unescaped @ too
_URL_USER = re.compile(r"://[^\s:/?#]*:")
_TOKEN = re.compile(r"\S+")
# a RUN step with build arguments: `|N ...` (classic builder), `RUN |N ...` (buildkit)
_RUN_ARGS = re.compile(r"^((?:RUN )?\|(\d+) )(.*)\Z", re.S)
# ARG and ENV instructions: `<shell> #(nop)  ARG ...` (classic builder), `ARG ...` (buildkit)
_INSTRUCTION = re.compile(r"^(?:.*?#\(nop\)\s+)?(ARG|ENV|SHELL)\s+(.*)\Z", re.S)
# where a `NAME=value` item may begin: the start, or after the blank separating items
_ITEM = re.compile(r"(?:^|(?<=\s))([^\s=]+)=")
_SHELL = re.compile(r"^\[(.*)\]\s*\Z", re.S)
DEFAULT_SHELL = "/bin/sh -c"


def is_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """The text with the password of every URL hidden, the user kept."""
    return _TOKEN.sub(_redact_url_token, text) if "://" in text else text


def _redact_url_token(match) -> str:
    token = match.group(0)
    at = token.rfind("@")
    user = _URL_USER.search(token, 0, at) if at > 0 else None
    return token[: user.end()] + REDACTED + token[at:] if user else token


# a word that assigns: `--name=value`, `-name=value`, `NAME=value`, maybe quoted
_ASSIGNMENT = re.compile(r"^(['\"]?-{0,2}([A-Za-z_][\w.-]*)=)(.*?)(['\"]?)\Z", re.S)
# a word that is an option whose value is the next word: `--password`
_OPTION = re.compile(r"^['\"]?-{1,2}([A-Za-z_][\w.-]*)['\"]?\Z")
_BLANKS = re.compile(r"(\s+)")


def redact_argv(argv):
    """A command's words (a list, or one string as a shell reads it) with secrets hidden."""
    if argv is None:
        return None
    if isinstance(argv, str):
        return "".join(_redact_words(_BLANKS.split(argv)))
    # a word may itself be a command line (`sh -c "..."`)
    return [redact_argv(word) for word in _redact_words(argv)]


def _redact_words(words: list[str]) -> list[str]:
    out, hide_next = [], False
    for word in words:
        if not word.strip():
            out.append(word)  # the blanks between words of a string
            continue
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        assignment = _ASSIGNMENT.match(word)
        if assignment and is_secret(assignment.group(2)):
            out.append(assignment.group(1) + REDACTED + assignment.group(4))
            continue
        option = _OPTION.match(word)
        hide_next = bool(option and is_secret(option.group(1)))
        out.append(redact_text(word))
    return out


def redact_env(env: dict) -> dict:
    """Values whose names look secret hidden, URL passwords hidden in the others."""
    return {name: _redact_value(name, value) for name, value in env.items()}


def _redact_value(name: str, value):
    if is_secret(name):
        return REDACTED
    return redact_text(value) if isinstance(value, str) else value


def redact_build_args(created_by: str, names=None, shells=None) -> str:
    """A history line with the values of secret build arguments hidden, and URL passwords.

    ``names`` are the build arguments the image's history declares, ``shells`` the shells it
    set (``/bin/sh -c`` always counts); without names, any ``NAME=`` may start an argument."""
    found = _RUN_ARGS.match(created_by)
    if not found:
        return redact_text(created_by)
    head, count, rest = found.group(1), found.group(2), found.group(3)
    if len(count) > 7:
        return head + REDACTED  # no engine writes that many arguments
    count = int(count)
    ends = _command_starts(rest, {DEFAULT_SHELL, *(shells or ())})
    spans = None
    for candidates in (names, None) if names else (None,):
        spans = _secret_spans(rest, count, candidates, ends)
        if spans is not None:
            break
    if spans is None:
        return head + REDACTED  # no reading of the arguments holds: hide them all
    return redact_text(head + _hide(rest, spans))


def redact_history(layers: list[dict]) -> list[dict]:
    """The layers with secrets hidden from their `created_by`; the list is not changed."""
    names, shells = set(), set()
    for layer in layers:
        found = _INSTRUCTION.match(layer.get("created_by") or "")
        if not found:
            continue
        kind, items = found.groups()
        if kind == "ARG":
            names.update(token.split("=", 1)[0] for token in items.split())
        elif kind == "SHELL" and _SHELL.match(items):
            shells.add(_SHELL.match(items).group(1).strip())
    return [
        {**layer, "created_by": _redact_line(layer["created_by"], names, shells)}
        if layer.get("created_by")
        else dict(layer)
        for layer in layers
    ]


def _redact_line(created_by: str, names: set, shells: set) -> str:
    if _RUN_ARGS.match(created_by):
        return redact_build_args(created_by, names, shells)
    found = _INSTRUCTION.match(created_by)
    if found and found.group(1) in ("ARG", "ENV"):
        # how many items there are is unknown: the first secret one hides the rest of the line
        items = found.start(2)
        for item in _ITEM.finditer(created_by, items):
            if is_secret(item.group(1)):
                return redact_text(created_by[: item.end()]) + REDACTED
    return redact_text(created_by)


def _command_starts(rest: str, shells: set) -> list[int]:
    """Where the command may begin after the last argument: at a shell; else the whole rest
    counts as the last value (exec form, or an unknown shell)."""
    starts = [
        match.start()
        for shell in shells
        if shell
        for match in re.finditer(rf"(?<=\s)(?={re.escape(shell)} )", rest)
    ]
    return starts or [len(rest) + 1]


def _secret_spans(rest: str, count: int, names, ends: list[int]):
    """The spans of `rest` that hold a secret value under some reading of its `count`
    arguments; None when no reading fits.

    A reading picks `count` item starts, the first at 0, each after the previous value,
    the last value ending before a command start. Every reading that fits is one the
    engine may have written, so the union of their secret values is hidden."""
    if count == 0:
        return []
    items = [
        (m.start(), m.end(), m.group(1))
        for m in _ITEM.finditer(rest)
        if names is None or m.group(1) in names
    ]
    if len(items) < count or items[0][0] != 0:
        return None
    starts = [item[0] for item in items]
    values = [item[1] for item in items]
    # argument i > 0 may be items[first[i]:past[i]]: reached from the first item, and
    # leaving room for the arguments after it; both bounds only grow with i
    first = [0]
    for _ in range(1, count):
        first.append(bisect.bisect_left(starts, values[first[-1]] + 1))
        if first[-1] == len(items):
            return None
    past, limits = [0] * count, [0] * count  # limits[i]: where value i may end at the latest
    limits[-1] = max(ends) - 1
    past[-1] = bisect.bisect_right(values, limits[-1])
    for i in range(count - 2, -1, -1):
        if not past[i + 1]:
            return None
        limits[i] = starts[past[i + 1] - 1] - 1
        past[i] = bisect.bisect_right(values, limits[i])
    if not past[0]:
        return None
    spans = []
    for j, (_, value, name) in enumerate(items):
        i = bisect.bisect_right(first, j) - 1  # the latest argument item j may be
        if is_secret(name) and (i > 0 or j == 0) and j < past[i]:
            spans.append((value, limits[i]))
    return spans


def _hide(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with each span, merged with those it touches, replaced by REDACTED."""
    merged = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        out += [text[at:start], REDACTED]
        at = end
    out.append(text[at:])
    return "".join(out)


def redact_engine_config(config: dict | None) -> dict | None:
    """An inspect's ``Config`` (or ``ContainerConfig``) in the engine's own form, secrets
    hidden: its environment (``NAME=value`` items), its command and entrypoint."""
    if not config:
        return config
    out = dict(config)
    if out.get("Env"):
        out["Env"] = [_redact_item(item) for item in out["Env"]]
    for key in ("Cmd", "Entrypoint"):
        out[key] = redact_argv(out.get(key))
    return out


def _redact_item(item: str) -> str:
    name, sep, value = item.partition("=")
    return f"{name}={_redact_value(name, value)}" if sep else item
