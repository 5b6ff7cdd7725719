"""ParametricScattering2D: equivalence with kymatio, both backends, gradients, training, caching, copies."""

import copy
import io
import itertools
import pickle

import pytest
import torch
from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D
from torch.func import functional_call

from parametricSN.scattering import ParametricScattering2D

PARAMS = ("theta", "xi", "sigma", "slant")


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


# J, shape, L, max_order: J 1-4, square and not, small and odd L, both orders, one shape not divisible by 2**J
GRID = [
    (1, (16, 16), 8, 2),
    (1, (12, 20), 3, 1),
    (2, (32, 32), 8, 2),
    (2, (24, 40), 6, 2),
    (2, (28, 28), 8, 1),
    (3, (32, 32), 4, 2),
    (3, (24, 48), 8, 2),
    (3, (8, 8), 2, 2),
    (4, (32, 32), 6, 2),
    (4, (16, 48), 4, 1),
    (2, (30, 34), 5, 2),
]


@pytest.mark.parametrize("J,shape,L,max_order", GRID)
def test_fixed_tight_frame_equals_kymatio(J, shape, L, max_order):
    """Both backends, against one kymatio reference (building kymatio's bank is the slow part)."""
    x = torch.randn(2, 3, *shape, generator=torch.Generator().manual_seed(J))
    h, w = shape[0] // 2**J, shape[1] // 2**J
    ref = ScatteringTorch2D(J, shape, L, max_order)(x)  # (B, C, K, h, w)
    ref_size = ref.reshape(2, -1, h, w).abs().amax(dim=(0, 2, 3))
    for backend in ("fast", "kymatio"):
        S = ParametricScattering2D(J, shape, L, max_order, learnable=False, backend=backend)
        y = S(x)
        assert y.shape == (2, 3 * S.n_coefficients, h, w)
        assert ref.shape[2] == S.n_coefficients
        # per path, relative to that path's own size: order-2 paths are far smaller than order 0
        per_path = (y - ref.reshape(2, -1, h, w)).abs().amax(dim=(0, 2, 3)) / ref_size
        assert per_path.max() < 1e-5, backend


@pytest.mark.parametrize("parameterization", ["canonical", "equivariant", "pixelwise"])
def test_backends_agree_on_random_learnable_filters_and_gradients(parameterization):
    x = torch.randn(2, 2, 24, 24, dtype=torch.float64)
    layers = [
        ParametricScattering2D(
            3, (24, 24), L=4, init="random", seed=3, parameterization=parameterization, backend=b
        ).double()
        for b in ("fast", "kymatio")
    ]
    outs = [S(x) for S in layers]
    assert rel_err(outs[0], outs[1]) < 1e-10
    weights = torch.randn_like(outs[0])
    grads = [torch.autograd.grad((o * weights).sum(), list(S.parameters())) for o, S in zip(outs, layers)]
    for g_fast, g_kym in zip(*grads):
        assert rel_err(g_fast, g_kym) < 1e-8


def test_coefficient_count_and_orders():
    S = ParametricScattering2D(3, (32, 32), L=8)
    assert S.n_coefficients == 1 + 8 * 3 + 64 * 3
    S1 = ParametricScattering2D(3, (32, 32), L=8, max_order=1)
    assert S1.n_coefficients == 1 + 24
    S2 = ParametricScattering2D(3, (32, 32), L=8, second_order_only=True)
    assert S2.n_coefficients == 64 * 3
    x = torch.randn(2, 1, 32, 32)
    full, first, second = S(x), S1(x), S2(x)
    assert torch.allclose(full[:, :25], first, rtol=1e-5, atol=1e-6)
    assert torch.allclose(full[:, 25:], second, rtol=1e-5, atol=1e-6)


def test_colour_channel_is_outermost():
    S = ParametricScattering2D(2, (16, 16), L=4)
    x = torch.randn(2, 3, 16, 16)
    y = S(x)
    for c in range(3):
        single = S(x[:, c : c + 1])
        assert torch.allclose(y[:, c * S.n_coefficients : (c + 1) * S.n_coefficients], single, atol=1e-6)


def test_any_leading_batch_shape():
    S = ParametricScattering2D(2, (16, 16), L=4)
    x = torch.randn(2, 5, 3, 16, 16)
    y = S(x)
    assert y.shape == (2, 5, 3 * S.n_coefficients, 4, 4)
    assert torch.allclose(y[1, 2], S(x[1, 2:3])[0], atol=1e-6)
    assert S(x[0, 0, 0]).shape == (S.n_coefficients, 4, 4)


