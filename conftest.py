"""What pytest collects from the package itself: every module's doctests, but for the
modules of an optional extra that is not installed (importing them would fail)."""

collect_ignore = []
try:
    import skl2onnx  # noqa: F401
except ImportError:
    collect_ignore.append("sk_autoencoder/onnx.py")
