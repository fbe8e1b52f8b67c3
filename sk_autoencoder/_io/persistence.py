"""Saving an estimator to one file that loads no code: ``est.save(path)`` / ``load(path)``.

The file is a zip archive of these members:

- ``estimator.json``: the format's name and version, the class, the parameters, the
  fitted attributes (arrays, tuples and numbers in plain JSON) and the size of every
  other member;
- ``model.keras``: the Keras model (weights, and the optimizer's state) in Keras's own
  ``.keras`` format, loaded back with ``safe_mode=True`` so that no Python code in the
  file (a ``Lambda`` layer's, say) ever runs.

An ``encoder`` or ``decoder`` parameter that is a Keras model is kept as one more
``.keras`` member, loaded the same way. One that is a builder function is kept by the
name Keras registered it under (``keras.saving.register_keras_serializable``), and a
``functools.partial`` of one with its arguments: loading looks the name up among the
functions registered in the loading process, as Keras's safe mode does for layers, and
imports or runs nothing the file names.

Saving is atomic: the archive is written to a temporary folder beside the target,
synced to disk and renamed over the target, so that a save cut short (killed, Ctrl-C, a
full disk) leaves the previous file as it was. Loading trusts nothing in the file: it
reads only the members the header declares, each streamed against the size the header
declares, bounds the header's size and nesting, checks every value against the model,
and answers anything else with a ``ValueError`` that names the file.

Pickle, by contrast, runs whatever code the file names when it loads: load a pickle only
when you wrote it yourself.
"""

import contextlib
import functools
import glob
import json
import math
import os
import re
import shutil
import tempfile
import zipfile
from numbers import Integral, Real
from pathlib import Path

import keras
import numpy as np

FORMAT = "sk_autoencoder estimator"
# Version 2 declares each member's size in the header; version 1 files still load.
FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_JSON_MEMBER, _MODEL_MEMBER = "estimator.json", "model.keras"
_DOCUMENT_KEYS = {
    "format",
    "format_version",
    "sk_autoencoder_version",
    "keras_version",
    "class",
    "params",
    "fitted",
    "private",
    "members",
}
# The header is JSON of parameters, loss curves and feature names: far below these.
_MAX_HEADER_BYTES = 16 * 2**20
_MAX_NESTING = 32
# Members are streamed to disk in blocks of this size, never read whole into memory.
_BLOCK_BYTES = 2**20
# Attributes held by the Keras model rather than in the JSON.
_MODEL_ATTRIBUTES = ("model_", "encoder_", "decoder_")
# Private state that scikit-learn keeps on an estimator and a round trip must keep.
_PRIVATE_STATE = ("_sklearn_output_config",)
_OUTPUT_SETTINGS = {"default", "pandas", "polars"}
# The parameters that may hold a user's network: a Keras model or a builder.
NETWORK_PARAMS = ("encoder", "decoder")
# What the members of a ``.keras`` file may be called: Keras's own layout.
_KERAS_MEMBER = re.compile(r"(metadata\.json|config\.json|model\.weights\.(h5|npz)|assets/.*)")


def _registered_name(function, name):
    """The name Keras registered ``function`` under; ``TypeError`` if it is not."""
    registered = keras.saving.get_registered_name(function)
    if keras.saving.get_registered_object(registered) is not function:
        raise TypeError(
            f"{name}={function!r} cannot be saved in the safe format: register the "
            "function with @keras.saving.register_keras_serializable(), so that load "
            "finds it by name, or pickle the estimator instead."
        )
    return registered


def _network_to_json(value, name, members):
    """A network parameter as JSON; a model goes into ``members`` (name -> model)."""
    if value is None:
        return None
    if isinstance(value, keras.Model):
        members[f"{name}.keras"] = value
        return {"keras_model": f"{name}.keras"}
    if isinstance(value, functools.partial):
        return {
            "partial": _registered_name(value.func, name),
            "args": _to_json(list(value.args), name),
            "keywords": _to_json(dict(value.keywords), name),
        }
    return {"registered": _registered_name(value, name)}


