"""What a volume backup and restore cost through the service, over the Docker socket called
directly, in the same run.

Run on purpose, against an engine you own (it creates and removes a labelled image, volumes and
containers; a few GB of disk go to the temp dir and to the engine meanwhile):

    .venv/bin/python benchmarks/bench_backup.py [--size-mb 1024] [--small-files 300] [--keep-files]

It builds a busybox image from /bin/busybox (no registry is reached), starts the service with
gunicorn (deploy/gunicorn.conf.py, one worker) on a free loopback port with an administrator
token of its own, and fills a volume with one file of random data of --size-mb MiB and a few
hundred small random files. Then:

- backup: `GET /volumes/{name}/backup` (.tar.gz, gzip made by the service) streamed to a file,
  against the daemon's `GET /containers/{helper}/archive?path=/volume/.` (plain tar, the
  endpoint of `docker cp`) on a created, never started container that mounts the same volume;
- restore: `POST /volumes/{new}/restore` of that file, streamed from disk, against the daemon's
  `PUT /containers/{helper}/archive?path=/volume` of the same file into another new volume.

It also times the daemon's archive asked with `Accept-Encoding: gzip, deflate`, as requests (and
so docker-py) asks by default: the daemon then gzips the tar itself, which its reader must undo.
The direct timings include what the service does around the transfer (creating the volume and
the helper container, removing the helper). The gunicorn worker's RSS is sampled every 50 ms
during each service transfer: its peak growth should not depend on --size-mb. Both restored
volumes are then compared with the source (paths, modes, owners, contents). MB are MiB.
Everything made carries a label unique to the run and is removed at the end. Traffic stays on
this machine.
"""

