"""/volumes against the real engine: persistence, the policy, backup and restore."""

import http.client
import io
import os
import tarfile
from urllib.parse import urlsplit

import pytest

from service.auth import hash_token
from tests.conftest import TEST_LABEL, admin_headers, eventually, make_client, served
from tests.test_security import SECRETS, bearer

HELPER = "dockyard.helper.volume"

# what a reader container says of every path of a volume: type, mode, owner, and the bytes'
# checksum or the link's target; then the inode numbers of the two names of one file
LISTING = r"""
cd /data && find . | sort | while read p; do
  if [ -L "$p" ]; then x="-> $(readlink "$p")"
  elif [ -f "$p" ]; then x=$(md5sum < "$p")
  else x=-; fi
  echo "$p|$(stat -c '%F|%a|%u:%g' "$p")|$x"
done
stat -c %i big.bin hard.bin | uniq | wc -l
"""

FILES = r"""
set -e
cd /data
mkdir -p a/b/c empty
echo nested > a/b/c/deep.txt
head -c 52428800 /dev/urandom > big.bin
ln big.bin hard.bin
ln -s a/b/c/deep.txt link
ln -s ../outside-is-fine-to-keep a/dangling
echo secret > private && chmod 600 private
echo run > script.sh && chmod 755 script.sh
echo owned > owned && chown 1234:1234 owned
chmod 0750 a/b
"""


def run(docker_api, image, script, volume, labels, read_only=False):
    """Run ``script`` in a busybox container that mounts ``volume`` at /data: its output."""
    container = docker_api.create_container(
        image,
        command=["sh", "-c", script],
        labels=labels,
        host_config=docker_api.create_host_config(
            binds={volume: {"bind": "/data", "mode": "ro" if read_only else "rw"}}
        ),
    )
    docker_api.start(container["Id"])
    status = docker_api.wait(container["Id"], timeout=120)["StatusCode"]
    output = docker_api.logs(container["Id"]).decode()
    docker_api.remove_container(container["Id"], force=True)
    assert status == 0, output
    return output


def helpers(docker_api, volume):
    return docker_api.containers(all=True, filters={"label": f"{HELPER}={volume}"})


def volume_names(docker_api, labels):
    found = docker_api.volumes(filters={"label": f"{TEST_LABEL}={labels[TEST_LABEL]}"})
    return {v["Name"] for v in found.get("Volumes") or []}


@pytest.fixture
def new_volume(client, labels):
    def make(suffix, **body):
        name = f"vol-{suffix}-{labels[TEST_LABEL]}"
        answer = client.post("/volumes", json={"name": name, "labels": labels, **body})
        assert answer.status_code == 201, answer.json
        return name

    return make


def test_create_list_inspect_and_remove(client, docker_api, busybox_image, labels, new_volume):
    name = new_volume("life", labels={**labels, "team": "data"})
    detail = client.get(f"/volumes/{name}").json
    assert detail["driver"] == "local" and detail["labels"]["team"] == "data"
    assert detail["in_use_by"] == [] and detail["mountpoint"].endswith(f"/{name}/_data")

    listed = client.get(f"/volumes?label=team=data&label={TEST_LABEL}={labels[TEST_LABEL]}")
    assert [v["name"] for v in listed.json] == [name]

    # data outlives the container that wrote it
    run(docker_api, busybox_image, "echo kept > /data/file", name, labels)
    assert run(docker_api, busybox_image, "cat /data/file", name, labels) == "kept\n"

    assert client.delete(f"/volumes/{name}").status_code == 204
    assert name not in volume_names(docker_api, labels)
    assert client.get(f"/volumes/{name}").status_code == 404


def test_in_use_volume_is_a_409_naming_its_users_then_force_removes_them(
    client, docker_api, busybox_image, labels, new_volume
):
    name = new_volume("used")
    user = docker_api.create_container(
        busybox_image,
        command=["sleep", "300"],
        name=f"user-{labels[TEST_LABEL]}",
        labels=labels,
        host_config=docker_api.create_host_config(binds={name: {"bind": "/data"}}),
    )
    docker_api.start(user["Id"])

    listed = client.get(f"/volumes?name={name}").json
    assert [u["name"] for u in listed[0]["in_use_by"]] == [f"user-{labels[TEST_LABEL]}"]
    assert listed[0]["in_use_by"][0]["state"] == "running"
    dangling = client.get(f"/volumes?dangling=true&label={TEST_LABEL}={labels[TEST_LABEL]}")
    assert name not in [v["name"] for v in dangling.json]

    refused = client.delete(f"/volumes/{name}")
    assert refused.status_code == 409
    assert f"user-{labels[TEST_LABEL]}" in refused.json["message"]
    assert name in volume_names(docker_api, labels)

    assert client.delete(f"/volumes/{name}?force=true").status_code == 204
    assert name not in volume_names(docker_api, labels)
    assert not docker_api.containers(all=True, filters={"id": user["Id"]})