def _network_from_json(value, name, model_files):
    """A network parameter from its JSON; ``model_files`` maps members to their files."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{name} is {value!r}, not a network")
    if value.keys() == {"keras_model"}:
        if value["keras_model"] != f"{name}.keras" or value["keras_model"] not in model_files:
            raise ValueError(f"{name} names the member {value['keras_model']!r}")
        return load_keras_file(model_files[value["keras_model"]])
    if value.keys() not in ({"registered"}, {"partial", "args", "keywords"}):
        raise ValueError(f"{name} is {sorted(value)}, not a network")
    registered = value.get("partial", value.get("registered"))
    function = keras.saving.get_registered_object(registered) if type(registered) is str else None
    if function is None:
        raise ValueError(
            f"it names the builder {registered!r}, which is not registered in this "
            "process: import the module that registers it before loading"
        )
    if "partial" not in value:
        return function
    args, keywords = _from_json(value["args"]), _from_json(value["keywords"])
    if not isinstance(args, list) or not isinstance(keywords, dict):
        raise ValueError(f"{name}'s arguments are not a list and a dict")
    return functools.partial(function, *args, **keywords)


def network_state(value, name):
    """A model (or network parameter) as ``__getstate__`` keeps it for skops: a Keras
    model as its ``.keras`` bytes, a registered builder by its registered name (plain
    values, which skops trusts); anything else as it is."""
    if isinstance(value, keras.Model):
        return keras_bytes(value)
    if callable(value):
        with contextlib.suppress(TypeError):
            return _network_to_json(value, name, {})
    return value


def network_from_state(value, name):
    """The inverse of :func:`network_state`; a model is loaded in safe mode."""
    if isinstance(value, bytes):
        try:
            return model_from_bytes(value)
        except ValueError as error:
            raise ValueError(f"its {name} cannot be loaded ({error})") from error
    if isinstance(value, dict):
        return _network_from_json(value, name, {})
    return value


def keras_bytes(model):
    """The bytes of ``model``'s ``.keras`` file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / _MODEL_MEMBER
        model.save(path)
        return path.read_bytes()


def model_from_bytes(data):
    """A Keras model from the bytes of a ``.keras`` file, checked as :func:`load` checks."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / _MODEL_MEMBER
        path.write_bytes(data)
        return load_keras_file(path)


def load_keras_file(path):
    """A Keras model from a ``.keras`` file, in safe mode, its weights finite.

    The file's members are checked first: Keras's own names only, stored or deflated,
    declaring no more bytes than the file holds, so that reading them is bounded.
    Raises ``ValueError`` for anything Keras cannot load.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except Exception as error:
        raise ValueError(f"a .keras member is not a zip archive: {error}") from error
    size = Path(path).stat().st_size
    for info in infos:
        if not _KERAS_MEMBER.fullmatch(info.filename):
            raise ValueError(f"a .keras member holds an unexpected file {info.filename!r}")
        _check_compression(info)
    if sum(info.file_size for info in infos) > 2 * size + _BLOCK_BYTES:
        raise ValueError("a .keras member declares more bytes than it can hold")
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # Keras raises many kinds; all mean "not loadable".
        raise ValueError(f"it holds a Keras model that cannot be loaded: {error}") from error
    if not isinstance(model, keras.Model):
        raise ValueError(f"a .keras member holds a {type(model).__name__}, not a model")
    for weight, values in zip(model.weights, model.get_weights(), strict=True):
        if not np.all(np.isfinite(values)):
            raise ValueError(f"the model's weight {weight.path!r} is not finite")
    return model


