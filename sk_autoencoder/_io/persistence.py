"""Saving an estimator to one file that loads no code: ``est.save(path)`` / ``load(path)``.

The file is a zip archive of these members:

- ``estimator.json``: the format's name and version, the class, the parameters and
  the fitted attributes (arrays, tuples and numbers in plain JSON);
- ``model.keras``: the Keras model (weights, and the optimizer's state) in Keras's own
  ``.keras`` format, loaded back with ``safe_mode=True`` so that no Python code in the
  file (a ``Lambda`` layer's, say) ever runs.

An ``encoder`` or ``decoder`` parameter that is a Keras model is kept as one more
``.keras`` member, loaded the same way. One that is a builder function is kept by the
name Keras registered it under (``keras.saving.register_keras_serializable``), and a
``functools.partial`` of one with its arguments: loading looks the name up among the
functions registered in the loading process, as Keras's safe mode does for layers, and
imports or runs nothing the file names.

Pickle, by contrast, runs whatever code the file names when it loads: load a pickle only
when you wrote it yourself.
"""

import functools
import json
import tempfile
import zipfile
from pathlib import Path

import keras
import numpy as np

FORMAT = "sk_autoencoder estimator"
FORMAT_VERSION = 1
_JSON_MEMBER, _MODEL_MEMBER = "estimator.json", "model.keras"
# Attributes held by the Keras model rather than in the JSON.
_MODEL_ATTRIBUTES = ("model_", "encoder_", "decoder_")
# Private state that scikit-learn keeps on an estimator and a round trip must keep.
_PRIVATE_STATE = ("_sklearn_output_config",)
# The parameters that may hold a user's network: a Keras model or a builder.
_NETWORK_PARAMS = ("encoder", "decoder")


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


def _network_from_json(value, members):
    """A network parameter from its JSON; ``members`` holds the archive's files."""
    if value is None:
        return None
    if value.keys() == {"keras_model"}:
        return _load_keras(members[value["keras_model"]])
    registered = value.get("partial", value.get("registered"))
    function = keras.saving.get_registered_object(registered)
    if function is None:
        raise ValueError(
            f"it names the builder {registered!r}, which is not registered in this "
            "process: import the module that registers it before loading"
        )
    if "partial" in value:
        return functools.partial(
            function, *_from_json(value["args"]), **_from_json(value["keywords"])
        )
    return function


def _load_keras(model_bytes):
    """A Keras model from the bytes of a ``.keras`` file, in safe mode."""
    with tempfile.TemporaryDirectory() as folder:
        model_path = Path(folder) / _MODEL_MEMBER
        model_path.write_bytes(model_bytes)
        return keras.saving.load_model(model_path, safe_mode=True)


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
        if value.keys() == {"tuple"}:
            return tuple(_from_json(item) for item in value["tuple"])
        if value.keys() == {"dict"}:
            return {key: _from_json(item) for key, item in value["dict"].items()}
        if value.keys() == {"array", "dtype"}:
            return np.array(value["array"], dtype=np.dtype(value["dtype"]))
        raise ValueError(f"unexpected object {sorted(value)} in the JSON")
    return value


def save(estimator, path):
    """Write ``estimator`` (fitted or not) to ``path``; see the module's docstring."""
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
    members = {}
    params = {
        name: _network_to_json(value, name, members)
        if name in _NETWORK_PARAMS
        else _to_json(value, name)
        for name, value in estimator.get_params(deep=False).items()
    }
    if hasattr(estimator, "model_"):
        members[_MODEL_MEMBER] = estimator.model_
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
    with tempfile.TemporaryDirectory() as folder:
        for member, model in members.items():
            model.save(Path(folder) / member)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_JSON_MEMBER, json.dumps(document, indent=1))
            for member in members:
                archive.write(Path(folder) / member, member)


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
        read, or is damaged.
    """
    from .. import AutoencoderTransformer, DenoisingAutoencoderTransformer, __version__
    from .._network import split_autoencoder

    classes = {
        cls.__name__: cls for cls in (AutoencoderTransformer, DenoisingAutoencoderTransformer)
    }
    try:
        with zipfile.ZipFile(path) as archive:
            document = json.loads(archive.read(_JSON_MEMBER))
            members = {name: archive.read(name) for name in archive.namelist()}
    except (
        zipfile.BadZipFile,
        KeyError,
        EOFError,
        UnicodeDecodeError,
        json.JSONDecodeError,
    ) as error:
        raise ValueError(
            f"{path} is not a file written by sk_autoencoder's save, or it is damaged: {error}"
        ) from error

    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path} is not a file written by sk_autoencoder's save.")
    if document.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} was written in format version {document.get('format_version')!r} by "
            f"sk_autoencoder {document.get('sk_autoencoder_version')}; this sk_autoencoder "
            f"({__version__}) reads format version {FORMAT_VERSION}. Load it with the "
            "version that wrote it, or refit."
        )
    cls = classes.get(document.get("class"))
    if cls is None:
        raise ValueError(f"{path} names an unknown estimator class {document.get('class')!r}.")
    try:
        params = {
            name: _network_from_json(value, members)
            if name in _NETWORK_PARAMS
            else _from_json(value)
            for name, value in document["params"].items()
        }
        estimator = cls(**params)
        estimator._validate_params()
        private = {name: _from_json(value) for name, value in document["private"].items()}
        if not set(private) <= set(_PRIVATE_STATE):
            raise ValueError(f"unexpected private state {sorted(private)}")
        vars(estimator).update(private)
        fitted = document["fitted"]
        state = (
            None if fitted is None else {name: _from_json(value) for name, value in fitted.items()}
        )
        if state is not None and not all(map(_is_fitted_attribute, state)):
            raise ValueError(f"unexpected fitted attributes {sorted(state)}")
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"{path} holds invalid estimator data: {error}") from error
    except Exception as error:  # a network parameter's model: Keras raises many kinds
        raise ValueError(f"{path} holds a Keras model that cannot be loaded: {error}") from error
    if state is None:
        return estimator

    if _MODEL_MEMBER not in members:
        raise ValueError(f"{path} records a fitted estimator but holds no model.")
    try:
        model = _load_keras(members[_MODEL_MEMBER])
        encoder, decoder = split_autoencoder(model)
    except Exception as error:  # Keras raises many kinds; all mean "not loadable".
        raise ValueError(f"{path} holds a Keras model that cannot be loaded: {error}") from error
    n_features = state.get("n_features_in_")
    if encoder.input_shape[-1] != n_features or encoder.output_shape[-1] != params["encoding_dim"]:
        raise ValueError(
            f"{path} holds a model of {encoder.input_shape[-1]} inputs and codes of "
            f"{encoder.output_shape[-1]} values, but records n_features_in_={n_features} and "
            f"encoding_dim={params['encoding_dim']}."
        )
    vars(estimator).update(state)
    estimator.model_, estimator.encoder_, estimator.decoder_ = model, encoder, decoder
    return estimator
