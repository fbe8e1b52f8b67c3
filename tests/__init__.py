"""Tests of sk_autoencoder."""

import os

# The environment before any test imports TensorFlow or JAX: importing them sets
# variables (TF_CPP_MIN_LOG_LEVEL among them) that would quiet the child processes of
# tests that check what a fresh process prints.
ENVIRONMENT = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
