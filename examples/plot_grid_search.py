"""
Choosing ``encoding_dim`` with a grid search
============================================

:class:`~sk_autoencoder.AutoencoderTransformer` goes into a
:class:`~sklearn.pipeline.Pipeline` where PCA would, and its ``score`` is minus the
mean squared reconstruction error, so :class:`~sklearn.model_selection.GridSearchCV`
tunes it with no ``scoring`` argument: each candidate is scored on the fold it did not
train on.

Reconstruction error always prefers the larger code; what the search tells is by how
much, which is what you weigh against a smaller code.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sk_autoencoder import AutoencoderTransformer

X = load_digits().data
pipeline = Pipeline([("scale", StandardScaler()), ("ae", AutoencoderTransformer(random_state=0))])
dims = [2, 4, 8, 16]
search = GridSearchCV(pipeline, {"ae__encoding_dim": dims}, cv=3).fit(X)
print("chosen:", search.best_params_)

# %%
# The mean held-out error of each code size, with its spread over the three folds.

errors = -search.cv_results_["mean_test_score"]
spread = search.cv_results_["std_test_score"]
fig, ax = plt.subplots(figsize=(6, 4))
ax.errorbar(dims, errors, yerr=spread, fmt="o-", capsize=4)
ax.set_xscale("log", base=2)
ax.set_xticks(dims, [str(dim) for dim in dims])
ax.set_xlabel("encoding_dim")
ax.set_ylabel("held-out mean squared error (3-fold)")
ax.set_title("GridSearchCV over encoding_dim on standardized digits")
fig.tight_layout()
