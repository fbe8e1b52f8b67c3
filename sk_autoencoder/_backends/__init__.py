"""What differs between Keras's backends: compiled training steps, compiled inference
and the scopes that spread training over several devices.

Each backend has a module here, named after it, holding a :class:`.base.Backend`
subclass; the module is imported only when its backend is active, and it is the only
place its framework (``tensorflow``, ``jax``, ``torch``) is imported. The rest of the
package imports ``keras`` alone and asks :func:`active` for what differs: adding a
backend means adding a module here, and its tests.
"""

import importlib

import keras

BACKENDS = ("tensorflow", "jax", "torch")


def active():
    """The :class:`.base.Backend` of Keras's active backend.

    Raises ``ValueError`` if the active backend is none of :data:`BACKENDS`.
    """
    name = keras.backend.backend()
    if name not in BACKENDS:
        raise ValueError(
            f"sk_autoencoder trains on Keras's {', '.join(BACKENDS[:-1])} and "
            f"{BACKENDS[-1]} backends; the active backend is {name!r}. Set KERAS_BACKEND "
            "to one of them."
        )
    return importlib.import_module(f"{__name__}.{name}").BACKEND


def to_numpy(tensor):
    """A tensor of the active backend as a numpy array (which may share its memory)."""
    return active().to_numpy(tensor)
