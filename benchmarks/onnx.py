"""onnxruntime's inference against ``transform``, for a model converted by skl2onnx.

Run ``python -m benchmarks.onnx``, with the ``onnx`` extra installed. In one process,
on scaled digits (repeated to 60,000 rows), it fits the ready dense and convolutional
networks, converts each with ``skl2onnx.to_onnx`` (``import sk_autoencoder.onnx``
registers the converter), and times an onnxruntime session's ``run`` against
``transform`` at 1, 1,000 and 60,000 rows, with the largest difference between their
codes. It prints ratios, which hold on a noisy machine where absolute times drift, and
writes them to ``--out``.
"""

import argparse
import time
import warnings

import keras
import numpy as np
import onnxruntime
import skl2onnx
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler

import sk_autoencoder.onnx  # noqa: F401  (registers the converter)
from sk_autoencoder import AutoencoderTransformer

from ._report import machine, median_seconds, write_results

ENCODING_DIM = 8
NETWORKS = {
    "dense": {},
    "conv": {"network": "conv", "input_shape": (8, 8)},
}


def compare(estimator, session, rows_for, repeats):
    """``(rows, onnxruntime's seconds, transform's seconds, largest difference)``."""
    input_name = session.get_inputs()[0].name
    for n_rows, times in repeats.items():
        x = rows_for[n_rows]
        ours = median_seconds(lambda x=x: estimator.transform(x), repeats=times)
        runtime = median_seconds(lambda x=x: session.run(None, {input_name: x}), repeats=times)
        (codes,) = session.run(None, {input_name: x})
        error = float(np.abs(codes - estimator.transform(x)).max())
        print(f"  {n_rows:,} rows: onnxruntime / transform {runtime / ours:.3f}", flush=True)
        yield n_rows, runtime, ours, error


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.onnx", description=__doc__)
    parser.add_argument("--out", default="benchmarks/results/onnx", help="folder for the results")
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the tests")
    args = parser.parse_args(argv)
    repeats = {1: 5, 1_000: 3, 60_000: 1} if args.quick else {1: 200, 1_000: 50, 60_000: 5}

    X = MinMaxScaler().fit_transform(load_digits().data).astype(np.float32)
    rows_for = {n: np.resize(X, (n, X.shape[1])) for n in repeats}
    results = []
    for name, network in NETWORKS.items():
        estimator = AutoencoderTransformer(
            ENCODING_DIM, epochs=2 if args.quick else 20, random_state=0, **network
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X)
        start = time.perf_counter()
        onx = skl2onnx.to_onnx(estimator, X[:1])
        convert = time.perf_counter() - start
        session = onnxruntime.InferenceSession(
            onx.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        print(f"{name}: converted in {convert:.1f} s", flush=True)
        results += [
            (name, *measured) for measured in compare(estimator, session, rows_for, repeats)
        ]

    header = [
        "network",
        "rows",
        "onnxruntime (ms)",
        "transform (ms)",
        "ratio",
        "largest difference",
    ]
    rows = [
        [
            name,
            f"{n_rows:,}",
            f"{runtime * 1e3:.4f}",
            f"{ours * 1e3:.4f}",
            f"{runtime / ours:.4f}",
            f"{error:.1e}",
        ]
        for name, n_rows, runtime, ours, error in results
    ]
    preamble = (
        "# onnxruntime against transform\n\n"
        f"Made by `python -m benchmarks.onnx` on {machine()}, onnxruntime "
        f"{onnxruntime.__version__} (CPU).\n"
        f"Digits scaled to [0, 1] and repeated, codes of {ENCODING_DIM}: the ready dense "
        "network and the ready convolutional one (8 x 8 images). Each model is converted by "
        "`skl2onnx.to_onnx` and run by an onnxruntime session; ratio is onnxruntime's time "
        "over `transform`'s (below 1: onnxruntime is faster). Times are medians; the largest "
        "difference is between the two codes."
    )
    table = write_results(args.out, f"onnx-{keras.backend.backend()}", header, rows, preamble)
    print(table)


if __name__ == "__main__":
    main()
