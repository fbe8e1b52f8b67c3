"""What repeated fits cost: memory over hundreds of fits, compiling, and XLA on TensorFlow.

Run ``python -m benchmarks.fits``. Three measures, each backend in fresh processes:

- Memory: 300 fits of small estimators (2,000 x 50 float32 rows, 3 epochs) in one
  process, in two orders: always another network (eight networks in turn, more than
  the steps kept for reuse, so that every fit compiles its own) and always the same
  one (a grid search's folds). An estimator fitted before the loop must give the
  same outputs after it. Reported: peak RSS after fits 20, 100, 200 and 300.
- Compiling (TensorFlow and JAX; torch compiles nothing): the seed network
  (784-32-784, sigmoid output, batch 256) fitted for 3 epochs on 60,000 random rows,
  in one process: the first fit compiles its steps, the fastest of three more that
  reuse them is the second. Their difference is what a fit of a new network pays for
  compiling.
- XLA on TensorFlow, side by side in one process: the seed workload's seconds per
  epoch (``(t_10 - t_3) / 7``, fits of 10 and 3 epochs) with full chunks compiled by
  XLA and without, and a denoising fit (masking and gaussian noise, 20,000 rows, 2
  epochs) with and without XLA, which the library leaves off for networks that draw
  noise.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from functools import partial

import numpy as np

from ._report import machine, write_report

BACKENDS = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "torch"}
# The backends that compile a network's steps (torch runs them eagerly).
COMPILING = ("tensorflow", "jax")
CHECKPOINTS = (20, 100, 200, 300)
QUICK_CHECKPOINTS = (10, 40)
MEMORY_BAR_MIB = 60
# How many networks the fits cycle through, by the name of the order.
ORDERS = {"another network each fit": 8, "the same network each fit": 1}
MIB = 2**20


def _peak_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM")


def measure_memory(checkpoints, n_networks):
    """Peak RSS (MiB) after each checkpoint of fits, cycling through ``n_networks``."""
    from sk_autoencoder import AutoencoderTransformer

    X = np.random.default_rng(0).normal(size=(2_000, 50)).astype(np.float32)

    def make(fit):
        return AutoencoderTransformer(
            1 + fit % n_networks, hidden_layer_sizes=(32,), epochs=3, random_state=fit
        )

    kept = make(0).fit(X)
    outputs = (kept.transform(X), kept.score_samples(X))
    peaks = {}
    for fit in range(1, checkpoints[-1] + 1):
        make(fit).fit(X).score(X)
        if fit in checkpoints:
            peaks[fit] = _peak_mib()
    unchanged = all(
        np.array_equal(before, after)
        for before, after in zip(outputs, (kept.transform(X), kept.score_samples(X)), strict=True)
    )
    return {"peaks": peaks, "unchanged": unchanged}


def _seed_estimator(epochs, cls=None, **params):
    from sk_autoencoder import AutoencoderTransformer

    cls = cls or AutoencoderTransformer
    return cls(
        32,
        hidden_layer_sizes=(),
        output_activation="sigmoid",
        batch_size=256,
        epochs=epochs,
        n_iter_no_change=epochs,
        tol=0.0,
        random_state=0,
        **params,
    )


def _seconds(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def measure_compile(n_rows):
    """Seconds of a first 3-epoch fit of the seed network, after a fit of another
    network has set the process up, and of the fastest of three more, which reuse its
    steps: a load on the machine that slows one of them does not pass for compiling."""
    X = np.random.default_rng(0).random((n_rows, 784), dtype=np.float32)
    _seed_estimator(3).set_params(encoding_dim=16).fit(X)
    first = _seconds(lambda: _seed_estimator(3).fit(X))
    second = min(_seconds(lambda: _seed_estimator(3).fit(X)) for _ in range(3))
    return {"first": first, "second": second}


def measure_xla(n_rows, noise_rows, rounds):
    """Seconds per epoch with and without XLA, and denoising fits with and without it."""
    import sk_autoencoder._backends.reuse
    import sk_autoencoder._backends.tensorflow
    import sk_autoencoder._training
    from sk_autoencoder import DenoisingAutoencoderTransformer

    X = np.random.default_rng(0).random((n_rows, 784), dtype=np.float32)
    settings = {"with XLA": 0, "without XLA": 2**62}
    epochs = {name: [] for name in settings}
    for _ in range(rounds):
        for name, threshold in settings.items():
            sk_autoencoder._training.XLA_VALUES = threshold
            _seed_estimator(3).fit(X)  # compiles this setting's steps
            short = _seconds(lambda: _seed_estimator(3).fit(X))
            long = _seconds(lambda: _seed_estimator(10).fit(X))
            epochs[name].append((long - short) / 7)
    noisy, corruption = X[:noise_rows], sk_autoencoder._backends.tensorflow._TrainingCorruption
    denoising = {}
    sk_autoencoder._training.XLA_VALUES = 0
    for noise in ("masking", "gaussian"):
        for name in settings:
            # The steps leave the networks with a corruption layer out of XLA; for this
            # measure only, no layer counts as one.
            no_layer = type("NoLayer", (), {})
            sk_autoencoder._backends.tensorflow._TrainingCorruption = (
                no_layer if name == "with XLA" else corruption
            )
            sk_autoencoder._backends.reuse._POOL.clear()
            estimator = _seed_estimator(2, DenoisingAutoencoderTransformer, noise=noise)
            denoising[f"{noise}, {name}"] = _seconds(partial(estimator.fit, noisy))
    sk_autoencoder._backends.tensorflow._TrainingCorruption = corruption
    return {"epochs": epochs, "denoising": denoising}


def child(args):
    """Run one measure in this process and print it as JSON."""
    warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits, on purpose
    checkpoints = QUICK_CHECKPOINTS if args.quick else CHECKPOINTS
    if args.child == "memory":
        figures = measure_memory(checkpoints, args.networks)
    elif args.child == "compile":
        figures = measure_compile(2_000 if args.quick else 60_000)
    else:
        rows, noise_rows = (3_000, 1_000) if args.quick else (60_000, 20_000)
        figures = measure_xla(rows, noise_rows, 1 if args.quick else 3)
    print(json.dumps(figures))


def run_child(measure, backend, quick, networks=1):
    command = [sys.executable, "-m", "benchmarks.fits", "--child", measure]
    command += ["--networks", str(networks)] + (["--quick"] if quick else [])
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{measure} on {backend} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def memory_section(memory, checkpoints):
    header = [
        "backend",
        "fits",
        *(f"peak RSS after fit {fit} (MiB)" for fit in checkpoints),
        f"growth, fit {checkpoints[0]} to {checkpoints[-1]} (MiB)",
        f"at most {MEMORY_BAR_MIB} MiB",
        "earlier estimator unchanged",
    ]
    rows = []
    for backend, orders in memory.items():
        for order, figures in orders.items():
            peaks = [figures["peaks"][str(fit)] for fit in checkpoints]
            growth = peaks[-1] - peaks[0]
            rows.append(
                [
                    BACKENDS[backend],
                    order,
                    *(f"{peak:.1f}" for peak in peaks),
                    f"{growth:.1f}",
                    "yes" if growth <= MEMORY_BAR_MIB else "no",
                    "yes" if figures["unchanged"] else "no",
                ]
            )
    text = (
        f"{checkpoints[-1]} fits of `AutoencoderTransformer(k, hidden_layer_sizes=(32,), "
        "epochs=3)` on 2,000 x 50 float32 rows in one process (a fresh one for each row "
        "of the table): k cycles through 1 to 8 (another network each fit, more than the "
        "steps kept for reuse, so that every fit compiles anew) or stays 1 (the same "
        "network, as in a grid search's folds). Peak RSS is the process's high-water mark."
    )
    return ("Memory over repeated fits", text, header, rows, "fits-memory")


def compile_section(compiles):
    header = ["backend", "first fit (s)", "second fit (s)", "compiling (s)"]
    rows = [
        [
            BACKENDS[backend],
            f"{figures['first']:.2f}",
            f"{figures['second']:.2f}",
            f"{figures['first'] - figures['second']:.2f}",
        ]
        for backend, figures in compiles.items()
    ]
    text = (
        "The seed network fitted for 3 epochs in one process, after a fit of another "
        "network (a code of 16) that starts the backend up: the first fit compiles its "
        "steps, the second fit is the fastest of three more that reuse them. Compiling is "
        "their difference."
    )
    return ("Compiling a network's steps", text, header, rows, "fits-compile")


def xla_section(xla):
    median = {name: float(np.median(values)) for name, values in xla["epochs"].items()}
    header = ["measure", "with XLA", "without XLA", "ratio"]
    rows = [
        [
            "seed workload, s per epoch (median of rounds)",
            f"{median['with XLA']:.4g}",
            f"{median['without XLA']:.4g}",
            f"{median['with XLA'] / median['without XLA']:.2f}",
        ],
        [
            "each round, s per epoch",
            ", ".join(f"{value:.4g}" for value in xla["epochs"]["with XLA"]),
            ", ".join(f"{value:.4g}" for value in xla["epochs"]["without XLA"]),
            "",
        ],
    ]
    for noise in ("masking", "gaussian"):
        with_xla = xla["denoising"][f"{noise}, with XLA"]
        without = xla["denoising"][f"{noise}, without XLA"]
        rows.append(
            [
                f"denoising fit, {noise} noise (s)",
                f"{with_xla:.4g}",
                f"{without:.4g}",
                f"{with_xla / without:.2f}",
            ]
        )
    text = (
        "TensorFlow only (JAX always compiles with XLA). Ratio: with XLA over without "
        "(below 1: XLA is faster)."
    )
    return ("XLA on TensorFlow", text, header, rows, "fits-xla")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer fits, smaller data")
    parser.add_argument("--out", default="benchmarks/results/fits", help="results folder")
    parser.add_argument("--child", choices=["memory", "compile", "xla"], help=argparse.SUPPRESS)
    parser.add_argument("--networks", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=list(BACKENDS),
        default=list(BACKENDS),
        help="the backends to measure (default: all)",
    )
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return
    checkpoints = QUICK_CHECKPOINTS if args.quick else CHECKPOINTS
    memory = {
        backend: {
            order: run_child("memory", backend, args.quick, networks)
            for order, networks in ORDERS.items()
        }
        for backend in args.backends
    }
    compiles = {
        backend: run_child("compile", backend, args.quick)
        for backend in args.backends
        if backend in COMPILING
    }
    sections = [memory_section(memory, checkpoints)]
    if compiles:
        sections.append(compile_section(compiles))
    if "tensorflow" in args.backends:
        sections.append(xla_section(run_child("xla", "tensorflow", args.quick)))
    command = "python -m benchmarks.fits" + (" --quick" if args.quick else "")
    if args.backends != list(BACKENDS):
        command += f" --backends {' '.join(args.backends)}"
    preamble = f"# Repeated fits\n\nMade by `{command}` on {machine(args.backends)}."
    markdown = write_report(args.out, "fits", preamble, sections)
    print(markdown)


if __name__ == "__main__":
    main()