@pytest.fixture
def allowed_root(tmp_path):
    root = tmp_path / "allowed"
    (root / "data").mkdir(parents=True)
    os.symlink("/etc", root / "etc-link")
    os.symlink("/var/run/docker.sock", root / "socket-link")
    return root


@pytest.mark.parametrize(
    "device, rule",
    [
        ("/", "host-system"),
        ("/etc", "host-system"),
        ("/var/run/docker.sock", "host-system"),
        ("{root}/etc-link", "host-system"),
        ("{root}/socket-link", "host-system"),
        ("/srv/elsewhere", "bind-roots"),
        ("{root}/data/../../..", "bind-roots"),
    ],
)
def test_volume_options_that_bind_a_forbidden_host_path_are_refused(
    allowed_root, docker_api, labels, device, rule
):
    client = make_client(ALLOWED_BIND_ROOTS=[str(allowed_root)])
    name = f"bindvol-{labels[TEST_LABEL]}"
    body = {
        "name": name,
        "labels": labels,
        "driver_opts": {"type": "none", "o": "bind", "device": device.format(root=allowed_root)},
    }
    decision = client.post("/volumes/decision", json=body)
    assert decision.status_code == 200
    assert decision.json["allowed"] is False and decision.json["rule"] == rule

    refused = client.post("/volumes", json=body)
    assert refused.status_code == 403
    assert f"`{rule}`" in refused.json["message"]
    assert name not in volume_names(docker_api, labels)


def test_volume_options_beyond_tmpfs_or_a_bind_under_the_roots_are_refused(
    allowed_root, docker_api, labels
):
    client = make_client(ALLOWED_BIND_ROOTS=[str(allowed_root)])
    for options in (
        {"type": "ext4", "device": "/dev/sda1"},
        {"type": "nfs", "o": "addr=127.0.0.1", "device": ":/export"},
    ):
        body = {"name": f"odd-{labels[TEST_LABEL]}", "labels": labels, "driver_opts": options}
        answer = client.post("/volumes", json=body)
        assert answer.status_code == 403 and "`volume-options`" in answer.json["message"]
    assert client.post("/volumes", json={**body, "driver": "nfs-plugin"}).status_code == 403
    assert volume_names(docker_api, labels) == set()

    # a tmpfs and a bind under the roots are allowed
    tmpfs = {"type": "tmpfs", "device": "tmpfs", "o": "size=8m"}
    bind = {"type": "none", "o": "bind", "device": str(allowed_root / "data")}
    for suffix, options in (("tmpfs", tmpfs), ("bind", bind)):
        body = {"name": f"{suffix}-{labels[TEST_LABEL]}", "labels": labels, "driver_opts": options}
        answer = client.post("/volumes", json=body)
        assert answer.status_code == 201, answer.json
        assert answer.json["options"] == options


def test_a_volume_made_elsewhere_that_binds_the_host_cannot_be_read_or_written(
    client, docker_api, labels
):
    name = f"rootvol-{labels[TEST_LABEL]}"
    docker_api.create_volume(
        name, driver_opts={"type": "none", "o": "bind", "device": "/"}, labels=labels
    )
    backup = client.get(f"/volumes/{name}/backup")
    assert backup.status_code == 403 and "`host-system`" in backup.json["message"]
    restore = client.post(
        f"/volumes/{name}/restore", data=tar_bytes({"x": b"x"}), content_type="application/x-tar"
    )
    assert restore.status_code == 403
    assert not helpers(docker_api, name)