import argparse
import http.client
import io
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOCKET = os.environ.get("DOCKYARD_DOCKER_URL", "unix:///var/run/docker.sock").removeprefix(
    "unix://"
)
RUN = uuid.uuid4().hex[:8]
LABEL = f"dockyard.bench={RUN}"
LABELS = dict([LABEL.split("=")])
# the label the service puts on its own helper containers, with the volume's name
HELPER_VOLUME_LABEL = "dockyard.helper.volume"
MB = 1024 * 1024
CHUNK = MB
TIMEOUT = 1800  # seconds any single call may take (a GB through gzip on a slow machine)
BUSYBOX = Path("/bin/busybox")
DOCKERFILE = b"""FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
"""


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=TIMEOUT):
        super().__init__("localhost", timeout=timeout, blocksize=CHUNK)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Engine:
    """The Docker socket, called directly."""

    def __init__(self):
        self.conn = UnixConnection(SOCKET)
        self.conn.request("GET", "/version")
        self.api = json.loads(self.conn.getresponse().read())["ApiVersion"]

    def call(self, method, path, body=None, headers=None, ok=(200, 201, 204)) -> bytes:
        self.conn.request(method, f"/v{self.api}{path}", body, headers or {})
        answer = self.conn.getresponse()
        data = answer.read()
        if answer.status not in ok:
            raise RuntimeError(f"{method} {path}: {answer.status} {data[:500]!r}")
        return data

    def json(self, method, path, ok=(200, 201, 204)):
        return json.loads(self.call(method, path, ok=ok))

    def post_json(self, path, body):
        data = self.call("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        return json.loads(data) if data else None

    def build_busybox(self, tag) -> None:
        """The test image of /work/shared/ENGINE.md, from /bin/busybox, labelled."""
        context = tempfile.SpooledTemporaryFile(max_size=16 * MB)
        with tarfile.open(fileobj=context, mode="w") as tar:
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(DOCKERFILE)
            tar.addfile(info, io.BytesIO(DOCKERFILE))
            info = tar.gettarinfo(str(BUSYBOX), arcname="busybox")
            info.mode, info.uid, info.gid, info.uname, info.gname = 0o755, 0, 0, "", ""
            with BUSYBOX.open("rb") as binary:
                tar.addfile(info, binary)
        context.seek(0)
        query = urllib.parse.urlencode(
            {"t": tag, "labels": json.dumps(LABELS), "rm": 1, "forcerm": 1}
        )
        output = self.call(
            "POST", f"/build?{query}", context.read(), {"Content-Type": "application/x-tar"}
        )
        for line in output.decode(errors="replace").splitlines():
            if line.strip() and "error" in json.loads(line):
                raise RuntimeError(f"the busybox image did not build: {line}")

    def create_volume(self, name) -> None:
        self.post_json("/volumes/create", {"Name": name, "Labels": LABELS})

    def create_container(self, image, cmd, mounts) -> str:
        config = {
            "Image": image,
            "Cmd": cmd,
            "Labels": LABELS,
            "NetworkDisabled": True,
            "HostConfig": {"NetworkMode": "none", "Mounts": mounts},
        }
        return self.post_json("/containers/create", config)["Id"]

    def remove_container(self, cid) -> None:
        self.call("DELETE", f"/containers/{cid}?force=1&v=0", ok=(204, 404))

    def run(self, image, script, mounts) -> str:
        """Run a shell script in a container to its end; its output (failure: RuntimeError)."""
        cid = self.create_container(image, ["sh", "-c", script], mounts)
        try:
            self.call("POST", f"/containers/{cid}/start")
            status = self.json("POST", f"/containers/{cid}/wait")["StatusCode"]
            output = _demux(self.call("GET", f"/containers/{cid}/logs?stdout=1&stderr=1"))
            if status != 0:
                raise RuntimeError(f"`{script[:80]}...` exited {status}: {output[-2000:]}")
            return output
        finally:
            self.remove_container(cid)

    def cleanup(self, volumes, image) -> list[str]:
        """Remove what this run made, found by its label (and the service's helpers of its
        volumes); what could not be removed."""
        left = []
        found = [c["Id"] for c in self._containers(LABEL)]
        for name in volumes:
            found += [c["Id"] for c in self._containers(f"{HELPER_VOLUME_LABEL}={name}")]
        for cid in found:
            try:
                self.remove_container(cid)
            except Exception as exc:  # keep going: remove all that can be
                left.append(f"container {cid[:12]}: {exc}")
        filters = urllib.parse.quote(json.dumps({"label": [LABEL]}))
        names = set(volumes)
        labelled = self.json("GET", f"/volumes?filters={filters}")["Volumes"] or []
        names |= {v["Name"] for v in labelled}
        for name in sorted(names):
            try:
                self.call("DELETE", f"/volumes/{name}", ok=(204, 404))
            except Exception as exc:
                left.append(f"volume {name}: {exc}")
        try:
            self.call("DELETE", f"/images/{image}?force=1", ok=(200, 404))
        except Exception as exc:
            left.append(f"image {image}: {exc}")
        return left

    def _containers(self, label):
        filters = urllib.parse.quote(json.dumps({"label": [label]}))
        return self.json("GET", f"/containers/json?all=1&filters={filters}")


class Service:
    """The service under gunicorn, one worker, with an administrator token of its own."""

    def __init__(self, private: Path):
        port = _free_port()
        self.base = f"127.0.0.1:{port}"
        token_file = private / "token" / "admin-token"
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DOCKYARD_TOKENS", "DOCKYARD_TOKENS_FILE", "DOCKYARD_OPEN_ACCESS")
        }
        env |= {
            "DOCKYARD_BIND": self.base,
            "DOCKYARD_WORKERS": "1",
            "DOCKYARD_DOCKER_URL": f"unix://{SOCKET}",
            "DOCKYARD_AUDIT_LOG": os.devnull,
            "DOCKYARD_ADMIN_TOKEN_FILE": str(token_file),
        }
        self.log = private / "gunicorn.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait(f"http://{self.base}/health", self)
            for _ in range(100):
                if token_file.exists() and token_file.read_text().strip():
                    break
                time.sleep(0.1)
            name, _, value = token_file.read_text().strip().partition(":")
            if name.strip().lower() != "authorization":
                raise RuntimeError(f"{token_file} holds no Authorization header")
            self.auth = {"Authorization": value.strip()}
        except BaseException:
            self.stop()
            raise

    def connection(self):
        host, port = self.base.split(":")
        return http.client.HTTPConnection(host, int(port), timeout=TIMEOUT, blocksize=CHUNK)

    def worker(self) -> int:
        """The pid of the gunicorn worker (the master's only child)."""
        for _ in range(100):
            children = []
            for task in Path(f"/proc/{self.process.pid}/task").iterdir():
                children += (task / "children").read_text().split()
            if len(children) == 1:
                return int(children[0])
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn master has workers {children}, expected one")

    def post_json(self, path, body) -> dict:
        conn = self.connection()
        try:
            headers = {**self.auth, "Content-Type": "application/json"}
            conn.request("POST", path, json.dumps(body), headers)
            answer = conn.getresponse()
            data = answer.read()
            if answer.status not in (200, 201):
                raise RuntimeError(f"POST {path}: {answer.status} {data[:500]!r}")
            return json.loads(data)
        finally:
            conn.close()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines=30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class RssSampler:
    """The peak RSS of a process, sampled every ``period`` s from a thread while it runs."""

    def __init__(self, pid, period=0.05):
        self.pid, self.period = pid, period
        self.before = rss(pid)
        self.peak = self.before
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            self.samples += 1
            self._stop.wait(self.period)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss(self.pid))
        self.after = rss(self.pid)

    @property
    def growth(self) -> float:
        return (self.peak - self.before) / MB


