"""The ``sk-autoencoder`` command (also ``python -m sk_autoencoder``): ``compare FILE``
and ``outliers FILE``.

Reading and checking the file and ``--out``, and every answer to bad input, come
before Keras is imported: the backend loads when the first fit starts, with its
start-up lines held back. Bad input gets one line on stderr and exit status 2; the
reports are written to a temporary folder beside ``--out`` and moved into it only once
complete, so that an interrupted run (Ctrl-C: one line, exit status 130; SIGTERM)
leaves nothing behind and no file of the user's is overwritten.
"""

import argparse
import functools
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from . import __version__

PROG = "sk-autoencoder"


class _OneLineParser(argparse.ArgumentParser):
    """Answers a bad command line with one line on stderr (and ``--help`` for the rest)."""

    def error(self, message):
        fail(f"{message} (see {self.prog} --help)", prog=self.prog)


def parser():
    main = _OneLineParser(
        prog=PROG,
        description="Keras autoencoders against PCA, on your own data.",
    )
    main.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    compare = commands.add_parser(
        "compare",
        help="does an autoencoder beat PCA on this data, and at what cost?",
        description=(
            "Fit PCA, an autoencoder and a denoising autoencoder at several code sizes on "
            "70% of the rows and measure each on the rest: reconstruction error, its ratio "
            "to PCA's, what a simple model predicts from the codes (with --target), fit and "
            "transform time. Prints the table and a verdict, and writes a Markdown and an "
            "HTML report with plots. Numeric columns are standardized, text columns one-hot "
            "encoded, missing values imputed and constant columns dropped."
        ),
    )
    _add_source(compare, npy="file (read memory-mapped)")
    compare.add_argument("--target", metavar="COLUMN", help="a column of labels to predict")
    compare.add_argument(
        "--dims",
        type=_positive_int,
        nargs="+",
        metavar="N",
        help="code sizes (default: 2 4 8 16 32, those below the number of features)",
    )
    compare.add_argument(
        "--quick",
        action="store_true",
        help="a quick look: at most 2,000 rows, code sizes 2 and 8 (those below the number "
        "of features), 20 epochs",
    )
    compare.add_argument(
        "--max-rows", type=_positive_int, metavar="N", help="compare on a sample of N rows"
    )
    compare.add_argument(
        "--epochs", type=_positive_int, metavar="N", help="the autoencoders' epoch budget"
    )
    compare.add_argument(
        "--test-size", type=_fraction, default=0.3, help="fraction of rows held out (0.3)"
    )
    compare.add_argument(
        "--random-state", type=int, default=0, help="seed of the split and the fits (0)"
    )
    _add_output(compare)
    _add_outliers(commands)
    return main


def _add_outliers(commands):
    outliers = commands.add_parser(
        "outliers",
        help="which rows does an autoencoder reconstruct worst?",
        description=(
            "Fit an AutoencoderOutlierDetector on every row, print the most outlying rows "
            "with their scores and the features their reconstruction misses most, and "
            "write every row's score and label (scores.csv) beside a Markdown and an HTML "
            "report. The file is prepared as compare prepares it. With --label, also "
            "reports ROC AUC and average precision against IsolationForest and PCA's "
            "reconstruction error."
        ),
    )
    _add_source(outliers)
    outliers.add_argument(
        "--label",
        metavar="COLUMN",
        help="a column of two values whose rarer one marks known outliers (left out of the fit)",
    )
    outliers.add_argument(
        "--contamination",
        type=_contamination,
        default="auto",
        help="the share of outliers, in (0, 0.5], or auto (default: auto)",
    )
    outliers.add_argument(
        "--dim",
        type=_positive_int,
        help="the code size (default: as many values as PCA needs for 90%% of the variance)",
    )
    outliers.add_argument(
        "--top", type=_positive_int, default=10, help="how many rows to show (default: 10)"
    )
    outliers.add_argument(
        "--epochs", type=_positive_int, metavar="N", help="the autoencoder's epoch budget"
    )
    outliers.add_argument("--random-state", type=int, default=0, help="seed of the fit (0)")
    _add_output(outliers)


def _add_source(command, npy="file"):
    command.add_argument(
        "source",
        metavar="FILE",
        help=f"a .csv, .tsv, .parquet or .npy {npy}, or a built-in data set: digits, "
        "fashion-mnist",
    )


