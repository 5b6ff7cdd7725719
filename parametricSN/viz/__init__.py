"""Figures of the learned filters: before/after grids, parameter motion, and an animation of training.

    from parametricSN.viz import filter_figure, filter_params_figure, FilterAnimation, figure_to_png
    fig = filter_figure(S.filters(), S.L, kind="fourier")          # J × L grid of wavelets
    fig = filter_params_figure(params_before, params_after, S.L)   # how θ, ξ, σ, slant moved
    fig = littlewood_paley_figure(bank_littlewood_paley(S))        # the frame's Σ|ψ̂|² + |φ̂|², A and B
    rec = FilterAnimation(kind="fourier", L=S.L); rec.add_frame(S.filters(), "epoch 0"); rec.save_gif(path)

Everything uses ``matplotlib.figure.Figure`` on the Agg canvas (never pyplot's global state) and Pillow.
"""
from parametricSN.viz.animation import FilterAnimation
from parametricSN.viz.filters import KINDS, filter_figure, panel_images
from parametricSN.viz.frames import littlewood_paley_figure
from parametricSN.viz.params import filter_params_figure
from parametricSN.viz.render import figure_to_image, figure_to_png, new_figure

__all__ = ["filter_figure", "filter_params_figure", "FilterAnimation", "figure_to_png", "figure_to_image",
           "panel_images", "new_figure", "KINDS", "littlewood_paley_figure"]
