# Fixtures shared across test folders (one definition, so session-scoped ones are built once per session):
# fmnist_root (a tiny Fashion-MNIST in IDX format) and mlflow_uri (a fresh temporary SQLite MLflow store).
from tests.training.fixtures import _empty_store, fmnist_root, mlflow_uri  # noqa: F401
