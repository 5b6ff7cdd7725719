"""Deformation stability: how far representations move when images are deformed (``psn deform``).

    from parametricSN.deformation import deform, strengths, evaluate_representation
    x_tilde = deform(images, "rotation", 5.0)                     # (B, C, H, W), degrees
    rows, example = evaluate_representation(model.scattering, images, "random-diffeo", levels=8, seed=0,
                                            device=torch.device("cpu"))

``warps`` (the deformations, pure functions), ``metrics`` (relative distance, baseline, D, G, R), ``evaluate``
(representations × deformations × strengths -> CSV rows), ``figures``, ``sources`` (models and images),
``record`` (the MLflow run), ``cli`` (``psn deform``).
"""
from parametricSN.deformation.evaluate import COLUMNS, Row, evaluate, evaluate_representation, write_csv
from parametricSN.deformation.metrics import (baseline, matched_noise, median_squared_distance, relative_distances,
                                              relative_stability)
from parametricSN.deformation.warps import (KINDS, deform, diffeo_sup_gradient, diffeo_tau, random_displacement,
                                            sampling_grid, strengths, temperature_range, typical_displacement)

__all__ = ["COLUMNS", "KINDS", "Row", "baseline", "deform", "diffeo_sup_gradient", "diffeo_tau", "evaluate",
           "evaluate_representation", "matched_noise", "median_squared_distance", "random_displacement",
           "relative_distances", "relative_stability", "sampling_grid", "strengths", "temperature_range",
           "typical_displacement", "write_csv"]
