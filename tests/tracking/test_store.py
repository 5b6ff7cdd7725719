"""Experiment lookup when several runs start at once."""

from mlflow.tracking import MlflowClient

from parametricSN.tracking.store import get_or_create_experiment


def test_experiment_created_by_a_parallel_run_is_reused(mlflow_uri):
    client = MlflowClient(mlflow_uri)
    existing = client.create_experiment("shared")
    real_lookup = client.get_experiment_by_name
    calls = []

    def lookup_racing(name):  # the first lookup happens before the other run's creation lands
        calls.append(name)
        return None if len(calls) == 1 else real_lookup(name)

    client.get_experiment_by_name = lookup_racing
    assert get_or_create_experiment(client, "shared", None) == existing
    assert len(calls) == 2
