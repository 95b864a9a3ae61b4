"""A named pipe at a path the product owns, which never hangs a test: whoever opens it for reading is answered at
once (a helper opens and closes its writing end, again and again), so code that opens it blindly fails its test
instead of waiting for ever; `opened` tells whether anything did."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def named_pipe(path: str | os.PathLike[str]) -> Iterator[threading.Event]:
    path = Path(path)
    private = path.with_name(f".{path.name}.pipe")  # the same pipe under a name only this helper uses
    os.mkfifo(private)
    os.link(private, path)
    opened, stopping = threading.Event(), threading.Event()

    def writer() -> None:
        while True:
            fd = os.open(private, os.O_WRONLY)  # returns when a reader opens the pipe
            os.close(fd)
            if stopping.is_set():
                return
            opened.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield opened
    finally:
        stopping.set()
        fd = os.open(private, os.O_RDONLY | os.O_NONBLOCK)  # lets the helper's last open return
        thread.join()
        os.close(fd)
        os.unlink(private)