def rss(pid) -> int:
    """Resident bytes of a process (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0


def fill_script(size_mb: int, small: int) -> tuple[str, int]:
    """The shell script that fills /data, and the bytes of file data it writes."""
    big = size_mb * MB
    sizes = [(i * 7919) % 16384 + 1 for i in range(1, small + 1)]
    script = f"""set -e
head -c {big} /dev/urandom > /data/big.bin
i=1
while [ $i -le {small} ]; do
  d=/data/small/d$((i % 10))
  mkdir -p $d
  head -c $(( (i * 7919) % 16384 + 1 )) /dev/urandom > $d/f$i
  i=$((i + 1))
done
mkdir -p /data/empty/dir
chmod 700 /data/small/d3
chown 1000:1000 /data/small/d1/f1
ln -s ../../big.bin /data/small/d0/link
ln /data/small/d2/f2 /data/small/d2/hard
sync
"""
    return script, big + sum(sizes)


# for each mounted volume: entries, a digest of paths, kinds, modes, owners and sizes of files,
# a digest of the files' contents, the big file's md5
VERIFY = """set -e
for d in "$@"; do
  cd $d
  entries=$(find . | wc -l)
  meta=$(find . | sort | while read f; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then stat -c '%n %A %u:%g %s' "$f"
    else stat -c '%n %A %u:%g' "$f"; fi
  done | md5sum | cut -c1-32)
  data=$(find . -type f | sort | xargs md5sum | md5sum | cut -c1-32)
  big=$(md5sum big.bin | cut -c1-32)
  echo "$d $entries $meta $data $big"
done
"""


def verify(engine, image, volumes) -> dict[str, list[str]]:
    mounts = [
        {"Type": "volume", "Source": name, "Target": f"/v{i}", "ReadOnly": True}
        for i, name in enumerate(volumes)
    ]
    cid = engine.create_container(
        image, ["sh", "-c", VERIFY, "verify", *(f"/v{i}" for i in range(len(volumes)))], mounts
    )
    try:
        engine.call("POST", f"/containers/{cid}/start")
        status = engine.json("POST", f"/containers/{cid}/wait")["StatusCode"]
        output = _demux(engine.call("GET", f"/containers/{cid}/logs?stdout=1&stderr=1"))
    finally:
        engine.remove_container(cid)
    if status != 0:
        raise RuntimeError(f"verification exited {status}: {output[-2000:]}")
    lines = [line.split() for line in output.splitlines() if line.startswith("/v")]
    return {volumes[int(line[0][2:])]: line[1:] for line in lines}


def service_backup(service, volume, target: Path) -> tuple[float, int]:
    """Seconds and bytes of the service's .tar.gz of a volume, streamed to ``target``."""
    conn = service.connection()
    try:
        started = time.perf_counter()
        conn.request("GET", f"/volumes/{volume}/backup", headers=service.auth)
        answer = conn.getresponse()
        if answer.status != 200:
            raise RuntimeError(f"backup: {answer.status} {answer.read()[:500]!r}")
        size = _copy(answer, target)
        return time.perf_counter() - started, size
    finally:
        conn.close()


