"""
``compare`` on a table, with its report
=======================================

:func:`~sk_autoencoder.compare` answers the question in one call: on held-out rows,
does either autoencoder beat PCA on this data, and at what cost? It takes an array or
a DataFrame (text columns and missing values included), splits the rows, prepares the
table on its training part, fits PCA and both autoencoders at each code size, and
returns a :class:`~sk_autoencoder.Comparison`: a table, a verdict, plots, and reports
in Markdown and HTML.

Here: scikit-learn's breast cancer table, 569 rows of 30 measurements, with the
diagnosis as the labels that a classifier on the codes should predict.
"""

import tempfile
from pathlib import Path

from sklearn.datasets import load_breast_cancer

from sk_autoencoder import compare

data = load_breast_cancer(as_frame=True)
result = compare(data.data, data.target, dims=[2, 4, 8], verbose=0)
print(result.verdict)

# %%
# The table: held-out error and its ratio to PCA's, the accuracy of a
# ``LogisticRegression`` on the codes, and the times.

result.table

# %%
# The report's plots are matplotlib figures. The held-out error against the code size:

errors = result.plot_errors()

# %%
# The held-out accuracy of the classifier on the codes, against the code size:

scores = result.plot_scores()

# %%
# The held-out codes, coloured by diagnosis:

codes = result.plot_codes()

# %%
# Both reports hold the table, the verdict and the plots; the HTML one embeds them.

folder = Path(tempfile.mkdtemp())
result.write_markdown(folder)
result.write_html(folder / "report.html")
print(sorted(path.name for path in folder.iterdir()))