def _check_compression(info):
    """Refuse a member that is encrypted or compressed other than as zip's own deflate."""
    if info.flag_bits & 0x1:
        raise ValueError(f"its member {info.filename!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ValueError(f"its member {info.filename!r} uses compression {info.compress_type}")


def _is_fitted_attribute(name):
    """Whether ``name`` is a fitted attribute kept in the JSON (not in the Keras model)."""
    return name.endswith("_") and not name.startswith("_") and name not in _MODEL_ATTRIBUTES


def _to_json(value, name):
    """``value`` as plain JSON, with tuples and arrays tagged so they come back as such."""
    if isinstance(value, tuple):
        return {"tuple": [_to_json(item, name) for item in value]}
    if isinstance(value, list):
        return [_to_json(item, name) for item in value]
    if isinstance(value, dict):
        return {"dict": {key: _to_json(item, name) for key, item in value.items()}}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufUO":
            raise TypeError(f"{name} holds an array of dtype {value.dtype}, which JSON cannot.")
        return {"array": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(
        f"{name}={value!r} cannot be saved in the safe format. Pass a plain value (for "
        "random_state, an int or None), or pickle the estimator instead."
    )


def _from_json(value):
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    if isinstance(value, dict):
        if value.keys() == {"tuple"} and isinstance(value["tuple"], list):
            return tuple(_from_json(item) for item in value["tuple"])
        if value.keys() == {"dict"} and isinstance(value["dict"], dict):
            return {key: _from_json(item) for key, item in value["dict"].items()}
        if value.keys() == {"array", "dtype"}:
            return _array_from_json(value["array"], value["dtype"])
        raise ValueError(f"unexpected object {sorted(value)} in the JSON")
    return value


def _array_from_json(values, dtype):
    """An array of a plain dtype; strings take the width of their longest value."""
    try:
        dtype = np.dtype(dtype) if type(dtype) is str else None
        plain = dtype is not None and (
            dtype.kind in "UO" or (dtype.kind in "biuf" and dtype.itemsize <= 8)
        )
        if not plain or not isinstance(values, list):
            raise ValueError
        array = np.array(values, dtype=None if dtype.kind == "U" else dtype)
    except (TypeError, ValueError):
        raise ValueError(f"an array of dtype {dtype!r} is not one save writes") from None
    if array.dtype.kind != dtype.kind and array.size:
        raise ValueError(f"an array of dtype {dtype} holds values of another kind")
    return array


# Saving.


def save(estimator, path):
    """Write ``estimator`` (fitted or not) to ``path`` atomically; see the module's docstring."""
    document, models = _document(estimator)
    path = Path(path)
    with _staging_folder(path) as folder:
        for member, model in models.items():
            model.save(folder / member)
        document["members"] = {member: (folder / member).stat().st_size for member in models}
        archive_path = folder / "archive"
        with open(archive_path, "wb") as stream:
            with zipfile.ZipFile(stream, "w") as archive:
                archive.writestr(
                    _JSON_MEMBER, json.dumps(document, indent=1), zipfile.ZIP_DEFLATED
                )
                # A .keras file is a zip of weights that deflate poorly: stored as it is.
                for member in models:
                    archive.write(folder / member, member, zipfile.ZIP_STORED)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(archive_path, path)
        _sync_folder(path.parent)


def _document(estimator):
    """The JSON header of ``estimator``'s archive, and its models by member name."""
    from .. import __version__

    fitted = {
        name: _to_json(value, name)
        for name, value in vars(estimator).items()
        if _is_fitted_attribute(name)
    }
    private = {
        name: _to_json(value, name)
        for name, value in vars(estimator).items()
        if name in _PRIVATE_STATE
    }
    models = {}
    params = {
        name: _network_to_json(value, name, models)
        if name in NETWORK_PARAMS
        else _to_json(value, name)
        for name, value in estimator.get_params(deep=False).items()
    }
    if hasattr(estimator, "model_"):
        models[_MODEL_MEMBER] = estimator.model_
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sk_autoencoder_version": __version__,
        "keras_version": keras.__version__,
        "class": type(estimator).__name__,
        "params": params,
        "fitted": fitted if hasattr(estimator, "model_") else None,
        "private": private,
    }
    return document, models


@contextlib.contextmanager
def _staging_folder(path):
    """A new folder beside ``path`` for one save, removed however the save ends.

    Its name carries this process's id, so that a later save removes the folder of a
    save that was killed, and never one that is still running.
    """
    parent = path.absolute().parent
    for leftover in parent.glob(f".{glob.escape(path.name)}.*.saving"):
        pid = leftover.name.rsplit(".", 3)[-3]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)
    folder = Path(
        tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".saving", dir=parent)
    )
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sync_folder(folder):
    """Make a rename in ``folder`` durable, where the system allows opening a folder."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


# Loading.


def load(path):
    """Load an estimator written by ``save``; no code from the file is run.

    Parameters
    ----------
    path : str or path-like
        A file written by :meth:`AutoencoderTransformer.save`.

    Returns
    -------
    estimator : AutoencoderTransformer or DenoisingAutoencoderTransformer
        The estimator as it was saved, fitted or not.

    Raises
    ------
    ValueError
        If the file is not such a file, was written in a format this version cannot
        read, is damaged, or holds values that contradict each other or the model.
    """
    with tempfile.TemporaryDirectory() as folder:
        try:
            document, model_files = _read_archive(path, Path(folder))
            return _estimator(document, model_files)
        except ValueError as error:
            raise ValueError(f"{path} cannot be loaded: {error}") from error
        except (TypeError, KeyError, AttributeError, IndexError) as error:
            # A header of the right layout whose values are of the wrong kinds.
            raise ValueError(f"{path} holds invalid estimator data: {error!r}") from error


def _read_archive(path, folder):
    """The header, and the model members streamed into ``folder``, each bounded."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            if len(infos) != len(archive.infolist()):
                raise ValueError("it holds two members of the same name")
            if _JSON_MEMBER not in infos:
                raise ValueError(f"it holds no {_JSON_MEMBER}")
            header = _read_member(archive, infos[_JSON_MEMBER], _MAX_HEADER_BYTES)
            document = _checked_document(_parsed_header(header))
            sizes = _declared_members(document, infos)
            if set(infos) != {_JSON_MEMBER, *sizes}:
                unexpected = sorted(set(infos) - {_JSON_MEMBER, *sizes})
                raise ValueError(f"it holds members it does not declare: {unexpected}")
            model_files = {}
            for member, size in sizes.items():
                model_files[member] = folder / member
                with open(model_files[member], "wb") as stream:
                    _read_member(archive, infos[member], size, stream)
    except ValueError:
        raise
    except Exception as error:  # zipfile, zlib and the system raise many kinds
        raise ValueError(
            f"it is not a file written by sk_autoencoder's save, or it is damaged: {error}"
        ) from error
    return document, model_files