def test_backup_then_restore_keeps_every_path_type_byte_mode_owner_and_link(
    client, docker_api, busybox_image, labels, new_volume
):
    source = new_volume("source")
    run(docker_api, busybox_image, FILES, source, labels)
    before = run(docker_api, busybox_image, LISTING, source, labels, read_only=True)
    assert "./owned|regular file|644|1234:1234" in before
    assert "./empty|directory|755" in before
    assert "./link|symbolic link|777|0:0|-> a/b/c/deep.txt" in before
    assert before.endswith("\n1\n")  # one inode: the hard link is one

    backup = client.get(f"/volumes/{source}/backup")
    assert backup.status_code == 200
    assert backup.mimetype == "application/gzip"
    assert f'filename="{source}.tar.gz"' in backup.headers["Content-Disposition"]
    archive = backup.data
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = tar.getnames()
    assert "./a/b/c/deep.txt" in names and "./empty" in names
    assert not helpers(docker_api, source)

    assert client.delete(f"/volumes/{source}").status_code == 204
    target = f"vol-restored-{labels[TEST_LABEL]}"
    label = f"{TEST_LABEL}={labels[TEST_LABEL]}"
    restored = client.post(
        f"/volumes/{target}/restore?label={label}", data=archive, content_type="application/gzip"
    )
    assert restored.status_code == 200, restored.json
    assert restored.json["created"] is True and restored.json["mode"] == "merge"
    assert restored.json["entries"] == len(names)
    assert restored.json["bytes"] == len(archive)
    assert restored.json["volume"]["labels"] == labels
    assert not helpers(docker_api, target)

    after = run(docker_api, busybox_image, LISTING, target, labels, read_only=True)
    assert after == before


