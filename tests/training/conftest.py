from tests.training.fixtures import _empty_store, fmnist_root, mlflow_uri  # noqa: F401  (shared fixtures)
