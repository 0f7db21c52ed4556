"""What the workers of one service share: JSON files in one directory (SHARED_DIR), each read
and written whole under a lock, so that a count or a ticket holds whichever worker serves."""

import fcntl
import json
import os
import threading
from contextlib import contextmanager

from ..config import temporary_dir


class SharedFile:
    """One JSON object in the shared directory, named by the class's ``FILE``."""

    FILE = ""

    def __init__(self, directory: str):
        # "": a directory of this process's own, made on first use
        self._directory = directory
        self._lock = threading.Lock()

    @property
    def path(self) -> str:
        if not self._directory:
            self._directory = temporary_dir()
        return os.path.join(self._directory, self.FILE)

    @contextmanager
    def edit(self, write=True):
        """The object, as a dict to read and change; written back when the block ends."""
        with self._lock, open(self.path, "a+", encoding="utf-8") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            file.seek(0)
            try:
                held = json.loads(file.read() or "{}")
            except ValueError:  # cut short by a crash: start afresh
                held = {}
            yield held
            if write:
                file.seek(0)
                file.truncate()
                file.write(json.dumps(held))
