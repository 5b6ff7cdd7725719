"""Figures of the learned filters: before/after grids, parameter motion, and an animation of training.

    from parametricSN.viz import filter_figure, filter_params_figure, FilterAnimation, figure_to_png
    fig = filter_figure(S.filters(), S.L, kind="fourier")          # J × L grid of wavelets
    fig = filter_params_figure(params_before, params_after, S.L)   # how θ, ξ, σ, slant moved
    fig = littlewood_paley_figure(bank_littlewood_paley(S))        # the frame's Σ|ψ̂|² + |φ̂|², A and B
    rec = FilterAnimation(kind="fourier", L=S.L); rec.add_frame(S.filters(), "epoch 0"); rec.save_gif(path)

Everything uses ``matplotlib.figure.Figure`` on the Agg canvas (never pyplot's global state) and Pillow. The names
load on first use (see :mod:`parametricSN._lazy`).
"""

from parametricSN._lazy import lazy_package

__all__ = lazy_package(
    __name__,
    {
        "FilterAnimation": "animation",
        "KINDS": "filters",
        "filter_figure": "filters",
        "panel_images": "filters",
        "littlewood_paley_figure": "frames",
        "filter_params_figure": "params",
        "figure_to_image": "render",
        "figure_to_png": "render",
        "new_figure": "render",
    },
)
