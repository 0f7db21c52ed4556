"""build_sources: the images a build would fetch, read from the Dockerfile alone (no engine).

The expectations on the classic builder (the one the service drives) were checked against the
engine once; these tests hold the reading to them without one."""

import pytest

from service.dockerfiles import UnresolvedSource, build_sources

DIGEST = "sha256:" + "a" * 64


def sources(*lines: str, **options) -> list[str]:
    return build_sources("\n".join(lines) + "\n", **options)


def refused(*lines: str, **options) -> UnresolvedSource:
    with pytest.raises(UnresolvedSource) as caught:
        sources(*lines, **options)
    return caught.value


# FROM and global ARGs


def test_a_global_arg_names_the_registry():
    assert sources("ARG REG=127.0.0.1:5101", "FROM $REG/evil/img:1") == [
        "127.0.0.1:5101/evil/img:1"
    ]


def test_a_build_argument_overrides_the_default():
    dockerfile = ("ARG REG=127.0.0.1:5101", "FROM ${REG}/evil/img:1")
    assert sources(*dockerfile, build_args={"REG": "registry.example:5000"}) == [
        "registry.example:5000/evil/img:1"
    ]


@pytest.mark.parametrize(
    "arg, image, expected",
    [
        ("ARG REG", "${REG:-docker.io}/library/busybox", "docker.io/library/busybox"),
        ("ARG REG=", "${REG:-docker.io}/library/busybox", "docker.io/library/busybox"),
        ("ARG REG=quay.io", "${REG:-docker.io}/library/busybox", "quay.io/library/busybox"),
        ("ARG REG=quay.io", "${REG:+127.0.0.1:5101/}busybox", "127.0.0.1:5101/busybox"),
        ("ARG REG", "${REG:+127.0.0.1:5101/}busybox", "busybox"),
        # the default of an unused branch may name anything
        ("ARG REG=quay.io", "${REG:-$NOWHERE}/x", "quay.io/x"),
        ('ARG REG="127.0.0.1:5101"', '"$REG/x"', "127.0.0.1:5101/x"),
        ("ARG TAG=1", "busybox:$TAG", "busybox:1"),
    ],
)
def test_substitution_forms(arg, image, expected):
    assert sources(arg, f"FROM {image}") == [expected]


def test_a_global_arg_default_uses_an_earlier_one_and_its_override():
    dockerfile = ("ARG REG=127.0.0.1:5101", "ARG IMAGE=$REG/evil", "FROM $IMAGE")
    assert sources(*dockerfile) == ["127.0.0.1:5101/evil"]
    assert sources(*dockerfile, build_args={"REG": "r.example"}) == ["r.example/evil"]
    assert sources(*dockerfile, build_args={"IMAGE": "alpine"}) == ["alpine"]


def test_an_unset_arg_is_refused_with_its_line():
    error = refused("ARG REG", "FROM $REG/evil/img:1")
    assert isinstance(error, ValueError)
    assert error.line == 2 and "REG" in str(error)


@pytest.mark.parametrize(
    "lines",
    [
        ("FROM $UNDECLARED/x",),
        ("ARG EMPTY=", "FROM $EMPTY"),  # nothing left to pull
        ("FROM ${EMPTY:-}",),
        ("ARG X=1", "FROM a${X#1}"),  # a form the classic builder does not know
        ("FROM 'busybox$X'",),  # single quotes: the `$` stays, no valid name
        ("FROM busybox\\$X",),
        ("FROM ${X",),
        ("ARG A=1 B=$A", "FROM x$B"),  # builders expand B before or after A is set
        ("FROM alpine-$TARGETARCH",),  # buildkit sets it from the platform
    ],
)
def test_what_cannot_be_resolved_is_refused(lines):
    refused(*lines)


def test_buildkit_platform_args_are_known_through_build_args():
    assert sources("FROM alpine-$TARGETARCH", build_args={"TARGETARCH": "arm64"}) == [
        "alpine-arm64"
    ]


def test_build_args_for_undeclared_args_are_not_seen():
    refused("FROM $REG/x", build_args={"REG": "quay.io"})