def _read_member(archive, info, limit, stream=None):
    """A member's bytes (or written to ``stream``), refused past ``limit`` bytes."""
    _check_compression(info)
    too_large = f"its member {info.filename!r} holds more than {limit} bytes"
    if info.file_size > limit:
        raise ValueError(too_large)
    read, blocks = 0, []
    with archive.open(info) as member:
        while block := member.read(_BLOCK_BYTES):
            read += len(block)
            if read > limit:
                raise ValueError(too_large)
            if stream is None:
                blocks.append(block)
            else:
                stream.write(block)
    return b"".join(blocks)


def _parsed_header(header):
    """The header's JSON, its nesting bounded before it is parsed."""
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"its {_JSON_MEMBER} is not UTF-8 text") from error
    if _nesting(text) > _MAX_NESTING:
        raise ValueError(f"its {_JSON_MEMBER} nests deeper than {_MAX_NESTING} levels")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"its {_JSON_MEMBER} is not JSON: {error}") from error


def _nesting(text):
    """How deep the brackets of JSON ``text`` nest, strings left out."""
    brackets = re.sub(r'"(?:[^"\\]|\\.)*"', "", text)
    codes = np.frombuffer(brackets.encode(), dtype=np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int64)
    steps -= np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def _checked_document(document):
    """The header, its format, version and layout checked."""
    from .. import __version__

    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("it is not a file written by sk_autoencoder's save.")
    version = document.get("format_version")
    if version not in _READABLE_VERSIONS or type(version) is not int:
        raise ValueError(
            f"it was written in format version {version!r} by sk_autoencoder "
            f"{document.get('sk_autoencoder_version')}; this sk_autoencoder ({__version__}) "
            f"reads format versions {', '.join(map(str, _READABLE_VERSIONS))}. Load it with "
            "the version that wrote it, or refit."
        )
    if type(document.get("class")) is not str:
        raise ValueError(f"its header names the class {document.get('class')!r}")
    missing = _DOCUMENT_KEYS - {"members"} - set(document)
    if missing or not set(document) <= _DOCUMENT_KEYS:
        raise ValueError(f"its header has the entries {sorted(document)}")
    for name, kind in (("params", dict), ("fitted", dict | None), ("private", dict)):
        if not isinstance(document[name], kind):
            raise ValueError(f"its header's {name!r} is a {type(document[name]).__name__}")
    return document


