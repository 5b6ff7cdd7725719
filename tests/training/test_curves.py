from matplotlib.figure import Figure

from parametricSN.training.curves import curve_figures

HISTORY = [
    {"epoch": 1, "lr_head": 0.1, "lr_orientation": 0.2, "train_loss": 2.0, "train_acc": 10.0},
    {
        "epoch": 2,
        "lr_head": 0.05,
        "lr_orientation": 0.1,
        "train_loss": 1.0,
        "train_acc": 50.0,
        "test_loss": 1.5,
        "test_acc": 40.0,
    },
]


def labels(fig: Figure) -> list:
    return [line.get_label() for line in fig.axes[0].get_lines()]


def test_one_figure_per_curve_family_with_one_line_per_metric():
    figures = curve_figures(HISTORY)
    assert set(figures) == {"figures/loss.png", "figures/accuracy.png", "figures/lr.png"}  # no motion measured
    assert labels(figures["figures/loss.png"]) == ["test_loss", "train_loss"]
    assert labels(figures["figures/lr.png"]) == ["lr_head", "lr_orientation"]
    test_line = [ln for ln in figures["figures/accuracy.png"].axes[0].get_lines() if ln.get_label() == "test_acc"]
    assert list(test_line[0].get_xdata()) == [2] and list(test_line[0].get_ydata()) == [40.0]


def test_motion_figure_when_filters_were_learned():
    history = [dict(h, motion_theta=0.01 * h["epoch"], motion_xi=0.0) for h in HISTORY]
    assert labels(curve_figures(history)["figures/filter_motion.png"]) == ["motion_theta", "motion_xi"]