def tar_bytes(files: dict, links: dict | None = None) -> bytes:
    """A tar of regular files and symbolic links (name -> target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def restore(client, name, archive, mode="merge", labels=None):
    label = "".join(f"&label={key}={value}" for key, value in (labels or {}).items())
    return client.post(
        f"/volumes/{name}/restore?mode={mode}{label}",
        data=archive,
        content_type="application/x-tar",
    )


def test_merge_keeps_other_files_and_replace_leaves_exactly_the_archive(
    client, docker_api, busybox_image, labels, new_volume
):
    name = new_volume("modes")
    run(docker_api, busybox_image, "mkdir -p /data/d && echo old > /data/d/old", name, labels)
    archive = tar_bytes({"d/new": b"new\n", "top": b"top\n"})

    assert restore(client, name, archive).status_code == 200
    listing = "cd /data && find . | sort"
    merged = run(docker_api, busybox_image, listing, name, labels).split()
    assert merged == [".", "./d", "./d/new", "./d/old", "./top"]

    replaced = restore(client, name, archive, mode="replace")
    assert replaced.status_code == 200, replaced.json
    assert replaced.json["volume"]["labels"] == labels
    assert run(docker_api, busybox_image, listing, name, labels).split() == [
        ".",
        "./d",
        "./d/new",
        "./top",
    ]
    assert run(docker_api, busybox_image, "cat /data/d/new", name, labels) == "new\n"


def test_replace_of_a_volume_in_use_is_a_409_and_changes_nothing(
    client, docker_api, busybox_image, labels, new_volume
):
    name = new_volume("busy")
    run(docker_api, busybox_image, "echo kept > /data/kept", name, labels)
    docker_api.create_container(
        busybox_image,
        command=["true"],
        name=f"holder-{labels[TEST_LABEL]}",
        labels=labels,
        host_config=docker_api.create_host_config(binds={name: {"bind": "/data"}}),
    )
    answer = restore(client, name, tar_bytes({"new": b"x"}), mode="replace")
    assert answer.status_code == 409
    assert f"holder-{labels[TEST_LABEL]}" in answer.json["message"]
    assert run(docker_api, busybox_image, "ls /data", name, labels) == "kept\n"


def special(name, kind, linkname="") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("fine.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, linkname
        tar.addfile(info)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "archive, words",
    [
        (tar_bytes({"fine.txt": b"ok", "/etc/cron.d/evil": b"x"}), "absolute path"),
        (tar_bytes({"fine.txt": b"ok", "../escape": b"x"}), "`..`"),
        (tar_bytes({"fine.txt": b"ok", "a/../../escape": b"x"}), "`..`"),
        (tar_bytes({"fine.txt": b"ok"}, {"etc": "/etc"}), "absolute path"),
        (tar_bytes({"fine.txt": b"ok"}, {"up": "../../../etc"}), "out of the volume"),
        (tar_bytes({"fine.txt": b"ok"}, {"a/b/up": "../../.."}), "out of the volume"),
        (tar_bytes({"fine.txt": b"ok", "d/x": b"x"}, {"d": "sub"}), None),
        (special("hard", tarfile.LNKTYPE, "../../etc/passwd"), "`..`"),
        (special("hard", tarfile.LNKTYPE, "/etc/passwd"), "absolute path"),
        (special("disk", tarfile.BLKTYPE), "device file"),
        (b"\x1f\x8b" + b"not really gzip" * 40, "not a readable tar archive"),
    ],
)
def test_an_unsafe_archive_is_refused_and_nothing_is_written(
    client, docker_api, labels, archive, words
):
    name = f"vol-hostile-{labels[TEST_LABEL]}"
    answer = restore(client, name, archive, labels=labels)
    if words is None:
        # a link, then an entry after it of the same name as a directory: fine
        assert answer.status_code == 200, answer.json
        return
    assert answer.status_code == 400, answer.json
    assert words in answer.json["message"]
    assert name not in volume_names(docker_api, labels)
    assert not helpers(docker_api, name)


def test_an_entry_written_through_a_link_is_refused(client, docker_api, labels, new_volume):
    name = new_volume("through")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("sub")
        info.type, info.linkname = tarfile.SYMTYPE, "inner"
        tar.addfile(info)
        info = tarfile.TarInfo("sub/file")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    answer = restore(client, name, buffer.getvalue())
    assert answer.status_code == 400 and "through a symbolic link" in answer.json["message"]
    backup = client.get(f"/volumes/{name}/backup")
    with tarfile.open(fileobj=io.BytesIO(backup.data), mode="r:gz") as tar:
        assert tar.getnames() == ["."]


def test_backup_and_restore_need_the_exec_scope(docker_api, labels, new_volume):
    name = new_volume("scoped")
    tokens = [
        {"name": f"{scope}-bot", "hash": hash_token(secret), "scopes": [scope]}
        for scope, secret in SECRETS.items()
    ]
    client = make_client(TOKENS=tokens)
    for scope in ("read", "operate", "write"):
        assert client.get(f"/volumes/{name}/backup", headers=bearer(scope)).status_code == 403
        refused = client.post(
            f"/volumes/{name}/restore",
            data=tar_bytes({"x": b"x"}),
            content_type="application/x-tar",
            headers=bearer(scope),
        )
        assert refused.status_code == 403
    allowed = client.get(f"/volumes/{name}/backup", headers=bearer("exec"))
    assert allowed.status_code == 200 and allowed.data
    assert client.get("/volumes", headers=bearer("read")).status_code == 200
    assert client.post("/volumes/prune", json={}, headers=bearer("write")).status_code == 403


def test_a_client_that_leaves_mid_backup_leaves_no_helper_behind(
    client, docker_api, busybox_image, labels, new_volume
):
    name = new_volume("leaving")
    run(docker_api, busybox_image, "head -c 67108864 /dev/urandom > /data/big", name, labels)
    with served() as (base, _):
        address = urlsplit(base)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        connection.request("GET", f"/volumes/{name}/backup", headers=admin_headers())
        answer = connection.getresponse()
        assert answer.status == 200
        assert len(answer.read(65536)) == 65536
        assert helpers(docker_api, name)  # reading through its helper
        connection.sock.close()
        connection.close()
        eventually(lambda: not helpers(docker_api, name), timeout=20)


def test_prune_removes_only_unused_volumes_it_selects(
    client, docker_api, busybox_image, labels, new_volume
):
    unused = new_volume("unused")
    used = new_volume("kept")
    docker_api.create_container(
        busybox_image,
        command=["true"],
        labels=labels,
        host_config=docker_api.create_host_config(binds={used: {"bind": "/data"}}),
    )
    label = f"{TEST_LABEL}={labels[TEST_LABEL]}"
    pruned = client.post("/volumes/prune", json={"label": [label]})
    assert pruned.status_code == 200
    assert pruned.json["deleted"] == [unused]
    assert volume_names(docker_api, labels) == {used}


def test_a_list_with_sizes_measures_each_volume(client, docker_api, busybox_image, labels):
    name = f"measured-{labels[TEST_LABEL]}"
    assert client.post("/volumes", json={"name": name, "labels": labels}).status_code == 201
    writer = docker_api.create_container(
        busybox_image,
        command=["sh", "-c", "head -c 300000 /dev/zero > /v/file"],
        labels=labels,
        host_config=docker_api.create_host_config(binds=[f"{name}:/v"]),
    )
    docker_api.start(writer)
    assert docker_api.wait(writer, timeout=30)["StatusCode"] == 0
    plain = {v["name"]: v for v in client.get(f"/volumes?name={name}").json}
    assert plain[name]["size"] is None
    measured = {v["name"]: v for v in client.get(f"/volumes?name={name}&size=true").json}
    assert 300000 <= measured[name]["size"] < 400000
