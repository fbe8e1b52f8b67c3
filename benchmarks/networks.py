"""Networks of one's own and the ready convolutional one, against raw Keras.

Run ``python -m benchmarks.networks`` (TensorFlow, the backend for convolutions on a
CPU; Fashion-MNIST must be installed). In one process, round after round, side by side:

- **the ready convolutional autoencoder** (``network="conv"``, ``input_shape=(28, 28,
  1)``, a code of 8, sigmoid output, batch 256) on ``--rows`` training images, trained
  by AutoencoderTransformer and, the same network from the same start, by Keras's
  ``Model.fit``. Both start from random weights and hold no rows out
  (``init="random"``, ``early_stopping=False``): the same work. Seconds per epoch are
  ``(t_E - t_B) / (E - B)`` for fits of ``E`` and ``B`` epochs, the steady cost of an
  epoch without the one-off costs (tracing, compiling) of a fit;
- **transform of 10,000 test images** by that network's encoder: ``transform`` against
  ``encoder.predict`` (at Keras's default batch of 32, and at 1,024), each the median
  of 5 calls after one that compiles;
- **a Dense network of one's own**: builders of benchmarks.speed's seed network
  (784-32-784, relu code, sigmoid output) passed as ``encoder`` and ``decoder``, and the
  ready Dense network of the same shape (``hidden_layer_sizes=()``), each against
  ``Model.fit`` of the same network, on benchmarks.speed's 60,000 random rows.

Each ratio is taken within a round, between figures measured minutes apart; the bars
are held to the median of the rounds' ratios.
"""

import argparse
import os
import statistics
import sys
import time
import warnings

from ._report import machine, median_seconds, write_report

CONV_DIM, CONV_BATCH = 8, 256
TRANSFORM_IMAGES = 10_000
EPOCH_BAR, TRANSFORM_BAR = 1.0, 0.6


def seed_encoder(input_shape, encoding_dim):
    """benchmarks.speed's seed encoder, as a builder of one's own."""
    import keras

    return keras.Sequential(
        [keras.Input(input_shape), keras.layers.Dense(encoding_dim, activation="relu")]
    )


def seed_decoder(input_shape, encoding_dim):
    """benchmarks.speed's seed decoder, as a builder of one's own."""
    import keras

    return keras.Sequential(
        [keras.Input((encoding_dim,)), keras.layers.Dense(input_shape[0], activation="sigmoid")]
    )


def estimator(epochs, batch_size, **params):
    from sk_autoencoder import AutoencoderTransformer

    return AutoencoderTransformer(
        init="random",
        early_stopping=False,
        n_iter_no_change=epochs,  # every epoch runs
        epochs=epochs,
        batch_size=batch_size,
        random_state=0,
        **params,
    )


def keras_twin(network):
    """A model of ``network``'s architecture, compiled as AutoencoderTransformer does."""
    import keras

    model = keras.models.clone_model(network)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    return model


def per_epoch(fit, epochs, base):
    """``(t_E - t_B) / (E - B)`` for ``fit(n_epochs)``."""
    times = {}
    for n_epochs in (base, epochs):
        start = time.perf_counter()
        fit(n_epochs)
        times[n_epochs] = time.perf_counter() - start
    return (times[epochs] - times[base]) / (epochs - base)


def epoch_pair(X, params, batch_size, epochs, base):
    """Seconds per epoch of ``(AutoencoderTransformer, Model.fit)`` of one network."""
    ours = per_epoch(lambda n: estimator(n, batch_size, **params).fit(X), epochs, base)
    network = estimator(1, batch_size, **params).fit(X[:batch_size]).model_

    def raw(n_epochs):
        keras_twin(network).fit(X, X, batch_size=batch_size, epochs=n_epochs, verbose=0)

    return ours, per_epoch(raw, epochs, base)


def transform_times(fitted, X):
    """Seconds of ``transform`` and of ``encoder.predict`` at batches of 32 and 1,024."""
    encoder = fitted.encoder_
    return (
        median_seconds(lambda: fitted.transform(X), repeats=5),
        median_seconds(lambda: encoder.predict(X, verbose=0), repeats=5),
        median_seconds(lambda: encoder.predict(X, batch_size=1024, verbose=0), repeats=5),
    )


