"""Secrets hidden from tokens without `admin`: the functions, then the real engine's history."""

import itertools
import random

import pytest

from service import redaction
from service.auth import hash_token
from service.redaction import (
    REDACTED,
    SECRET_NAME,
    redact_build_args,
    redact_env,
    redact_history,
    redact_text,
)
from tests.conftest import make_client

# what the engine (classic builder) records for the RUN step of the build below
RECORDED = (
    "|5 A_TOKEN=first part2 B_SECRET=second DATABASE_URL=postgres://app:pass@db/x "
    "DB_PWD=pw1 PLAIN=shown /bin/sh -c echo built"
)
ARGS = ["A_TOKEN", "B_SECRET", "DB_PWD", "DATABASE_URL", "PLAIN"]


def history(*lines):
    """Layers as the gateway answers them, newest first, from created_by lines oldest first."""
    return [{"id": None, "created_by": line, "size": 0} for line in reversed(lines)]


def arg_lines(*names):
    return [f"/bin/sh -c #(nop)  ARG {name}" for name in names]


def redacted(*lines):
    return [layer["created_by"] for layer in reversed(redact_history(history(*lines)))]


@pytest.mark.parametrize(
    "name",
    [
        "DB_PWD",
        "MYSQL_ROOT_PASSWD",
        "PASSWORD",
        "SENTRY_DSN",
        "API_TOKEN",
        "aws_secret_key",
        "GITHUB_CREDENTIALS",
        "db_pwd",
        "ConnectionStrings__Default",
        "SLACK_WEBHOOK_URL",
        "PRIVATE_KEY",
    ],
)
def test_secret_names(name):
    assert SECRET_NAME.search(name)


@pytest.mark.parametrize("name", ["PLAIN", "PATH", "HOME", "DATABASE_URL", "LANG", "MODE"])
def test_plain_names(name):
    assert not SECRET_NAME.search(name)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("postgres://app:pass@db/x", f"postgres://app:{REDACTED}@db/x"),
        ("redis://:pw@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
        ("https://me:p@ss@host/x", f"https://me:{REDACTED}@host/x"),
        ("https://me@mail.com:pw@host", f"https://me@mail.com:{REDACTED}@host"),
        (
            "git clone https://u:a@h/r && curl http://v:b@k/",
            f"git clone https://u:{REDACTED}@h/r && curl http://v:{REDACTED}@k/",
        ),
        ("https://host:8080/path", "https://host:8080/path"),
        ("postgres://app@db/x", "postgres://app@db/x"),
        ("no url here: a@b", "no url here: a@b"),
    ],
)
def test_url_passwords_are_hidden_and_users_kept(text, expected):
    assert redact_text(text) == expected
    assert redact_text(expected) == expected


def test_env_hides_secret_names_and_url_passwords():
    env = {
        "DB_PWD": "x",
        "DB_PASSWORD": "hunter2",
        "DATABASE_URL": "postgres://app:pass@db/x",
        "PLAIN": "shown",
        "EMPTY": None,
    }
    assert redact_env(env) == {
        "DB_PWD": REDACTED,
        "DB_PASSWORD": REDACTED,
        "DATABASE_URL": f"postgres://app:{REDACTED}@db/x",
        "PLAIN": "shown",
        "EMPTY": None,
    }


def test_values_with_spaces_end_at_the_next_declared_argument():
    (run,) = redacted(*arg_lines(*ARGS), RECORDED)[-1:]
    assert run == (
        f"|5 A_TOKEN={REDACTED} B_SECRET={REDACTED} "
        f"DATABASE_URL=postgres://app:{REDACTED}@db/x DB_PWD={REDACTED} PLAIN=shown "
        "/bin/sh -c echo built"
    )


def test_an_assignment_inside_a_value_is_part_of_it():
    line = "|3 A_TOKEN=a X=leak1 B_SECRET=b X=leak2 PLAIN=shown /bin/sh -c true"
    run = redacted(*arg_lines("A_TOKEN", "B_SECRET", "PLAIN"), line)[-1]
    assert run == f"|3 A_TOKEN={REDACTED} B_SECRET={REDACTED} PLAIN=shown /bin/sh -c true"


def test_a_declared_name_inside_a_secret_value_does_not_end_it():
    # B_SECRET is `second PLAIN=leak`: either reading is possible, both are hidden
    line = "|3 A_TOKEN=a B_SECRET=second PLAIN=leak PLAIN=shown /bin/sh -c true"
    run = redacted(*arg_lines("A_TOKEN", "B_SECRET", "PLAIN"), line)[-1]
    assert "leak" not in run and "second" not in run
    assert run.endswith("PLAIN=shown /bin/sh -c true")


def test_the_last_argument_runs_to_the_shell():
    line = "|2 PLAIN=shown Z_TOKEN=zz X=leak tail /bin/sh -c echo done"
    run = redacted(*arg_lines("PLAIN", "Z_TOKEN"), line)[-1]
    assert run == f"|2 PLAIN=shown Z_TOKEN={REDACTED} /bin/sh -c echo done"


