"""Keeping TensorFlow quiet while training: the lines it would print that say nothing.

Training must print nothing unless ``verbose`` asks. Two things TensorFlow prints on
its own are held back here, and only those: its warning that a ``tf.function`` was
retraced, and the INFO lines its C++ code writes when XLA first compiles.
"""

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading


class _NoRetracingWarning(logging.Filter):
    """Drop TensorFlow's warning that recent calls of a ``tf.function`` retraced it.

    Every new network's steps are traced once. TensorFlow counts traces by the
    function's code, which all networks' steps share, so a run of short fits of
    different networks (a grid search) sets the warning off although nothing is
    traced twice.
    """

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def without_retracing_warnings():
    """Filter the retracing warning out of TensorFlow's logger for the block, and only it."""
    logger, no_retracing_warning = logging.getLogger("tensorflow"), _NoRetracingWarning()
    logger.addFilter(no_retracing_warning)
    try:
        yield
    finally:
        logger.removeFilter(no_retracing_warning)


# Serializes the blocks that point file descriptor 2 elsewhere: two at once would
# each restore the other's target.
_STDERR_LOCK = threading.Lock()
# A line of TensorFlow's C++ log at INFO severity: "I1126 09:12:44.1 ..." or "I0000 ...".
_INFO_LINE = re.compile(rb"^I\d{4} ")


@contextlib.contextmanager
def info_lines_held_back():
    """Leave out the INFO lines that TensorFlow's C++ code writes to stderr in the block.

    A process's first XLA compilation logs lines such as "XLA service ... initialized"
    and "Compiled cluster using XLA!" at INFO severity. ``TF_CPP_MIN_LOG_LEVEL``, which
    would silence them, is read once when TensorFlow starts, and the C++ code writes
    them to file descriptor 2, past ``sys.stderr``.
    """
    with lines_held_back(_INFO_LINE):
        yield


@contextlib.contextmanager
def lines_held_back(pattern):
    """Leave out the lines matching ``pattern`` (bytes) written to stderr in the block.

    For the block, file descriptor 2 points at a temporary file; afterwards every line
    of it that does not match (warnings, errors, anything Python wrote) is written to
    stderr as it came.
    """
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no stderr to protect
            saved = None
        if saved is None:
            yield
            return
        with tempfile.TemporaryFile() as held:
            os.dup2(held.fileno(), 2)
            try:
                yield
            finally:
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                held.seek(0)
                kept = [line for line in held if not pattern.match(line)]
                if kept:
                    os.write(2, b"".join(kept))
