"""gunicorn settings, from the service's own settings (defaults, then DOCKYARD_* variables).

gevent workers (service.worker.GuardedWorker): each connection is a greenlet, so a log, event or
progress stream that lasts for minutes costs no thread, and one worker holds WORKER_CONNECTIONS
connections at once. The worker also bounds slow clients: HEADER_TIMEOUT seconds to send a
request's head, BODY_TIMEOUT seconds a body or an answer may stall, MAX_CLIENT_CONNECTIONS
connections per client address that have not earned a place with a valid token. No control
socket: its default path is shared by every instance of this user.

The workers share a directory (DOCKYARD_SHARED_DIR, else a new one removed on exit): the streams
each token holds, and the metrics of every worker (prometheus_client's multiprocess mode), so
that a quota holds across workers and a scrape of any worker counts them all.
"""

# gevent patches the standard library before the service (docker-py, urllib3, requests) is
# imported, here in the master whose imports the workers inherit; only when gunicorn reads this
# file (as `__config__`), not when a test or a tool reads it
if __name__ == "__config__":
    from gevent import monkey

    monkey.patch_all()

    import os
    import tempfile

    # before prometheus_client is imported (by any module of the service): it takes the
    # directory then. In memory where the system has /dev/shm, as service.config's
    # temporary_dir: the counters are written on every request
    if not os.environ.get("DOCKYARD_SHARED_DIR"):
        _memory = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        os.environ["DOCKYARD_SHARED_DIR"] = tempfile.mkdtemp(prefix="dockyard-", dir=_memory)
        os.environ["DOCKYARD_SHARED_DIR_MADE"] = "1"
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(
        os.environ["DOCKYARD_SHARED_DIR"], "metrics"
    )
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], mode=0o700, exist_ok=True)

import glob
import os
import shutil

from service import metrics
from service.auth import check_exposure
from service.config import current_settings
from service.streaming import TokenStreams
from service.worker import HEAD_LIMIT

_settings = current_settings()

wsgi_app = "service:create_app()"
bind = str(_settings["BIND"]).split(",")
workers = int(_settings["WORKERS"])
worker_class = "service.worker.GuardedWorker"
worker_connections = int(_settings["WORKER_CONNECTIONS"])
graceful_timeout = int(_settings["GRACEFUL_TIMEOUT"])
keepalive = 5
# gunicorn's largest request line (more is clamped to it): longer ones are a json 414
limit_request_line = 8190
# a header field may be as large as HEAD_LIMIT (gunicorn sets no maximum; 0 would mean its
# default of 8190); larger fields, or more than 100, are a json 431
limit_request_field_size = HEAD_LIMIT
loglevel = str(_settings["LOG_LEVEL"])
# the default socket path is one per user: a second instance would take it from the first
control_socket_disable = True
# unix sockets are made for this user alone: with open access, their mode says who may call
umask = 0o077
accesslog = "-"
# the path without its query string: a tar build's build_arg values may be secrets
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
errorlog = "-"
# the app is created in each worker, after the fork: no docker connection crosses it
preload_app = False


def on_starting(server):
    # without tokens, anything but a loopback address is refused, whichever way the bind
    # address was given (this file, -b, GUNICORN_CMD_ARGS)
    check_exposure(_settings, server.cfg.bind)
    # counts of an earlier run are not this one's
    shared = os.environ["DOCKYARD_SHARED_DIR"]
    for stale in glob.glob(os.path.join(shared, "metrics", "*.db")):
        os.remove(stale)
    TokenStreams(shared).clear()


def child_exit(server, worker):
    # a worker ended: its open streams and its live gauges are no more
    TokenStreams(os.environ["DOCKYARD_SHARED_DIR"]).forget(worker.pid)
    metrics.process_gone(worker.pid)


def on_exit(server):
    if os.environ.get("DOCKYARD_SHARED_DIR_MADE"):
        shutil.rmtree(os.environ["DOCKYARD_SHARED_DIR"], ignore_errors=True)