def test_the_last_argument_of_an_exec_form_hides_the_rest():
    line = "|2 PLAIN=shown Z_TOKEN=zz X=leak tail /bin/echo exec"
    run = redacted(*arg_lines("PLAIN", "Z_TOKEN"), line)[-1]
    assert run == f"|2 PLAIN=shown Z_TOKEN={REDACTED}"


def test_a_shell_the_history_sets_ends_the_last_argument():
    line = "|1 Z_TOKEN=zz tail /bin/bash -ec echo done"
    shell = "/bin/sh -c #(nop)  SHELL [/bin/bash -ec]"
    run = redacted(*arg_lines("Z_TOKEN"), shell, line)[-1]
    assert run == f"|1 Z_TOKEN={REDACTED} /bin/bash -ec echo done"


def test_url_passwords_are_hidden_in_any_layer():
    lines = redacted(
        "/bin/sh -c #(nop)  LABEL src=https://u:labelpw@git/x",
        "/bin/sh -c git clone https://u:clonepw@git/x",
        "|1 SRC=https://u:argpw@git/x /bin/sh -c true",
        "/bin/sh -c #(nop)  ARG SRC",
    )
    assert not any(pw in line for line in lines for pw in ("labelpw", "clonepw", "argpw"))
    assert f"https://u:{REDACTED}@git/x" in lines[1]


def test_arg_defaults_and_env_values_with_secret_names_are_hidden():
    lines = redacted(
        "/bin/sh -c #(nop)  ARG API_KEY=dflt key B=c",
        "/bin/sh -c #(nop)  ARG MODE=prod",
        "/bin/sh -c #(nop)  ENV E_PASSWORD=e f G=h",
        "ENV PLAIN=1 DB_PWD=envpw",
    )
    assert lines == [
        f"/bin/sh -c #(nop)  ARG API_KEY={REDACTED}",
        "/bin/sh -c #(nop)  ARG MODE=prod",
        f"/bin/sh -c #(nop)  ENV E_PASSWORD={REDACTED}",
        f"ENV PLAIN=1 DB_PWD={REDACTED}",
    ]


def test_buildkit_history_is_read_too():
    lines = redacted(
        "ARG NPM_TOKEN",
        "ARG MODE",
        "RUN |2 NPM_TOKEN=s3 cr3t MODE=prod /bin/sh -c npm ci # buildkit",
    )
    assert lines[-1] == f"RUN |2 NPM_TOKEN={REDACTED} MODE=prod /bin/sh -c npm ci # buildkit"


def test_without_declared_names_more_is_hidden_never_less():
    run = redact_build_args("|2 A_TOKEN=first part2 B_SECRET=second X=y /bin/sh -c true")
    assert not any(word in run for word in ("first", "part2", "second", "X=y"))
    assert run.endswith(" /bin/sh -c true")
    # a count the line cannot hold: every argument hidden
    assert redact_build_args("|3 A_TOKEN=a /bin/sh -c true") == f"|3 {REDACTED}"


def test_simple_lines_read_as_before():
    assert (
        redact_build_args("|2 MODE=prod NPM_TOKEN=s3cr3t /bin/sh -c echo $MODE")
        == f"|2 MODE=prod NPM_TOKEN={REDACTED} /bin/sh -c echo $MODE"
    )
    assert (
        redact_build_args("|1 NPM_TOKEN= /bin/sh -c true")
        == f"|1 NPM_TOKEN={REDACTED} /bin/sh -c true"
    )
    assert redact_build_args("/bin/sh -c echo TOKEN=x") == "/bin/sh -c echo TOKEN=x"
    layers = history('/bin/sh -c #(nop)  CMD ["/bin/sh"]', "/bin/sh -c echo hi")
    assert redact_history(layers) == layers


def test_redaction_does_not_change_its_input_and_is_stable():
    layers = history(*arg_lines(*ARGS), RECORDED)
    before = [dict(layer) for layer in layers]
    once = redact_history(layers)
    assert layers == before
    assert redact_history(once) == once
    assert [layer["size"] for layer in once] == [layer["size"] for layer in layers]


def every_reading(rest, count, names, ends):
    """The characters some reading of the arguments puts in a secret value, by trying them
    all; None when none fits."""
    items = [
        (m.start(), m.end(), m.group(1))
        for m in redaction._ITEM.finditer(rest)
        if names is None or m.group(1) in names
    ]
    hidden, fits = set(), False
    for chosen in itertools.combinations(items, count):
        if chosen[0][0] != 0 or any(b[0] < a[1] + 1 for a, b in itertools.pairwise(chosen)):
            continue
        for end in (e for e in ends if e >= chosen[-1][1] + 1):
            fits = True
            bounds = [b[0] for b in chosen[1:]] + [end]
            for (_, value, name), bound in zip(chosen, bounds, strict=True):
                if SECRET_NAME.search(name):
                    hidden |= {("at", value), *range(value, bound - 1)}
    return hidden if fits else None


