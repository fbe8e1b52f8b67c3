"""
Digits: the autoencoder against PCA
===================================

Does a nonlinear reducer keep more of the digits than PCA does, at the same code size?
Both reducers are fitted on 70% of scikit-learn's 8 x 8 digits and measured on the
other 30%: the mean squared error of the reconstructions of rows neither has seen.

With its default parameters, :class:`~sk_autoencoder.AutoencoderTransformer` starts
as PCA, and its network replaces PCA only where rows it held out show, with 95%
confidence, that it reconstructs better; elsewhere it is PCA itself. So its held-out
error is not above PCA's; on digits it is well below.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sk_autoencoder import AutoencoderTransformer

X_train, X_test = train_test_split(load_digits().data, test_size=0.3, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)


def held_out_error(reducer):
    reconstructions = reducer.inverse_transform(reducer.transform(X_test))
    return np.mean((X_test - reconstructions) ** 2)


dims = [2, 4, 8, 16]
pca_errors, autoencoder_errors = [], []
for dim in dims:
    pca_errors.append(held_out_error(PCA(dim).fit(X_train)))
    autoencoder = AutoencoderTransformer(dim, random_state=0).fit(X_train)
    autoencoder_errors.append(held_out_error(autoencoder))
    print(
        f"encoding_dim={dim:2d}: PCA {pca_errors[-1]:.3f}, autoencoder "
        f"{autoencoder_errors[-1]:.3f} ({autoencoder_errors[-1] / pca_errors[-1]:.2f} of PCA's)"
    )

# %%
# The error of each reducer against the code size.

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(dims, pca_errors, "o-", label="PCA")
ax.plot(dims, autoencoder_errors, "s-", label="AutoencoderTransformer")
ax.set_xscale("log", base=2)
ax.set_xticks(dims, [str(dim) for dim in dims])
ax.set_xlabel("encoding_dim")
ax.set_ylabel("held-out mean squared error")
ax.set_title("Digits, standardized: reconstruction of held-out rows")
ax.legend()
fig.tight_layout()
