"""Logs as a client asks for them: the bytes as written (text), or a LogLine event a line,
saying which stream it came from."""

from .answers import live
from .formats import TEXT, chosen_format


def logs_answer(frames, timestamps):
    """Log frames as the client asked: as written (text), or a LogLine a line."""
    kind = chosen_format()
    if kind == TEXT:
        return live(frames, kind, render_item=lambda frame: frame[1])
    return live(LogLines(frames, timestamps), kind)


class LogLines:
    """Frames cut into lines, one event a line, saying which stream it came from."""

    def __init__(self, frames, timestamps):
        self._frames = frames
        self._lines = self._cut(frames, timestamps)

    def __iter__(self):
        return self._lines

    def interrupt(self):
        self._frames.interrupt()

    def close(self):
        self._frames.close()

    @staticmethod
    def _cut(frames, timestamps):
        partial = {}
        for stream, data in frames:
            text = partial.pop(stream, "") + data.decode("utf-8", "replace")
            *lines, rest = text.split("\n")
            if rest:
                partial[stream] = rest
            for line in lines:
                yield _log_event(stream, line, timestamps)
        for stream, rest in partial.items():
            yield _log_event(stream, rest, timestamps)


def _log_event(stream, line, timestamps):
    """One LogLine: `time` is null unless timestamps were asked for."""
    stamp = None
    if timestamps:
        stamp, _, line = line.partition(" ")
    return {"type": stream, "stream": stream, "line": line, "time": stamp}
