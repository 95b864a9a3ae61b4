"""Ending a process without the interpreter's teardown.

After a command (or a worker process) that analysed pictures, Python's own exit frees every loaded model and the
modules of numpy, OpenCV, ONNX Runtime and TFLite one object at a time: 0.25-0.4 s measured here, on every
`mediaindex index` and `people add`, and in every worker the parent waits for at the end of a run. Nothing of
mediaindex waits for that teardown (every document is committed when its write returns; there is no atexit hook
or `__del__` of ours), so these processes end at once, after doing what an orderly exit does that matters: the
logging handlers and the standard streams are flushed, and multiprocessing's exit (its queues' pending messages
sent, its semaphores unlinked, its children joined) runs when multiprocessing was used.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn


def exit_now(status: int) -> NoReturn:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed stream, a reader that went away: nothing more to write there
            pass
    finish = getattr(sys.modules.get("multiprocessing.util"), "_exit_function", None)
    if finish is not None:
        finish()
    os._exit(status)
