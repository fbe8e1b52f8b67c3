"""
Anomaly scores from ``score_samples``
=====================================

``score_samples`` gives each row minus its mean squared reconstruction error: rows
like those the autoencoder was trained on reconstruct well, rows unlike them do not.
Train on every digit but the zeros, then score held-out digits: the zeros, never seen,
should score lowest. The area under the ROC curve says how well the score separates
them, here against PCA's reconstruction error at the same code size.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sk_autoencoder import AutoencoderTransformer

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
X_train = X_train[y_train != 0]  # the zeros are the outliers: never trained on
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
is_outlier = y_test == 0

autoencoder = AutoencoderTransformer(8, random_state=0).fit(X_train)
scores = autoencoder.score_samples(X_test)

pca = PCA(8).fit(X_train)
pca_scores = -np.mean((X_test - pca.inverse_transform(pca.transform(X_test))) ** 2, axis=1)

# A low score marks an outlier, so the ROC curve ranks by minus the score.
print(f"ROC AUC, autoencoder: {roc_auc_score(is_outlier, -scores):.3f}")
print(f"ROC AUC, PCA:         {roc_auc_score(is_outlier, -pca_scores):.3f}")

# %%
# The held-out reconstruction errors of the digits trained on and of the zeros.

fig, ax = plt.subplots(figsize=(6, 4))
bins = np.linspace(0, np.quantile(-scores, 0.99), 40)
ax.hist(-scores[~is_outlier], bins=bins, alpha=0.6, label="digits 1 to 9 (trained on)")
ax.hist(-scores[is_outlier], bins=bins, alpha=0.6, label="zeros (never seen)")
ax.set_xlabel("reconstruction error: -score_samples")
ax.set_ylabel("held-out digits")
ax.set_title("Anomaly scores of an autoencoder trained without zeros")
ax.legend()
fig.tight_layout()
