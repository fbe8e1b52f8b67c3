"""Sphinx configuration: the user guide, the API reference from the numpydoc
docstrings, and a gallery of the examples in ``examples/``, run at each build.

Build with ``sphinx-build -W docs docs/_build/html``: any warning fails the build. Links
into scikit-learn's, Keras's and numpy's own documentation are left as plain names,
since their inventories cannot be fetched where the site is built.
"""

import os
import sys
from pathlib import Path

# What TensorFlow logs once it runs stays out of the examples' output (its start-up
# lines, written before its logging starts, reach the build's log only).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# gallery_scrapers.py, named by its path so that the configuration can be cached.
sys.path.insert(0, str(Path(__file__).parent))

import sk_autoencoder

project = "sk_autoencoder"
author = "the sk_autoencoder developers"
copyright = "the sk_autoencoder developers"
release = version = sk_autoencoder.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
templates_path = ["_templates"]
myst_heading_anchors = 3
# `name` in a docstring is code, as numpydoc's convention has it.
default_role = "literal"

autosummary_generate = True
numpydoc_show_class_members = False

# Every reference to a name of this project must resolve: a broken one fails the build.
# Names of other projects cannot, with no inventories to look them up in.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(sklearn|keras|numpy|np|scipy|pandas|pd|matplotlib|dask|dask_ml|jax|"
        r"tensorflow|pathlib|os|concurrent|functools|collections)(\..*)?",
    ),
]


def skip_foreign_members(app, what, name, obj, skip, options):
    """Document the methods this project defines, not those scikit-learn's mixins give
    (``get_params``, ``set_output``, ...): scikit-learn's own reference documents those."""
    module = getattr(obj, "__module__", None) or ""
    if callable(obj) and module and not module.startswith("sk_autoencoder"):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", skip_foreign_members)


html_theme = "pydata_sphinx_theme"
html_title = "sk_autoencoder"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # An example that raises fails the build.
    "abort_on_example_error": True,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("gallery_scrapers.figures_made_without_pyplot", "matplotlib"),
}
