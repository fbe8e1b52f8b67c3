"""The estimators: one shared base and each estimator on it."""