def _declared_members(document, infos):
    """The model members the header declares, with their sizes in bytes."""
    needed = [
        value["keras_model"]
        for name in NETWORK_PARAMS
        if isinstance(value := document["params"].get(name), dict) and "keras_model" in value
    ]
    if document["fitted"] is not None:
        needed.append(_MODEL_MEMBER)
    if "members" not in document:  # format version 1: the zip's sizes
        return {member: infos[member].file_size for member in needed if member in infos}
    sizes = document["members"]
    if not isinstance(sizes, dict) or sorted(sizes) != sorted(needed):
        raise ValueError(f"its header declares the members {sizes!r}")
    for member, size in sizes.items():
        if type(size) is not int or size < 0:
            raise ValueError(f"its header declares {size!r} bytes for {member!r}")
    return sizes


def _estimator(document, model_files):
    """The estimator the checked header describes, with its models loaded."""
    cls = _estimator_class(document["class"])
    if cls is None:
        raise ValueError(f"it names an unknown estimator class {document['class']!r}.")
    try:
        params = {
            name: _network_from_json(value, name, model_files)
            if name in NETWORK_PARAMS
            else _from_json(value)
            for name, value in document["params"].items()
        }
        estimator = cls(**params)
        estimator._validate_params()
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"it holds invalid estimator data: {error}") from error
    vars(estimator).update(_checked_private(document["private"]))
    if document["fitted"] is None:
        return estimator
    state = _checked_fitted(document["fitted"], cls)
    if _MODEL_MEMBER not in model_files:
        raise ValueError("it records a fitted estimator but holds no model.")
    model = load_keras_file(model_files[_MODEL_MEMBER])
    attach_model(estimator, model, state)
    return estimator


def _estimator_class(name):
    """The estimator class a file names, from the package's registry; None if unknown."""
    import sk_autoencoder

    if not isinstance(name, str) or name not in sk_autoencoder._ESTIMATORS:
        return None
    return getattr(sk_autoencoder, name)


def _checked_private(private):
    state = {name: _from_json(value) for name, value in private.items()}
    if not set(state) <= set(_PRIVATE_STATE):
        raise ValueError(f"it holds unexpected private state {sorted(state)}")
    output = state.get("_sklearn_output_config", {})
    if not isinstance(output, dict) or not all(
        key == "transform" and value in _OUTPUT_SETTINGS for key, value in output.items()
    ):
        raise ValueError(f"it holds an unknown output setting {output!r}")
    return state


def _is_count(value, low=0):
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= low


def _is_finite_float(value):
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_finite_floats(value, ndim):
    return (
        isinstance(value, np.ndarray)
        and value.dtype.kind == "f"
        and value.ndim == ndim
        and value.size > 0
        and bool(np.all(np.isfinite(value)))
    )


def _is_curve(value, length):
    return (
        isinstance(value, list)
        and len(value) == length
        and all(isinstance(item, Real) and not isinstance(item, bool) for item in value)
    )


