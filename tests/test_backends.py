"""Keras's three backends: the package that holds what differs between them, torch's
global state and repeatability, and saved files that cross from any backend to another.

The tests that run torch start their own processes (KERAS_BACKEND is read once, when
Keras is first imported): they run whatever backend the suite itself runs on.
"""

import ast
import importlib.util
import json
import pathlib
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_allclose

import sk_autoencoder
from sk_autoencoder._backends import BACKENDS

from .test_base import run_python

PACKAGE = pathlib.Path(sk_autoencoder.__file__).parent
# Each backend's framework, by the module of the backend package that may import it.
FRAMEWORKS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
# What would change a process's global state: the library never calls these.
GLOBAL_SETTERS = {
    "manual_seed",
    "set_num_threads",
    "set_num_interop_threads",
    "set_random_seed",
    "use_deterministic_algorithms",
    "enable_op_determinism",
    "set_default_dtype",
    "set_floatx",
}

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="torch is not installed (pip install -e '.[test]' installs it)",
)


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path):
    """The modules ``path`` imports (absolute names, relative ones resolved), with the
    line of each, in functions too."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(base, node.lineno)]
            # "from . import active" names a module or an attribute of the package.
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def package_modules():
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def test_frameworks_are_imported_by_their_backend_module_alone():
    for name, path in package_modules().items():
        for imported, line in imports_of(path):
            top = imported.split(".")[0]
            if top in FRAMEWORKS:
                assert name == f"sk_autoencoder._backends.{FRAMEWORKS[top]}", (
                    f"{name} imports {imported} (line {line})"
                )


def test_the_library_never_sets_global_state():
    for name, path in package_modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                assert node.attr not in GLOBAL_SETTERS, f"{name} calls {node.attr}"


def test_the_backend_package_has_no_import_cycle():
    modules = package_modules()
    graph = {
        name: {imported for imported, _ in imports_of(path) if imported in modules} - {name}
        for name, path in modules.items()
    }
    assert graph["sk_autoencoder._backends.base"] & set(modules) <= {
        "sk_autoencoder._backends",
        "sk_autoencoder._io.pages",
        "sk_autoencoder._network",
        "sk_autoencoder._quiet",
    }
    # From any module of the package, no chain of imports leads back to it (the package
    # itself aside, whose names load their modules on first use).
    graph = {name: imported - {"sk_autoencoder"} for name, imported in graph.items()}
    inside = [name for name in modules if name.startswith("sk_autoencoder._backends")]

    def visit(name, path):
        assert name not in path, " -> ".join([*path, name])
        for imported in sorted(graph[name]):
            visit(imported, [*path, name])

    for name in inside:
        visit(name, [])


def test_importing_the_package_loads_no_backend():
    # The public names load their modules on first use (the command's --help too:
    # test_cli).
    code = "import sys, sk_autoencoder; print(sorted({'keras', %s} & set(sys.modules)))"
    frameworks = ", ".join(repr(name) for name in FRAMEWORKS)
    assert run_python(code % frameworks).stdout.strip() == "[]"


# Fits twice with one random_state on torch, a network of each kind, and prints whether
# the fits repeat bit for bit and whether torch's global state came through unchanged.
TORCH_STATE = """
    import json, random, sys, warnings
    import keras
    import numpy as np
    import torch

    def global_state():
        return [
            torch.get_rng_state().tolist(),
            torch.get_num_threads(),
            torch.get_num_interop_threads(),
            torch.is_grad_enabled(),
            torch.are_deterministic_algorithms_enabled(),
            str(torch.get_default_dtype()),
            random.getstate()[1][:8],
            np.random.get_state()[1][:8].tolist(),
        ]

    # Keras, once imported, has set up what it sets up (it imports JAX where it can).
    keras.ops.ones(1)
    before, frameworks = global_state(), {"tensorflow", "jax"} & set(sys.modules)
    from sk_autoencoder import (
        AutoencoderOutlierDetector, AutoencoderTransformer, DenoisingAutoencoderTransformer
    )

    warnings.simplefilter("ignore")  # ConvergenceWarning: short fits
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3)) @ rng.normal(size=(3, 16)) + 0.1 * rng.normal(size=(90, 16))
    images = rng.random((40, 16))
    cases = {
        "dense": (AutoencoderTransformer, dict(hidden_layer_sizes=(8,)), X),
        "early stopping": (AutoencoderTransformer, dict(early_stopping=True), X),
        "denoising": (DenoisingAutoencoderTransformer, dict(noise="masking"), X),
        "outliers": (AutoencoderOutlierDetector, dict(robust=True, contamination=0.1), X),
        "conv": (
            AutoencoderTransformer, dict(network="conv", input_shape=(4, 4)), images
        ),
    }
    repeats = {}
    for name, (cls, params, data) in cases.items():
        first, second = (
            cls(2, epochs=4, batch_size=16, random_state=0, **params).fit(data)
            for _ in range(2)
        )
        method = "score_samples" if name == "outliers" else "transform"
        same = np.array_equal(getattr(first, method)(data), getattr(second, method)(data))
        repeats[name] = same and first.loss_curve_ == second.loss_curve_
    print(json.dumps({
        "repeats": repeats,
        "state unchanged": global_state() == before,
        "frameworks imported": sorted({"tensorflow", "jax"} & set(sys.modules) - frameworks),
    }))