def test_references_are_kept_as_written_in_order_without_duplicates():
    dockerfile = (
        f"FROM alpine@{DIGEST} AS one",
        "FROM busybox AS two",
        "FROM 127.0.0.1:5101/evil/img:1",
        "COPY --from=busybox /bin/sh /sh",
        f"FROM alpine@{DIGEST}",
    )
    assert sources(*dockerfile) == [f"alpine@{DIGEST}", "busybox", "127.0.0.1:5101/evil/img:1"]


def test_from_with_flags_and_a_stage_name():
    dockerfile = (
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build",
        "FROM --platform=linux/amd64 busybox",
    )
    assert sources(*dockerfile) == ["golang:1.22", "busybox"]


@pytest.mark.parametrize("line", ["FROM", "FROM busybox AS", "FROM busybox base", "FROM a b c"])
def test_a_malformed_from_is_refused(line):
    refused(line)


def test_scratch_is_not_pulled():
    assert sources("FROM scratch", "COPY app /app") == []


# stages


def test_a_stage_is_not_an_image():
    dockerfile = (
        "FROM golang:1.22 AS builder",
        "RUN go build -o /app .",
        "FROM builder AS tested",
        "FROM busybox",
        "COPY --from=builder /app /app",
        "COPY --from=0 /app /app0",
        "COPY --from=tested /app /app1",
    )
    assert sources(*dockerfile) == ["golang:1.22", "busybox"]


def test_stage_names_are_case_insensitive():
    dockerfile = ("FROM golang AS Build", "FROM build", "COPY --from=BUILD /a /b")
    assert sources(*dockerfile) == ["golang"]


def test_a_stage_named_like_an_image_hides_it():
    assert sources("FROM busybox AS alpine", "FROM alpine", "COPY --from=alpine /a /b") == [
        "busybox"
    ]
    # the stage is not yet there when its own FROM is read
    assert sources("FROM alpine AS alpine", "FROM alpine") == ["alpine"]


def test_a_stage_named_through_an_arg():
    assert sources("ARG BASE=builder", "FROM golang AS builder", "FROM $BASE") == ["golang"]


def test_only_earlier_stages_count():
    # the classic builder pulls `later`, and `current` too: neither is built yet
    dockerfile = (
        "FROM busybox AS current",
        "COPY --from=current /a /b",
        "COPY --from=later /a /b",
        "FROM scratch AS later",
    )
    assert sources(*dockerfile) == ["busybox", "current", "later"]


def test_copy_from_an_image():
    assert sources("FROM busybox", "COPY --from=127.0.0.1:5101/x:1 /a /b") == [
        "busybox",
        "127.0.0.1:5101/x:1",
    ]


def test_copy_from_a_stage_index():
    assert sources("FROM busybox", "FROM busybox", "COPY --from=0 /a /b") == ["busybox"]


def test_copy_flags_in_any_order_and_quoted():
    dockerfile = ("FROM busybox", 'COPY --chown=1:1 --from="127.0.0.1:5101/x" --link /a /b')
    assert sources(*dockerfile) == ["busybox", "127.0.0.1:5101/x"]


def test_add_has_no_from():
    assert sources("FROM busybox", "ADD https://example.com/a.tgz /a") == ["busybox"]


# RUN --mount


def test_run_mount_from_an_image():
    dockerfile = ("FROM busybox", "RUN --mount=type=bind,from=127.0.0.1:5101/x,target=/m true")
    assert sources(*dockerfile) == ["busybox", "127.0.0.1:5101/x"]


def test_several_mounts_on_one_run():
    dockerfile = (
        "FROM golang AS build",
        "FROM busybox",
        "RUN --network=none \\",
        "    --mount=type=cache,target=/root/.cache,from=cache.example/c:1 \\",
        "    --mount=type=bind,from=build,source=/out,target=/in \\",
        "    --mount=type=secret,id=token \\",
        "    --mount=target=/m,FROM=127.0.0.1:5101/x,type=bind \\",
        "    make",
    )
    assert sources(*dockerfile) == ["golang", "busybox", "cache.example/c:1", "127.0.0.1:5101/x"]