def _add_output(command):
    """``--out`` and ``--data-dir``, which every command takes."""
    command.add_argument(
        "--out",
        type=Path,
        help=f"a new or empty folder for the reports (default: a new {command.prog.split()[-1]}"
        "-NAME folder here)",
    )
    command.add_argument(
        "--data-dir",
        default=None,
        help="folder of Fashion-MNIST's IDX files (default: /usr/share/datasets/fashion-mnist)",
    )


def _contamination(text):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither auto nor a number") from None
    if not 0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"{value} is not in (0, 0.5]")
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return value


def fail(message, *, prog=PROG):
    """Exit with status 2 and ``message`` as one line on stderr."""
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(2)


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        with _Interrupts() as interrupts:
            run = run_compare if args.command == "compare" else run_outliers
            return run(args, argv, interrupts)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing was written.", file=sys.stderr)
        return 130
    except _Terminated as signal_number:
        return 128 + signal_number.args[0]


class _Terminated(BaseException):
    """Raised in the main thread by SIGTERM."""


def _interrupt(signum):
    return KeyboardInterrupt() if signum == signal.SIGINT else _Terminated(signum)


# How long a signal's exception has to reach the command's own code before the signal
# is sent again: far longer than unwinding takes, short enough for a person waiting.
_RESEND_AFTER = 0.5


