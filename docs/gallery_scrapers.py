"""What sphinx-gallery shows of each example, beyond pyplot's figures."""

import weakref

# Figures already shown, so that a figure kept in a variable shows once, where it is made.
_SHOWN = weakref.WeakSet()


def figures_made_without_pyplot(block, block_vars, gallery_conf):
    """Show the figures a block left in the example's variables that pyplot does not
    manage, such as :class:`~sk_autoencoder.Comparison`'s plots: the matplotlib
    scraper sees pyplot's figures only.

    It runs before the matplotlib scraper, which closes pyplot's figures: a figure
    pyplot still manages here is the matplotlib scraper's to show, and is remembered so
    that, closed, it is not taken for one made without pyplot in a later block.
    """
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    figures = []
    for value in block_vars["example_globals"].values():
        if not isinstance(value, Figure) or value in _SHOWN:
            continue
        if value.canvas.manager is None:
            figures.append(value)
        _SHOWN.add(value)
    paths = []
    for figure, path in zip(figures, block_vars["image_path_iterator"], strict=False):
        figure.savefig(path)
        paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])