"""


@needs_torch
@pytest.mark.each_backend
def test_torch_repeats_bit_for_bit_and_leaves_global_state_alone():
    result = json.loads(run_python(TORCH_STATE, KERAS_BACKEND="torch").stdout)
    assert result["repeats"] == dict.fromkeys(result["repeats"], True)
    assert len(result["repeats"]) == 5
    assert result["state unchanged"]
    assert result["frameworks imported"] == []


# Fits each case on torch twice, once as training runs and once with every update left
# to Keras's optimizer.apply, and prints how far apart the two fits end, relative to the
# codes' largest value and to each epoch's loss.
TORCH_ADAM = """
    import json, warnings
    import numpy as np
    from sk_autoencoder import AutoencoderTransformer
    from sk_autoencoder._backends import torch as backend

    warnings.simplefilter("ignore")  # ConvergenceWarning: short fits
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3)) @ rng.normal(size=(3, 16)) + 0.1 * rng.normal(size=(90, 16))
    fused, took_fused = backend._fused_adam, []

    def recorded(optimizer, weights):
        update = fused(optimizer, weights)
        took_fused.append(update is not None)
        return update

    cases = {
        "adam": dict(hidden_layer_sizes=(8,)),
        "adam, conv": dict(network="conv", input_shape=(4, 4)),
        "adamw": dict(hidden_layer_sizes=(8,), optimizer="adamw"),
        "rmsprop": dict(hidden_layer_sizes=(8,), optimizer="rmsprop"),
    }
    report = {}
    for name, params in cases.items():
        fits = []
        for update in (recorded, lambda optimizer, weights: None):
            backend._fused_adam, took_fused[:] = update, []
            estimator = AutoencoderTransformer(
                2, epochs=6, batch_size=16, random_state=0, init="random", **params
            ).fit(X)
            estimator.partial_fit(X)
            fits.append(estimator)
            if update is recorded:
                report[name] = {"fused": all(took_fused) and bool(took_fused)}
        fast, keras = fits
        codes, curve = fast.transform(X), np.array(fast.loss_curve_)
        report[name].update(
            codes=float(np.max(np.abs(codes - keras.transform(X))) / np.max(np.abs(codes))),
            losses=float(np.max(np.abs(curve - keras.loss_curve_) / curve)),
            steps=[int(fit.model_.optimizer.iterations) for fit in fits],
        )
    print(json.dumps(report))
"""


@needs_torch
@pytest.mark.each_backend
def test_torch_fused_adam_is_keras_adam():
    report = json.loads(run_python(TORCH_ADAM, KERAS_BACKEND="torch").stdout)
    assert {name: case["fused"] for name, case in report.items()} == {
        "adam": True,
        "adam, conv": True,
        "adamw": False,
        "rmsprop": False,
    }
    for name, case in report.items():
        # The same update in another order of float32 operations: apart by rounding,
        # grown over the fit's steps (a wrong update is apart by the codes' size).
        assert case["codes"] < 1e-3 and case["losses"] < 1e-4, (name, case)
        first, second = case["steps"]
        assert first == second > 6, (name, case)


def test_torch_refuses_a_keras_distribution(monkeypatch):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    from sk_autoencoder._backends.torch import BACKEND

    monkeypatch.setattr("keras.distribution.distribution", lambda: object())
    with pytest.raises(ValueError, match="JAX and TensorFlow backends, not on torch"):
        BACKEND.in_distributed_scope()


# Loads every saved file of another backend found in the folder (writing its codes),
# then fits and saves its own, dense and convolutional, unless there already.
CROSSING = """
    import pathlib, warnings
    import keras
    import numpy as np
    import sk_autoencoder
    from sk_autoencoder import AutoencoderTransformer

    warnings.simplefilter("ignore")  # ConvergenceWarning: short fits
    folder, backend = pathlib.Path({folder!r}), keras.backend.backend()
    rng = np.random.default_rng(0)
    data = {{"dense": rng.random((60, 16)), "conv": rng.random((60, 16))}}
    params = {{
        "dense": dict(hidden_layer_sizes=(8,)),
        "conv": dict(network="conv", input_shape=(4, 4)),
    }}
    for path in sorted(folder.glob("*.skae")):
        saved_on, network = path.stem.split("-")
        if saved_on != backend:
            codes = sk_autoencoder.load(path).transform(data[network])
            np.save(folder / f"{{saved_on}}-{{network}}-on-{{backend}}.npy", codes)
    for network, X in data.items():
        path = folder / f"{{backend}}-{{network}}.skae"
        if not path.exists():
            estimator = AutoencoderTransformer(2, epochs=3, random_state=0, **params[network])
            estimator.fit(X).save(path)
            np.save(folder / f"{{backend}}-{{network}}.npy", estimator.transform(X))
"""


@needs_torch
@pytest.mark.slow
@pytest.mark.each_backend
def test_files_saved_on_each_backend_load_on_the_other_two(tmp_path):
    # In this order, each backend loads the files of the two others.
    for backend in ("tensorflow", "jax", "torch", "tensorflow", "jax"):
        run_python(textwrap.dedent(CROSSING).format(folder=str(tmp_path)), KERAS_BACKEND=backend)
    pairs = 0
    for saved_on in BACKENDS:
        for loaded_on in set(BACKENDS) - {saved_on}:
            for network in ("dense", "conv"):
                saved = np.load(tmp_path / f"{saved_on}-{network}.npy")
                loaded = np.load(tmp_path / f"{saved_on}-{network}-on-{loaded_on}.npy")
                assert_allclose(loaded, saved, rtol=1e-5, atol=1e-5, err_msg=saved_on)
                pairs += 1
    assert pairs == 12