class _Interrupts:
    """Ctrl-C and SIGTERM unwind the command while it runs in this context, removing
    its staging folder on the way out. The process is the command's own, so it sets
    its own handlers, and restores them after.

    Python raises a signal's exception in whatever code runs when it arrives, and some
    code drops it: a garbage collector callback (JAX registers one, and TensorFlow
    imports JAX where it is installed) or a ``__del__`` report it to
    ``sys.unraisablehook``, and a library that catches every exception, or C code that
    clears the error, drops it silently. The run would go on and write its reports. So
    a heard signal is sent again to the main thread every ``_RESEND_AFTER`` seconds
    until the command settles, and :meth:`check` raises it before anything is written.
    """

    def __init__(self):
        self.heard = None
        self._settled = threading.Event()
        self._first = threading.Event()
        self._main = threading.main_thread().ident
        self._resender = threading.Thread(target=self._resend, daemon=True)

    def __enter__(self):
        self._previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        self._previous = {
            signum: signal.signal(signum, self._handler)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        self._resender.start()
        return self

    def __exit__(self, *exc_info):
        self.settle()
        self._resender.join()
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = self._previous_hook

    def check(self):
        """Raise the signal heard, if any, as its exception: Python may have dropped it."""
        if self.heard is not None:
            raise _interrupt(self.heard)

    def settle(self):
        """The command is unwinding or done: send nothing more."""
        self._settled.set()
        self._first.set()

    def _handler(self, signum, frame):
        if self._settled.is_set() and self.heard is not None:
            # Already unwinding for a signal: a copy sent again as the command
            # settled, or another Ctrl-C, would cut its clean-up short.
            return
        if self.heard is None:
            self.heard = signum
            self._first.set()
        raise _interrupt(signum)

    def _unraisable(self, unraisable):
        # Dropped without a word: the resender sends it again.
        if not isinstance(unraisable.exc_value, (KeyboardInterrupt, _Terminated)):
            self._previous_hook(unraisable)

    def _resend(self):
        if hasattr(signal, "pthread_kill"):
            # To the main thread, whose blocking calls the signal interrupts.
            send = functools.partial(signal.pthread_kill, self._main)
        else:
            send = signal.raise_signal
        self._first.wait()
        while not self._settled.wait(_RESEND_AFTER):
            send(self.heard)


def run_compare(args, argv, interrupts):
    from . import _data

    quick = {}
    if args.quick:
        quick = {"max_rows": 2_000, "default_dims": (2, 8), "epochs": 20}
    kwargs = {} if args.data_dir is None else {"data_dir": args.data_dir}
    try:
        data = _data.read(args.source, target=args.target, **kwargs)
        comparer = _planned(data, args, quick)
    except ValueError as error:
        fail(error)
    out = args.out or new_folder(Path.cwd(), f"compare-{data.name}")

    def compared(staging, command):
        result = comparer.run()
        result.write_markdown(staging, command=command)
        result.write_html(staging / "report.html", command=command)
        return result

    result = _reports_written(out, argv, compared, interrupts)
    print(f"\n{result!r}\n\nReports: {out / 'report.md'} and {out / 'report.html'}")
    return 0


def run_outliers(args, argv, interrupts):
    from . import _data
    from ._ranking import prepared

    kwargs = {} if args.data_dir is None else {"data_dir": args.data_dir}
    try:
        rows = prepared(_data.read(args.source, target=args.label, **kwargs))
    except ValueError as error:
        fail(error)
    out = args.out or new_folder(Path.cwd(), f"outliers-{rows.name}")

    def ranked(staging, command):
        from ._ranking import rank

        ranking = rank(
            rows,
            encoding_dim=args.dim,
            contamination=args.contamination,
            epochs=args.epochs,
            random_state=args.random_state,
            top=args.top,
        )
        ranking.write(staging, command=command)
        return ranking

    ranking = _reports_written(out, argv, ranked, interrupts)
    print(
        f"{ranking!r}\n\nScores: {out / 'scores.csv'}; reports: {out / 'report.md'} and "
        f"{out / 'report.html'}"
    )
    return 0


def _reports_written(out, argv, write, interrupts):
    """``write(staging, command)``'s result, once it has written its reports into a
    staging folder beside ``out`` and they are moved into ``out``; Keras loads, quietly,
    first. A failure is one line on stderr and exit status 2, and an interrupt stops
    the command, with nothing left."""
    staging = _staging_for(out)
    try:
        _quiet_backend()
        command = " ".join([PROG, *(sys.argv[1:] if argv is None else argv)])
        result = write(staging, command)
        interrupts.check()
        _moved_into(staging, out)
    except (ValueError, OSError) as error:
        fail(error)
    finally:
        interrupts.settle()
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _moved_into(staging, out):
    """Move the finished reports from ``staging`` into ``out``, a new or empty folder."""
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise ValueError(f"--out {out} was given files while the command ran.")
    for path in staging.iterdir():
        os.replace(path, out / path.name)


def _planned(data, args, quick):
    """The comparison, checked against the data before anything is fitted."""
    from ._compare import DEFAULT_DIMS, _Comparer

    max_rows = args.max_rows or quick.get("max_rows")
    epochs = args.epochs or quick.get("epochs")
    return _Comparer(
        data,
        args.dims,
        args.test_size,
        epochs,
        max_rows,
        args.random_state,
        1,
        default_dims=quick.get("default_dims", DEFAULT_DIMS),
    )


def new_folder(parent, name):
    """``parent / name``, or ``name-2``, ``name-3``, ... where that exists."""
    candidate, number = parent / name, 1
    while candidate.exists():
        number += 1
        candidate = parent / f"{name}-{number}"
    return candidate


def _staging_for(out):
    """A new temporary folder beside ``out``, after checking ``out`` can take the
    reports: a new or empty folder, under a folder this process can write to."""
    if out.exists() and not out.is_dir():
        fail(f"--out {out} is a file, not a folder.")
    if out.is_dir() and any(out.iterdir()):
        fail(f"--out {out} already holds files: name a new or empty folder.")
    parent = out.absolute()
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        fail(f"cannot write reports to {out}: {parent} is a file, not a folder.")
    try:
        return Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=parent))
    except OSError as error:
        fail(f"cannot write reports to {out}: {error.strerror or error}.")


# The lines TensorFlow's C++ core writes as it starts: "Could not find cuda drivers",
# the oneDNN and CPU-feature notices, a failed cuInit where CUDA is installed.
_START_UP_LINE = re.compile(
    rb"^(?:[IW]\d{4} |WARNING: All log messages before absl|To enable the following"
    rb"|E\d{4} .*(?:cuInit|cuda|CUDA))"
)


def _quiet_backend():
    """Import Keras and start its backend with TensorFlow's start-up lines held back.

    TensorFlow writes them past ``sys.stderr`` and before any logging setting can
    apply. This process is the command's own, so it may hold its stderr while the
    backend loads; any other line written meanwhile is passed on.
    """
    # The INFO lines TensorFlow logs later (XLA's first compile, say) go the same way.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    from ._quiet import lines_held_back

    with lines_held_back(_START_UP_LINE):
        import keras

        from ._backends import to_numpy
        from ._estimators import transformer  # noqa: F401

        # The first operation starts the backend's devices, which logs its own lines.
        to_numpy(keras.ops.zeros(1))


if __name__ == "__main__":
    sys.exit(main())