def direct_backup(engine, image, volume, target: Path, encoding=None) -> tuple[float, int, str]:
    """Seconds, bytes and Content-Encoding of the daemon's tar of a volume through a
    never-started container (created and removed within the time, as the service does).
    With an Accept-Encoding of gzip the daemon compresses the tar itself (Go's gzip)."""
    conn = UnixConnection(SOCKET)
    try:
        started = time.perf_counter()
        mount = {"Type": "volume", "Source": volume, "Target": "/volume", "ReadOnly": True}
        helper = engine.create_container(image, ["never-started"], [mount])
        try:
            headers = {"Accept-Encoding": encoding} if encoding else {}
            path = f"/v{engine.api}/containers/{helper}/archive?path=/volume/."
            conn.request("GET", path, headers=headers)
            answer = conn.getresponse()
            if answer.status != 200:
                raise RuntimeError(f"direct backup: {answer.status} {answer.read()[:500]!r}")
            size = _copy(answer, target)
        finally:
            engine.remove_container(helper)
        return time.perf_counter() - started, size, answer.getheader("Content-Encoding", "")
    finally:
        conn.close()


def service_restore(service, volume, archive: Path) -> tuple[float, dict]:
    """Seconds and answer of a restore into a new volume, the archive streamed from disk."""
    conn = service.connection()
    try:
        headers = {
            **service.auth,
            "Content-Type": "application/gzip",
            "Content-Length": str(archive.stat().st_size),
        }
        query = urllib.parse.urlencode({"mode": "merge", "label": LABEL})
        with archive.open("rb") as body:
            started = time.perf_counter()
            conn.request("POST", f"/volumes/{volume}/restore?{query}", body, headers)
            answer = conn.getresponse()
            data = answer.read()
            elapsed = time.perf_counter() - started
        if answer.status != 200:
            raise RuntimeError(f"restore: {answer.status} {data[:500]!r}")
        return elapsed, json.loads(data)
    finally:
        conn.close()


