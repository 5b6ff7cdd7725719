"""Evaluation from cached scattering coefficients (parametricSN/training/eval_cache.py)."""

import torch

from parametricSN.data import build_loaders
from parametricSN.models import build_model
from parametricSN.training import NullLogger, build_loss, seed_everything, train
from parametricSN.training.eval_cache import EvalCache
from parametricSN.training.loop import evaluate
from tests.configs import TINY, make_cfg

CPU = torch.device("cpu")


def _counting(scattering):
    calls = []
    scattering.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    return calls


def test_fixed_filters_are_scattered_once_and_score_as_uncached(fmnist_root):
    cfg = make_cfg("fashion_mnist", *TINY, "scattering.learnable=false", root=fmnist_root)
    loaders, loss_fn = build_loaders(cfg), build_loss(cfg.train.loss)
    seed_everything(0)
    model = build_model(cfg)
    cache = EvalCache(model)
    calls = _counting(model.scattering)
    first = evaluate(*cache.inputs(loaders.test), loss_fn, CPU)
    assert sum(calls) == len(loaders.test_indices)
    with torch.no_grad():  # the head learns between evaluations; the coefficients stay
        for p in model.head.parameters():
            p.add_(0.1 * torch.randn_like(p))
    cached = evaluate(*cache.inputs(loaders.test), loss_fn, CPU)
    assert sum(calls) == len(loaders.test_indices)  # not scattered again
    uncached = evaluate(model, loaders.test, loss_fn, CPU)
    assert cached == uncached and cached != first


def test_learnable_filters_and_oversized_caches_are_evaluated_on_the_images(fmnist_root):
    cfg = make_cfg("fashion_mnist", *TINY, root=fmnist_root)
    loaders = build_loaders(cfg)
    model = build_model(cfg)
    assert EvalCache(model).inputs(loaders.test) == (model, loaders.test)
    fixed = build_model(make_cfg("fashion_mnist", *TINY, "scattering.learnable=false", root=fmnist_root))
    assert EvalCache(fixed, max_bytes=100).inputs(loaders.test) == (fixed, loaders.test)


def test_a_fixed_filter_run_reports_what_the_uncached_evaluation_gives(fmnist_root):
    cfg = make_cfg(
        "fashion_mnist", *TINY, "scattering.learnable=false", "train.epochs=3", "train.test_every=2", root=fmnist_root
    )
    seed_everything(cfg.general.seed)
    model = build_model(cfg)
    calls = _counting(model.scattering)
    result = train(cfg, NullLogger(), model=model)
    n_train, n_test = cfg.dataset.train_sample_num, cfg.dataset.test_sample_num
    assert sum(calls) == 3 * n_train + n_test  # two test epochs, one scattering pass over the test images
    scored = evaluate(model, build_loaders(cfg).test, build_loss(cfg.train.loss), CPU)
    assert {k: result.history[-1][k] for k in scored} == scored