def test_a_quoted_mount_is_read_as_the_engine_reads_it():
    dockerfile = ("FROM busybox", 'RUN --mount="type=bind,from=evil.example/q,target=/x" true')
    assert sources(*dockerfile) == ["busybox", "evil.example/q"]


def test_a_mount_from_a_number_is_an_image():
    # buildkit looks a mount's source up by stage name only
    assert sources("FROM busybox", "RUN --mount=from=0,target=/x true") == ["busybox", "0"]


def test_a_run_without_mounts_fetches_nothing():
    assert sources("FROM busybox", "RUN echo --mount=from=x") == ["busybox"]


# variables inside a stage


def test_a_stage_arg_names_a_copy_source():
    dockerfile = ("FROM busybox", "ARG SRC=127.0.0.1:5101/x:1", "COPY --from=$SRC /a /b")
    assert sources(*dockerfile) == ["busybox", "127.0.0.1:5101/x:1"]
    assert sources(*dockerfile, build_args={"SRC": "quay.io/y"}) == ["busybox", "quay.io/y"]


def test_a_global_arg_is_seen_in_a_stage_only_when_declared_again():
    dockerfile = ("ARG SRC=127.0.0.1:5101/x", "FROM busybox", "COPY --from=$SRC /a /b")
    error = refused(*dockerfile)
    assert error.line == 3
    redeclared = ("ARG SRC=127.0.0.1:5101/x", "FROM busybox", "ARG SRC", "COPY --from=$SRC /a /b")
    assert sources(*redeclared) == ["busybox", "127.0.0.1:5101/x"]
    assert sources(*redeclared, build_args={"SRC": "quay.io/y"}) == ["busybox", "quay.io/y"]


def test_a_stage_default_wins_over_the_global_one():
    dockerfile = ("ARG SRC=global.example/x", "FROM busybox", "ARG SRC=stage.example/x")
    assert sources(*dockerfile, "COPY --from=$SRC /a /b") == ["busybox", "stage.example/x"]


def test_an_env_after_an_arg_wins():
    dockerfile = (
        "FROM busybox",
        "ARG SRC=arg.example/x",
        "ENV SRC=env.example/x OTHER=1",
        "RUN --mount=from=${SRC},target=/m true",
    )
    assert sources(*dockerfile) == ["busybox", "env.example/x"]
    assert sources("FROM busybox", "ENV SRC env.example/y", "COPY --from=$SRC /a /b") == [
        "busybox",
        "env.example/y",
    ]


def test_a_stage_does_not_see_the_previous_stage_args():
    dockerfile = ("FROM busybox", "ARG SRC=a.example/x", "FROM busybox", "COPY --from=$SRC /a /b")
    assert refused(*dockerfile).line == 4


def test_a_stage_arg_is_not_seen_by_a_later_from():
    refused("FROM busybox", "ARG REG=quay.io", "FROM $REG/x")


# target


def test_stages_after_the_target_do_not_count():
    dockerfile = (
        "FROM a.example/one AS one",
        "FROM b.example/two AS Two",
        "COPY --from=c.example/three /a /b",
        "FROM d.example/four AS four",
        "COPY --from=e.example/five /a /b",
    )
    # the classic builder builds every stage up to the target, needed or not
    assert sources(*dockerfile, target="two") == [
        "a.example/one",
        "b.example/two",
        "c.example/three",
    ]
    assert len(sources(*dockerfile)) == 5


def test_an_unknown_target_is_refused():
    error = refused("FROM busybox AS one", target="two")
    assert error.line is None and "two" in str(error)


# reading the text


def test_lowercase_and_mixed_case_instructions():
    dockerfile = (
        "arg REG=127.0.0.1:5101",
        "from $REG/a as base",
        "arg REG",
        "Copy --from=$REG/b /a /b",
        "rUN --MOUNT=from=c.example/c,target=/m true",
    )
    assert sources(*dockerfile) == [
        "127.0.0.1:5101/a",
        "127.0.0.1:5101/b",
        "c.example/c",
    ]