def direct_restore(engine, image, volume, archive: Path) -> float:
    """Seconds to make a volume and unpack the archive into it with the daemon's PUT through a
    never-started container (created and removed within the time, as the service does)."""
    conn = UnixConnection(SOCKET)
    try:
        with archive.open("rb") as body:
            started = time.perf_counter()
            engine.create_volume(volume)
            mount = {"Type": "volume", "Source": volume, "Target": "/volume"}
            helper = engine.create_container(image, ["never-started"], [mount])
            try:
                headers = {
                    "Content-Type": "application/x-tar",
                    "Content-Length": str(archive.stat().st_size),
                }
                conn.request(
                    "PUT",
                    f"/v{engine.api}/containers/{helper}/archive?path=/volume",
                    body,
                    headers,
                )
                answer = conn.getresponse()
                data = answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"direct restore: {answer.status} {data[:500]!r}")
            finally:
                engine.remove_container(helper)
            return time.perf_counter() - started
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="MiB of the big random file")
    parser.add_argument("--small-files", type=int, default=300, help="small random files")
    parser.add_argument(
        "--tmpdir", default=None, help="where the archives go (default: the system temp dir)"
    )
    parser.add_argument(
        "--keep-files", action="store_true", help="keep the backup archives; say where"
    )
    args = parser.parse_args()
    if not BUSYBOX.exists():
        sys.exit(f"{BUSYBOX} is missing (apt-get install busybox-static)")

    engine = Engine()
    image = f"dockyard-bench/busybox:{RUN}"
    source, through, direct = (f"bench-{RUN}-{what}" for what in ("source", "svc", "direct"))
    private = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    files = Path(tempfile.mkdtemp(prefix="bench-backup-archives-", dir=args.tmpdir))
    backup, raw = files / f"{source}.tar.gz", files / f"{source}.tar"
    service = None
    failed = False
    try:
        engine.build_busybox(image)
        service = Service(private)
        worker = service.worker()
        service.post_json("/volumes", {"name": source, "labels": LABELS})
        script, data_bytes = fill_script(args.size_mb, args.small_files)
        started = time.perf_counter()
        engine.run(image, script, [{"Type": "volume", "Source": source, "Target": "/data"}])
        fill_seconds = time.perf_counter() - started
        data_mb = data_bytes / MB
        print(
            f"engine API {engine.api}; volume {source}: {data_mb:.1f} MB of random data "
            f"(1 file of {args.size_mb} MB, {args.small_files} small files), "
            f"written in {fill_seconds:.1f} s; one gunicorn worker, pid {worker}\n"
        )

        with RssSampler(worker) as backup_rss:
            backup_seconds, archive_bytes = service_backup(service, source, backup)
        direct_backup_seconds, tar_bytes, _ = direct_backup(engine, image, source, raw)
        if not args.keep_files:
            raw.unlink()
        # what a client that accepts gzip (requests, and so docker-py, by default) is sent
        zipped = files / f"{source}.daemon.tar.gz"
        zipped_seconds, zipped_bytes, zipped_encoding = direct_backup(
            engine, image, source, zipped, encoding="gzip, deflate"
        )
        zipped.unlink()

        with RssSampler(worker) as restore_rss:
            restore_seconds, restored = service_restore(service, through, backup)
        direct_restore_seconds = direct_restore(engine, image, direct, backup)
        if service.worker() != worker:
            print("warning: the gunicorn worker was replaced during the run")

        archive_mb = archive_bytes / MB
        rows = [
            ("backup (GET .tar.gz)", backup_seconds, direct_backup_seconds, backup_rss),
            ("restore (POST .tar.gz)", restore_seconds, direct_restore_seconds, restore_rss),
        ]
        print(
            f"{'operation':24} {'s':>7} {'data MB/s':>9} {'archive MB/s':>12} {'direct s':>9} "
            f"{'direct MB/s':>11} {'ratio':>6} {'RSS before':>10} {'peak +MB':>8} "
            f"{'after +MB':>9} {'samples':>7}"
        )
        for name, mine, theirs, sampled in rows:
            print(
                f"{name:24} {mine:7.2f} {data_mb / mine:9.1f} {archive_mb / mine:12.1f} "
                f"{theirs:9.2f} {data_mb / theirs:11.1f} {mine / theirs:6.2f} "
                f"{sampled.before / MB:10.1f} {sampled.growth:8.1f} "
                f"{(sampled.after - sampled.before) / MB:9.1f} {sampled.samples:7d}"
            )
        print(
            f"\narchive: {archive_bytes} bytes ({archive_mb:.1f} MB, "
            f"{archive_bytes / data_bytes:.3f} of the data; the daemon's plain tar: "
            f"{tar_bytes / MB:.1f} MB); restore answered {restored['entries']} entries, "
            f"{restored['bytes']} bytes"
        )
        print(
            f"the daemon's archive asked with `Accept-Encoding: gzip, deflate`: "
            f"{zipped_seconds:.2f} s ({data_mb / zipped_seconds:.1f} MB/s), "
            f"Content-Encoding `{zipped_encoding or 'none'}`, {zipped_bytes / MB:.1f} MB"
        )
        print(
            "MB/s are of the volume's file data (`data`) or of the .tar.gz (`archive`); "
            "direct: the Docker socket's archive endpoints (plain tar out, the same .tar.gz in); "
            "ratio: service s / direct s; RSS of the gunicorn worker, in MB"
        )

        digests = verify(engine, image, [source, through, direct])
        expected = digests[source]
        print(f"\n{'volume':32} {'entries':>7} {'metadata md5':32} {'contents md5':32} match")
        for name in (source, through, direct):
            found = digests.get(name, ["?"] * 4)
            print(f"{name:32} {found[0]:>7} {found[1]:32} {found[2]:32} {found == expected}")
            failed |= found != expected
        if failed:
            print("a restored volume differs from the source")
    except BaseException:
        failed = True
        if service is not None:
            print(f"gunicorn log, last lines:\n{service.tail()}", file=sys.stderr)
        raise
    finally:
        if service is not None:
            service.stop()
        left = engine.cleanup([source, through, direct], image)
        shutil.rmtree(private, ignore_errors=True)
        if args.keep_files:
            print(f"\narchives kept in {files}")
        else:
            shutil.rmtree(files, ignore_errors=True)
        if left:
            print("left behind on the engine:\n  " + "\n  ".join(left), file=sys.stderr)
            failed = True
    if failed:
        sys.exit(1)


def _copy(answer, target: Path) -> int:
    """An answer's body to a file, a chunk at a time; its bytes."""
    size = 0
    with target.open("wb") as out:
        while chunk := answer.read(CHUNK):
            out.write(chunk)
            size += len(chunk)
    return size


def _demux(stream: bytes) -> str:
    """The text of a container's log stream (8-byte frame headers, no tty)."""
    out, at = [], 0
    while at + 8 <= len(stream):
        (length,) = struct.unpack(">I", stream[at + 4 : at + 8])
        out.append(stream[at + 8 : at + 8 + length])
        at += 8 + length
    return b"".join(out).decode(errors="replace")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url, service):
    for _ in range(100):
        if service.process.poll() is not None:
            raise RuntimeError(f"the service exited:\n{service.tail()}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the service did not start:\n{service.tail()}")


if __name__ == "__main__":
    main()