def test_float64_and_float32():
    S = ParametricScattering2D(2, (16, 16), L=4)
    x = torch.randn(1, 1, 16, 16, dtype=torch.float64)
    y64 = S.double()(x)
    assert y64.dtype == torch.float64
    y32 = S.float()(x.float())
    assert y32.dtype == torch.float32
    assert rel_err(y32.double(), y64) < 1e-5


def test_layer_gradcheck_float64():
    """Gradients wrt every filter parameter and the input, against finite differences."""
    S = ParametricScattering2D(2, (8, 8), L=2, init="random", seed=1).double()
    names = [n for n, _ in S.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in S.parameters()]
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)

    def f(x, *p):
        return functional_call(S, dict(zip(names, p)), (x,))

    # fast_mode checks a random projection of the Jacobian: the same analytic-vs-numeric test, far fewer forwards
    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-5, fast_mode=True)


@pytest.mark.parametrize("parameterization", ["canonical", "equivariant", "pixelwise"])
def test_sgd_on_toy_task_lowers_loss_and_moves_filters(parameterization):
    """Two classes of oriented gratings; a linear read-out of the scattering; the filters must train."""
    g = torch.Generator().manual_seed(0)
    u = torch.arange(16.0)
    X, y = [], []
    for i in range(16):
        angle = (i % 2) * 1.2 + 0.1 * torch.randn(1, generator=g).item()
        wave = torch.cos(0.9 * (u[:, None] * torch.cos(torch.tensor(angle)) + u[None] * torch.sin(torch.tensor(angle))))
        X.append(wave + 0.3 * torch.randn(16, 16, generator=g))
        y.append(i % 2)
    X, y = torch.stack(X)[:, None], torch.tensor(y)
    torch.manual_seed(0)
    S = ParametricScattering2D(2, (16, 16), L=4, init="random", seed=0, parameterization=parameterization)
    head = torch.nn.Linear(S.n_coefficients * 16, 2)
    before = {k: v.detach().clone() for k, v in S.state_dict().items()}
    opt = torch.optim.SGD([*S.param_groups(0.05, 0.05), {"params": head.parameters(), "lr": 0.05}])
    losses = []
    for _ in range(8):
        opt.zero_grad()
        feats = S(X).flatten(1)
        loss = torch.nn.functional.cross_entropy(head(torch.log1p(feats)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    for name, value in S.state_dict().items():
        assert not torch.equal(value, before[name]), f"{name} did not move"


def test_equivariant_and_pixelwise_tight_frame_equal_canonical():
    x = torch.randn(2, 1, 16, 16)
    outs = [
        ParametricScattering2D(2, (16, 16), L=6, parameterization=p)(x)
        for p in ("canonical", "equivariant", "pixelwise")
    ]
    assert torch.allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)
    assert torch.allclose(outs[0], outs[2], rtol=1e-5, atol=1e-6)


def test_parameter_counts_and_groups():
    J, L = 3, 8
    counts = {
        p: sum(t.numel() for t in ParametricScattering2D(J, (32, 32), L, parameterization=p).parameters())
        for p in ("canonical", "equivariant", "pixelwise")
    }
    assert counts["canonical"] == 4 * J * L
    assert counts["equivariant"] == 4 * J
    assert counts["pixelwise"] == J * L * 48 * 48
    S = ParametricScattering2D(J, (32, 32), L)
    groups = S.param_groups(0.1, 0.2)
    assert [g["lr"] for g in groups] == [0.1, 0.2]
    assert groups[0]["params"] == [S.theta] and groups[1]["params"] == [S.xi, S.sigma, S.slant]
    assert len(ParametricScattering2D(J, (32, 32), L, parameterization="pixelwise").param_groups(0.1, 0.2)) == 1
    fixed = ParametricScattering2D(J, (32, 32), L, learnable=False)
    assert fixed.param_groups(0.1, 0.2) == [] and list(fixed.parameters()) == []
    assert set(fixed.state_dict()) == set(PARAMS)  # fixed values kept, derived filters not


def test_filter_params_layout():
    S = ParametricScattering2D(2, (16, 16), L=4, parameterization="equivariant")
    p = S.filter_params()
    assert all(p[k].shape == (8,) for k in PARAMS)
    canon = ParametricScattering2D(2, (16, 16), L=4).filter_params()
    for k in PARAMS:
        assert torch.allclose(p[k], canon[k])
    assert ParametricScattering2D(2, (16, 16), L=4, parameterization="pixelwise").filter_params() == {}


def test_random_init_reproducible_and_seed_dependent():
    a = ParametricScattering2D(2, (16, 16), L=4, init="random", seed=7).state_dict()
    b = ParametricScattering2D(2, (16, 16), L=4, init="random", seed=7).state_dict()
    c = ParametricScattering2D(2, (16, 16), L=4, init="random", seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(not torch.equal(a[k], c[k]) for k in a)


def test_eval_cache_is_used_and_invalidated():
    S = ParametricScattering2D(2, (16, 16), L=4).eval()
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        y0 = S(x)
        bank = S.filter_bank()
        assert S.filter_bank() is bank  # cached
    # an optimizer step changes the parameters in place: the cache must not serve stale filters
    opt = torch.optim.SGD(S.parameters(), lr=0.5)
    S.train()
    S(x).sum().backward()
    opt.step()
    S.eval()
    with torch.no_grad():
        y1 = S(x)
        assert S.filter_bank() is not bank
    fresh = ParametricScattering2D(2, (16, 16), L=4)
    fresh.load_state_dict(S.state_dict())
    with torch.no_grad():
        assert not torch.allclose(y0, y1)
        assert torch.allclose(fresh(x), y1, atol=1e-6)
        # load_state_dict into a module whose filters are cached
        S.load_state_dict(ParametricScattering2D(2, (16, 16), L=4).state_dict())
        assert torch.allclose(S(x), y0, atol=1e-6)


def test_eval_mode_with_grad_still_trains_filters():
    S = ParametricScattering2D(2, (16, 16), L=4).eval()
    S(torch.randn(1, 1, 16, 16)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in S.parameters())


def test_training_forward_rebuilds_filters_with_graph():
    S = ParametricScattering2D(2, (16, 16), L=4)
    x = torch.randn(1, 1, 16, 16)
    for _ in range(2):  # a second backward must not hit a freed graph
        S(x).sum().backward()


@pytest.mark.parametrize("parameterization", ["canonical", "equivariant", "pixelwise"])
def test_deepcopy_pickle_state_dict_round_trips(parameterization):
    S = ParametricScattering2D(2, (16, 16), L=4, init="random", seed=2, parameterization=parameterization).eval()
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        y = S(x)  # populate the cache first
        clone = copy.deepcopy(S)
        assert torch.equal(clone(x), y)
        unpickled = pickle.loads(pickle.dumps(S))
        assert torch.equal(unpickled(x), y)
        buf = io.BytesIO()
        torch.save(S.state_dict(), buf)
        buf.seek(0)
        other = ParametricScattering2D(2, (16, 16), L=4, parameterization=parameterization).eval()
        other.load_state_dict(torch.load(buf))
        assert torch.allclose(other(x), y, atol=1e-6)
    assert "phi_0" not in S.state_dict()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(J=0), "J must be"),
        (dict(max_order=3), "max_order"),
        (dict(init="xavier"), "init"),
        (dict(parameterization="free"), "parameterization"),
        (dict(backend="cuda"), "backend"),
        (dict(J=5), "smaller than 2\\*\\*J"),
        (dict(max_order=1, second_order_only=True), "second_order_only"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    args = dict(J=2, shape=(16, 16), L=4) | kwargs
    with pytest.raises(ValueError, match=match):
        ParametricScattering2D(**args)


def test_wrong_input_shape_is_an_error():
    S = ParametricScattering2D(2, (16, 16), L=4)
    with pytest.raises(ValueError, match="expected input of shape"):
        S(torch.randn(1, 1, 16, 20))
    with pytest.raises(TypeError, match="floating-point"):
        S(torch.zeros(1, 1, 16, 16, dtype=torch.long))


def test_no_forward_hooks_and_parameters_only_in_state_dict():
    S = ParametricScattering2D(2, (16, 16), L=4)
    assert not S._forward_hooks and not S._forward_pre_hooks
    assert set(S.state_dict()) == set(PARAMS)
    assert all(itertools.starmap(lambda n, p: p.requires_grad, S.named_parameters()))