def test_line_continuations_and_comments_inside_them():
    dockerfile = (
        "# a comment",
        "FROM \\",
        "    127.0.0.1:5101/evil/img:1 \\",
        "    AS base",
        "COPY \\",
        "# a comment inside",
        "    --from=127.0.0.1:5101/x /a /b",
    )
    assert sources(*dockerfile) == ["127.0.0.1:5101/evil/img:1", "127.0.0.1:5101/x"]


def test_a_blank_line_inside_a_continuation_is_skipped():
    # the engine skips it (with a warning); dockerfile-parse alone ends the instruction there
    dockerfile = ("FROM busybox", "COPY \\", "", "   ", "  --from=evil.example/x /a /b")
    assert sources(*dockerfile) == ["busybox", "evil.example/x"]


def test_a_continuation_at_the_end_of_the_file():
    # dockerfile-parse alone drops the instruction
    assert build_sources("FROM busybox\nCOPY --from=evil.example/x /a /b \\") == [
        "busybox",
        "evil.example/x",
    ]


def test_the_escape_directive():
    dockerfile = (
        "# escape=`",
        "FROM mcr.example/windows:ltsc `",
        "    AS base",
        "COPY `",
        "    --from=127.0.0.1:5101/w C:\\src C:\\dst",
        "FROM c:\\images",
    )
    # a backslash is then an ordinary character
    assert sources(*dockerfile) == ["mcr.example/windows:ltsc", "127.0.0.1:5101/w", "c:\\images"]


def test_the_escape_directive_only_heads_the_file():
    # after a blank line it is a comment: the backtick continues nothing
    refused("", "# escape=`", "FROM busybox `", "  AS base")


@pytest.mark.parametrize(
    "head",
    [
        ("# check=skip=all", "# escape=`"),  # buildkit reads it, the classic builder does not
        ("# escape=`", "# escape=\\"),
        ("# escape=x",),
    ],
)
def test_an_escape_directive_read_differently_is_refused(head):
    refused(*head, "FROM busybox")


def test_an_escape_directive_only_the_parser_honours_is_refused():
    # a no-break space is no blank to the engine: the first line is a comment, which ends the
    # directives; dockerfile-parse reads both as directives and would join RUN and COPY
    head = ("#\u00a0syntax=x", "# escape=`")
    assert refused(*head, "FROM busybox", "RUN true `", "COPY --from=e /a /b").line == 4


def test_crlf_and_a_byte_order_mark():
    dockerfile = "\ufeffARG REG=127.0.0.1:5101\r\nFROM $REG/x \\\r\n  AS base\r\n"
    assert build_sources(dockerfile) == ["127.0.0.1:5101/x"]


@pytest.mark.parametrize("blank", ["\u00a0", "\x0c", "\u2028", "\r\t"])
def test_other_blanks_after_a_continuation_are_refused(blank):
    # dockerfile-parse would join the next line to a RUN that the engine ends here
    error = refused("FROM busybox", f"RUN true \\{blank}", "COPY --from=evil.example/x /a /b")
    assert error.line == 2


def test_an_unknown_instruction_is_refused():
    # a heredoc, which the classic builder does not know
    assert refused("FROM busybox", "RUN <<EOF", "echo hi", "EOF").line == 3


def test_only_args_come_before_the_first_from():
    assert refused("ENV A=1", "FROM busybox").line == 1


def test_onbuild_is_not_expanded():
    assert sources("FROM busybox", "ONBUILD COPY --from=evil.example/x /a /b") == ["busybox"]


def test_the_syntax_frontend_is_not_counted():
    # only buildkit pulls it; the service builds with the classic builder, which ignores it
    assert sources("# syntax=docker/dockerfile:1", "FROM busybox") == ["busybox"]
    options = {"build_args": {"BUILDKIT_SYNTAX": "127.0.0.1:5101/frontend"}}
    assert sources("FROM busybox", **options) == ["busybox"]


def test_an_empty_dockerfile_fetches_nothing():
    assert build_sources("") == []
    assert build_sources("# only a comment\n") == []