def _checked_fitted(fitted, cls):
    """The fitted attributes of a ``cls``, each checked for its type and against the
    others; ``cls._own_fitted_attributes`` names its own, each a count, a finite or a
    positive float, or a finite float vector, or a square matrix whose side is the
    vectors' length."""
    state = {name: _from_json(value) for name, value in fitted.items()}
    own = getattr(cls, "_own_fitted_attributes", {})
    required = {"n_features_in_", "loss_curve_", "n_iter_", "best_epoch_", "pca_kept_", *own}
    known = {*required, "validation_loss_curve_", "selection_", "feature_names_in_"}
    if not required <= set(state) <= known:
        raise ValueError(f"it holds unexpected fitted attributes {sorted(state)}")
    n_iter, n_features = state["n_iter_"], state["n_features_in_"]
    # In this order: each check may rely on those before it.
    checks = {
        "n_features_in_": lambda: _is_count(n_features, 1),
        "n_iter_": lambda: _is_count(n_iter),
        "best_epoch_": lambda: _is_count(state["best_epoch_"]) and state["best_epoch_"] <= n_iter,
        "pca_kept_": lambda: type(state["pca_kept_"]) is bool,
        "loss_curve_": lambda: _is_curve(state["loss_curve_"], n_iter),
        "validation_loss_curve_": lambda: (
            state.get("validation_loss_curve_") is None
            or _is_curve(state["validation_loss_curve_"], n_iter)
        ),
        "selection_": lambda: (
            state.get("selection_") is None
            or (
                isinstance(state["selection_"], dict)
                and all(
                    isinstance(value, str | Real | None) for value in state["selection_"].values()
                )
            )
        ),
        "feature_names_in_": lambda: (
            "feature_names_in_" not in state
            or (
                isinstance(names := state["feature_names_in_"], np.ndarray)
                and names.shape == (n_features,)
                and all(isinstance(name, str) for name in names)
            )
        ),
    }
    vectors = [state[name] for name, kind in own.items() if kind == "vector"]
    kinds = {
        "count": _is_count,
        "finite": _is_finite_float,
        "positive": lambda value: _is_finite_float(value) and value > 0,
        "vector": lambda value: _is_finite_floats(value, 1),
        "square": lambda value: (
            _is_finite_floats(value, 2)
            and all(value.shape == (len(vector), len(vector)) for vector in vectors)
            and value.shape[0] == value.shape[1]
        ),
    }
    for name, kind in own.items():
        checks[name] = lambda name=name, kind=kind: kinds[kind](state[name])
    for name, holds in checks.items():
        if not holds():
            raise ValueError(f"its fitted attribute {name}={state.get(name)!r} is not valid")
    return state


def attach_model(estimator, model, state):
    """Give ``estimator`` its fitted ``state`` and ``model``, after checking they agree."""
    from .._network import split_autoencoder

    try:
        encoder, decoder = split_autoencoder(model)
    except ValueError as error:
        raise ValueError(f"its model is not an encoder and a decoder: {error}") from error
    n_features = state.get("n_features_in_", getattr(estimator, "n_features_in_", None))
    encoding_dim = estimator.encoding_dim
    if encoder.input_shape[-1] != n_features or encoder.output_shape[-1] != encoding_dim:
        raise ValueError(
            f"it holds a model of {encoder.input_shape[-1]} inputs and codes of "
            f"{encoder.output_shape[-1]} values, but records n_features_in_={n_features} and "
            f"encoding_dim={encoding_dim}."
        )
    for name, kind in getattr(type(estimator), "_own_fitted_attributes", {}).items():
        if kind == "vector" and name in state and len(state[name]) != encoding_dim:
            raise ValueError(
                f"its fitted attribute {name} holds {len(state[name])} values, but it "
                f"records encoding_dim={encoding_dim}."
            )
    vars(estimator).update(state)
    estimator.model_, estimator.encoder_, estimator.decoder_ = model, encoder, decoder
