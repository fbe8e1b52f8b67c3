"""Training on several devices: Keras's DataParallel on JAX, MirroredStrategy on TensorFlow.

Each test runs in a fresh interpreter, since the devices must be declared before the
backend starts: two virtual CPU devices stand in for two accelerators.
"""

import json

import pytest

from .test_base import run_python

# Fits the same network on one device and on two, and prints what the test compares.
# 61 rows in batches of 16: the last batch (13 rows) does not split evenly.
SCRIPT = """
    import json, warnings
    import numpy as np
    import keras
    from sk_autoencoder import AutoencoderTransformer

    rng = np.random.default_rng(0)
    X = rng.normal(size=(61, 2)) @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(61, 6))
    warnings.simplefilter("ignore")  # ConvergenceWarning: 4 epochs

    def fit():
        return AutoencoderTransformer(
            2, hidden_layer_sizes=(8,), batch_size=16, epochs=4, random_state=0
        ).fit(X)

    single = fit()
    with SCOPE:
        multi = fit()
    print(json.dumps({
        "devices": DEVICES,
        "single": single.loss_curve_,
        "multi": multi.loss_curve_,
        "placed": PLACED(multi.model_.trainable_variables[0].value),
        "codes": float(np.max(np.abs(single.transform(X) - multi.transform(X)))),
    }))
"""

JAX = """
    import jax
    DEVICES = sorted({str(device) for device in
        keras.distribution.DataParallel().device_mesh.devices.flat})
    SCOPE = keras.distribution.DataParallel(devices=jax.devices()).scope()
    PLACED = lambda value: len(value.sharding.device_set)
"""

TENSORFLOW = """
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    DEVICES = list(strategy.extended.worker_devices)
    SCOPE = strategy.scope()
    PLACED = lambda value: len(value.values)
"""


@pytest.mark.each_backend
@pytest.mark.parametrize(
    "backend, setup, env",
    [
        ("jax", JAX, {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}),
        ("tensorflow", TENSORFLOW, {}),
    ],
)
def test_two_devices_train_as_one(backend, setup, env):
    script = SCRIPT.replace("    single = fit()", setup.rstrip() + "\n    single = fit()")
    result = json.loads(run_python(script, KERAS_BACKEND=backend, **env).stdout.splitlines()[-1])
    assert len(result["devices"]) == 2
    assert result["placed"] == 2  # the weights live on both devices
    # The same batches, their gradients summed across devices in another order.
    assert result["multi"] == pytest.approx(result["single"], rel=1e-4)
    assert result["codes"] < 1e-3
