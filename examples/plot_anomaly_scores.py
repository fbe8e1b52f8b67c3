"""
Outlier detection with ``AutoencoderOutlierDetector``
======================================================

:class:`~sk_autoencoder.AutoencoderOutlierDetector` calls a row an outlier where its
autoencoder reconstructs it badly, or its code lies far from the training rows' codes,
with scikit-learn's outlier API: ``fit``, ``score_samples`` (higher is more normal),
``decision_function`` (negative for outliers), ``predict`` (-1 or 1). Here the normal
rows are the images of threes, and 10% of the training rows are other digits the
detector is not told about, as happens with real data. Held-out digits are then
scored: all but the threes should score low. By default (``robust=True``) the detector
fits a second time without the rows the first network finds most outlying, so that
the other digits among the training rows do not teach the network to reconstruct
them; ``robust=False`` fits once.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sk_autoencoder import AutoencoderOutlierDetector

X, y = load_digits(return_X_y=True)
X = X / 16
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
# Training rows: the threes, and other digits making 10% of the rows.
threes, others = X_train[y_train == 3], X_train[y_train != 3]
X_train = np.vstack([threes, others[: round(0.1 * len(threes) / 0.9)]])
is_outlier = y_test != 3

detectors = {
    "robust=True (default)": AutoencoderOutlierDetector(8, contamination=0.1, random_state=0),
    "robust=False": AutoencoderOutlierDetector(8, contamination=0.1, robust=False, random_state=0),
}
for name, detector in detectors.items():
    detector.fit(X_train)
    auc = roc_auc_score(is_outlier, -detector.score_samples(X_test))
    print(f"autoencoder, {name}: ROC AUC {auc:.3f}, {detector.n_trimmed_} rows left out")

forest = IsolationForest(random_state=0).fit(X_train)
forest_auc = roc_auc_score(is_outlier, -forest.score_samples(X_test))
pca = PCA(8).fit(X_train)
pca_errors = np.mean((X_test - pca.inverse_transform(pca.transform(X_test))) ** 2, axis=1)
print(f"IsolationForest: ROC AUC {forest_auc:.3f}")
print(f"PCA reconstruction error: ROC AUC {roc_auc_score(is_outlier, pca_errors):.3f}")

# %%
# ``predict`` flags the rows below ``offset_``, which flags ``contamination`` of the
# training rows and, among the offsets that do, sits where rows held out of training
# put it. On the held-out digits it flags most other digits and few threes.

detector = detectors["robust=True (default)"]
flagged = detector.predict(X_test) == -1
print(
    f"flagged: {flagged[is_outlier].mean():.0%} of the other digits, "
    f"{flagged[~is_outlier].mean():.1%} of the threes"
)

scores = detector.score_samples(X_test)
fig, ax = plt.subplots(figsize=(6, 4))
bins = np.linspace(np.quantile(scores, 0.005), 0, 40)
ax.hist(scores[~is_outlier], bins=bins, alpha=0.6, label="threes")
ax.hist(scores[is_outlier], bins=bins, alpha=0.6, label="other digits")
ax.axvline(detector.offset_, color="k", linestyle="--", label="offset_ (the threshold)")
ax.set_xlabel("score_samples: higher is more normal")
ax.set_ylabel("held-out digits")
ax.set_title("AutoencoderOutlierDetector on held-out digits")
ax.legend()
fig.tight_layout()
