"""Deformation stability: how far representations move when images are deformed (``psn deform``).

    from parametricSN.deformation import deform, strengths, evaluate_representation
    x_tilde = deform(images, "rotation", 5.0)                     # (B, C, H, W), degrees
    rows, example = evaluate_representation(model.scattering, images, "random-diffeo", levels=8, seed=0,
                                            device=torch.device("cpu"))

``warps`` (the deformations, pure functions), ``metrics`` (relative distance, baseline, D, G, R), ``evaluate``
(representations × deformations × strengths -> CSV rows), ``figures``, ``sources`` (models and images),
``record`` (the MLflow run), ``cli`` (``psn deform``), ``options`` (the choices its options offer). The names
load on first use (see :mod:`parametricSN._lazy`): ``psn deform --help`` imports neither torch nor MLflow.
"""

from parametricSN._lazy import lazy_package

__all__ = lazy_package(
    __name__,
    {
        "COLUMNS": "evaluation",
        "Row": "evaluation",
        "evaluate": "evaluation",
        "evaluate_representation": "evaluation",
        "write_csv": "evaluation",
        "baseline": "metrics",
        "matched_noise": "metrics",
        "median_squared_distance": "metrics",
        "relative_distances": "metrics",
        "relative_stability": "metrics",
        "KINDS": "options",
        "deform": "warps",
        "diffeo_sup_gradient": "warps",
        "diffeo_tau": "warps",
        "random_displacement": "warps",
        "sampling_grid": "warps",
        "strengths": "warps",
        "temperature_range": "warps",
        "typical_displacement": "warps",
    },
)