def measure_round(images, test_images, seed_rows, args):
    conv = dict(
        encoding_dim=CONV_DIM,
        network="conv",
        input_shape=(28, 28, 1),
        output_activation="sigmoid",
    )
    figures = {}
    figures["conv"] = epoch_pair(images, conv, CONV_BATCH, args.conv_epochs, 1)
    fitted = estimator(1, CONV_BATCH, **conv).fit(images[:2048])
    figures["transform"] = transform_times(fitted, test_images)
    own = dict(encoding_dim=32, encoder=seed_encoder, decoder=seed_decoder)
    ready = dict(encoding_dim=32, hidden_layer_sizes=(), output_activation="sigmoid")
    for name, params in (("own dense", own), ("ready dense", ready)):
        figures[name] = epoch_pair(seed_rows, params, 256, args.dense_epochs, 3)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.networks", description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000, help="training images (%(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (%(default)s)")
    parser.add_argument("--conv-epochs", type=int, default=3, help="E for the conv network")
    parser.add_argument("--dense-epochs", type=int, default=10, help="E for the Dense ones")
    parser.add_argument("--out", default="benchmarks/results/networks", help="results folder")
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the test suite")
    args = parser.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from sklearn.exceptions import ConvergenceWarning

    from ._data import MissingDataError, fashion_mnist
    from .speed import load_data

    try:
        data = fashion_mnist()
    except MissingDataError as error:
        parser.exit(2, f"python -m benchmarks.networks: {error}\n")
    warnings.simplefilter("ignore", ConvergenceWarning)
    n_test, n_seed = (256, 2_048) if args.quick else (TRANSFORM_IMAGES, 60_000)
    if args.quick:
        args.rows, args.rounds, args.conv_epochs, args.dense_epochs = 512, 1, 2, 4
    images, test_images = data.X_train[: args.rows], data.X_test[:n_test]
    seed_rows = load_data("random", n_seed)
    rounds = []
    for round_ in range(args.rounds):
        print(f"round {round_ + 1} of {args.rounds}", flush=True)
        rounds.append(measure_round(images, test_images, seed_rows, args))
    write(rounds, args, len(images), len(test_images), len(seed_rows))


def median_ratio(rounds, name, mine=0, theirs=1):
    return statistics.median(figures[name][mine] / figures[name][theirs] for figures in rounds)


def write(rounds, args, n_images, n_test, n_seed):
    def median(name, index):
        return statistics.median(figures[name][index] for figures in rounds)

    conv_ratio = median_ratio(rounds, "conv")
    transform_ratio = median_ratio(rounds, "transform")
    epoch_rows = [
        [
            name,
            f"{median(name, 0):.3f}",
            f"{median(name, 1):.3f}",
            f"{median_ratio(rounds, name):.3f}",
            f"{EPOCH_BAR:.1f}" if name == "conv" else "",
        ]
        for name in ("conv", "own dense", "ready dense")
    ]
    transform_rows = [
        [
            f"{1e3 * median('transform', 0):.1f}",
            f"{1e3 * median('transform', 1):.1f}",
            f"{1e3 * median('transform', 2):.1f}",
            f"{transform_ratio:.3f}",
            f"{median_ratio(rounds, 'transform', 0, 2):.3f}",
            f"{TRANSFORM_BAR:.1f}",
        ]
    ]
    command = "python -m benchmarks.networks" + " ".join(["", *sys.argv[1:]]).rstrip()
    verdicts = (
        f"Convolutional epoch / Model.fit's: {conv_ratio:.3f} (bar {EPOCH_BAR}: "
        f"{'met' if conv_ratio <= EPOCH_BAR else 'NOT met'}); transform / encoder.predict's: "
        f"{transform_ratio:.3f} (bar {TRANSFORM_BAR}: "
        f"{'met' if transform_ratio <= TRANSFORM_BAR else 'NOT met'})."
    )
    preamble = (
        f"# Networks of one's own and the ready convolutional one, against raw Keras\n\n"
        f"Made by `{command}` on {machine()}, {len(rounds)} rounds; each figure is the "
        "median over the rounds, each ratio the median of the rounds' ratios.\n\n"
        f"{verdicts}"
    )
    text_epochs = (
        f"Seconds per epoch, (t_E - t_B) / (E - B). conv: the ready convolutional network "
        f"on {n_images:,} Fashion-MNIST training images, batch {CONV_BATCH}, E = "
        f"{args.conv_epochs}, B = 1. own dense / ready dense: benchmarks.speed's seed "
        f"network on {n_seed:,} random rows, batch 256, E = {args.dense_epochs}, B = 3, "
        "built by builders of one's own or by hidden_layer_sizes=()."
    )
    text_transform = (
        f"Milliseconds to encode {n_test:,} Fashion-MNIST test images with the "
        "convolutional encoder, median of 5 calls after one that compiles."
    )
    report = write_report(
        args.out,
        "networks",
        preamble,
        [
            (
                "Training",
                text_epochs,
                ["network", "AutoencoderTransformer (s)", "Model.fit (s)", "ratio", "bar"],
                epoch_rows,
                "epochs",
            ),
            (
                "Inference",
                text_transform,
                [
                    "transform (ms)",
                    "encoder.predict (ms)",
                    "encoder.predict, batch 1,024 (ms)",
                    "ratio to predict",
                    "ratio to predict at 1,024",
                    "bar",
                ],
                transform_rows,
                "transform",
            ),
        ],
    )
    print(report)


if __name__ == "__main__":
    main()