def test_hidden_spans_are_the_union_of_every_reading():
    rng = random.Random(7)
    words = ["A_TOKEN=", "B=", "X=", "PLAIN=", "v", "w", "/bin/sh -c", "Z_KEY=", "\n"]
    for _ in range(3000):
        rest = " ".join(rng.choice(words) for _ in range(rng.randint(1, 8)))
        count = rng.randint(1, 4)
        names = rng.choice([None, {"A_TOKEN", "B", "PLAIN", "Z_KEY"}])
        ends = redaction._command_starts(rest, {"/bin/sh -c"})
        spans = redaction._secret_spans(rest, count, names, ends)
        fast = None if spans is None else set()
        for start, end in spans or ():
            fast |= {("at", start), *range(start, end)}
        assert fast == every_reading(rest, count, names, ends), (rest, count, names)


# against the real engine


@pytest.fixture
def service():
    tokens = [
        {"name": "reader", "hash": hash_token("r"), "scopes": ["read"]},
        {"name": "builder", "hash": hash_token("w"), "scopes": ["read", "write"]},
        {"name": "boss", "hash": hash_token("a"), "scopes": ["read", "admin"]},
    ]
    return make_client(TOKENS=tokens)


def as_token(secret):
    return {"Authorization": f"Bearer {secret}"}


def build(service, dockerfile, build_args, labels):
    answer = service.post(
        "/images/build",
        json={"dockerfile": dockerfile, "build_args": build_args, "labels": labels},
        headers=as_token("w"),
    )
    assert answer.status_code == 201, answer.json
    return answer.json["id"]


def test_history_hides_build_arguments_with_spaces_and_urls(
    service, docker_api, busybox_image, labels
):
    dockerfile = f"FROM {busybox_image}\n" + "".join(f"ARG {name}\n" for name in ARGS)
    image = build(
        service,
        dockerfile + "RUN echo built\n",
        {
            "A_TOKEN": "first part2",
            "B_SECRET": "second",
            "DB_PWD": "pw1",
            "DATABASE_URL": "postgres://app:pass@db/x",
            "PLAIN": "shown",
        },
        labels,
    )
    recorded = [layer["CreatedBy"] for layer in docker_api.history(image)]
    assert RECORDED in recorded
    path = f"/images/{image}/history"
    shown = service.get(path, headers=as_token("r"))
    assert shown.status_code == 200
    # the steps only: tags of shared base layers are other images' names, whatever they hold
    text = "\n".join(layer["created_by"] for layer in shown.json)
    for secret in ("first", "part2", "second", "pw1", "pass@"):
        assert secret not in text, secret
    assert "PLAIN=shown" in text and "/bin/sh -c echo built" in text
    assert f"postgres://app:{REDACTED}@db/x" in text
    full = service.get(path, headers=as_token("a")).json
    assert RECORDED in [layer["created_by"] for layer in full]


def test_history_hides_the_last_argument_arg_defaults_and_env(
    service, docker_api, busybox_image, labels
):
    dockerfile = (
        f"FROM {busybox_image}\n"
        "ARG PLAIN\nARG Z_TOKEN\nARG API_KEY=dflt-key\nENV SERVICE_PWD=envpw\n"
        'RUN ["/bin/echo", "exec"]\nRUN echo shell\n'
    )
    image = build(service, dockerfile, {"PLAIN": "shown", "Z_TOKEN": "zz X=leak1 tail1"}, labels)
    recorded = "\n".join(layer["CreatedBy"] for layer in docker_api.history(image))
    assert "Z_TOKEN=zz X=leak1 tail1 /bin/sh -c echo shell" in recorded
    # the steps only: tags of shared base layers are other images' names, whatever they hold
    layers = service.get(f"/images/{image}/history", headers=as_token("r")).json
    text = "\n".join(layer["created_by"] for layer in layers)
    for secret in ("zz", "leak1", "tail1", "dflt-key", "envpw"):
        assert secret not in text, secret
    assert f"PLAIN=shown Z_TOKEN={REDACTED} /bin/sh -c echo shell" in text
    full = service.get(f"/images/{image}/history", headers=as_token("a")).get_data(as_text=True)
    assert "leak1" in full and "envpw" in full


def test_container_env_hides_url_passwords_and_new_secret_names(service, busybox_image, labels):
    env = {"DATABASE_URL": "postgres://app:pass@db/x", "DB_PWD": "x", "PLAIN": "shown"}
    created = service.post(
        "/containers",
        json={"image": busybox_image, "labels": labels, "env": env},
        headers=as_token("w"),
    )
    assert created.status_code == 201, created.json
    path = f"/containers/{created.json['id']}"
    seen = service.get(path, headers=as_token("r")).json["config"]["env"]
    assert {name: seen[name] for name in env} == {
        "DATABASE_URL": f"postgres://app:{REDACTED}@db/x",
        "DB_PWD": REDACTED,
        "PLAIN": "shown",
    }
    full = service.get(path, headers=as_token("a")).json["config"]["env"]
    assert full["DATABASE_URL"] == "postgres://app:pass@db/x" and full["DB_PWD"] == "x"
