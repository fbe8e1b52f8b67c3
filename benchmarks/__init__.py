"""Benchmarks of sk_autoencoder against PCA and hand-written Keras.

``python -m benchmarks`` compares with PCA on digits; ``python -m benchmarks.overhead``
measures the estimator's cost over the same Keras model trained and run by hand.
"""
