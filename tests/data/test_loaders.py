import shutil

import numpy as np
import pytest
import torch

from parametricSN.config import ConfigError
from parametricSN.data import DatasetError, build_loaders, read_splits
from parametricSN.data.subsets import paper_subset
from tests.configs import make_cfg
from tests.data import fakes

WRITERS = {
    "cifar": lambda root: fakes.write_cifar(root, train_per_class=4, test_per_class=2),
    "cifar-imagefolder": lambda root: fakes.write_cifar_folder(root, train_per_class=3, test_per_class=2),
    "fashion_mnist": lambda root: fakes.write_fashion_mnist(root, gz=True),
    "kth": lambda root: fakes.write_kth(root, per_sample=2),
    "covidx": lambda root: fakes.write_covidx(root, train_per_class=4, test_per_class=2),
}
# dataset -> (config overrides, channels, side, test split size)
CASES = {
    "cifar": ((), 3, 32, 20),
    "cifar-imagefolder": (("dataset.format=imagefolder",), 3, 32, 20),
    "fashion_mnist": ((), 1, 28, 20),
    "kth": (("dataset.sample=b",), 3, 32, 66),
    "covidx": ((), 1, 32, 4),
}


def _cfg(tmp_path, case, *overrides):
    WRITERS[case](tmp_path)
    name = case.split("-")[0]
    return make_cfg(name, *CASES[case][0], *overrides, root=tmp_path)


def _epoch(loaders, epoch):
    loaders.set_epoch(epoch)
    xs, ys = zip(*loaders.train)
    return torch.cat(xs), torch.cat(ys)


@pytest.mark.parametrize("case", list(CASES))
def test_loaders_for_every_dataset(tmp_path, case):
    cfg = _cfg(tmp_path, case)
    _, channels, side, n_test = CASES[case]
    loaders = build_loaders(cfg)
    assert loaders.num_classes == cfg.num_classes and loaders.in_channels == channels == cfg.in_channels
    assert len(loaders.classes) == cfg.num_classes
    batches = list(loaders.train)
    x, y = batches[0]
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.shape == (min(8, cfg.dataset.train_sample_num), channels, side, side)
    sizes = [len(b[1]) for b in batches]
    n = cfg.dataset.train_sample_num
    assert sum(sizes) == n and sizes[:-1] == [8] * (len(sizes) - 1)  # short last batch kept
    labels = torch.cat([b[1] for b in batches]).numpy()
    assert np.array_equal(np.bincount(labels, minlength=cfg.num_classes), [n // cfg.num_classes] * cfg.num_classes)
    train_split, test_split = read_splits(cfg)
    assert np.array_equal(np.sort(labels), np.sort(train_split.labels[loaders.train_indices]))
    assert len(loaders.test.dataset) == n_test and np.array_equal(loaders.test_indices, np.arange(n_test))
    assert not set(loaders.train.dataset.keys()) & set(loaders.test.dataset.keys())
    assert loaders.train.pin_memory is False  # device auto on a machine without CUDA, or cpu


def test_kth_train_and_test_come_from_different_physical_samples(tmp_path):
    loaders = build_loaders(_cfg(tmp_path, "kth", "dataset.train_sample_num=11"))
    train_samples = {p.parent.name for p in loaders.train.dataset.split.images}
    test_samples = {p.parent.name for p in loaders.test.dataset.split.images}
    assert train_samples == {"sample_b"} and test_samples == {"sample_a", "sample_c", "sample_d"}


def test_test_loader_is_sequential_and_unaugmented(tmp_path):
    cfg = _cfg(tmp_path, "cifar", "dataset.test_sample_num=10", "dataset.augment=autoaugment")
    loaders = build_loaders(cfg)
    _, test_split = read_splits(cfg)
    x, y = (torch.cat(t) for t in zip(*loaders.test))
    mean, std = torch.tensor([125.3, 123.0, 113.9]) / 255, torch.tensor([63.0, 62.1, 66.7]) / 255
    i = int(loaders.test_indices[3])
    expected = (torch.from_numpy(test_split.images[i]).permute(2, 0, 1) / 255 - mean[:, None, None]) / std[
        :, None, None
    ]
    assert torch.allclose(x[3], expected, atol=1e-6) and y[3] == test_split.labels[i]
    assert np.array_equal(y.numpy(), test_split.labels[loaders.test_indices])  # index order
    assert np.array_equal(np.bincount(y.numpy(), minlength=10), [1] * 10)


def test_same_seed_same_subset_other_seed_other_subset(tmp_path):
    cfg = _cfg(tmp_path, "cifar", "dataset.train_sample_num=10", "general.seed=1")
    a = build_loaders(cfg).train_indices
    assert np.array_equal(a, build_loaders(cfg).train_indices)
    cfg2 = make_cfg("cifar", "dataset.train_sample_num=10", "general.seed=2", root=tmp_path)
    assert not np.array_equal(a, build_loaders(cfg2).train_indices)


def test_subset_paper_selects_the_papers_images_in_both_splits(tmp_path):
    cfg = _cfg(
        tmp_path,
        "cifar",
        "dataset.train_sample_num=20",
        "dataset.test_sample_num=10",
        "dataset.subset=paper",
        "general.seed=207715039",
    )
    loaders = build_loaders(cfg)
    train, test = read_splits(cfg)
    assert loaders.train_indices.tolist() == paper_subset(train.labels, 20, 207715039, 10).tolist()
    assert loaders.test_indices.tolist() == paper_subset(test.labels, 10, 207715039, 10).tolist()
    with pytest.raises(ConfigError, match="general.seed"):
        make_cfg("cifar", "dataset.subset=paper", "general.seed=-3", root=tmp_path)


def test_epochs_fix_order_and_augmentation(tmp_path):
    loaders = build_loaders(_cfg(tmp_path, "cifar", "dataset.augment=autoaugment"))
    x0, y0 = _epoch(loaders, 0)
    x0b, y0b = _epoch(loaders, 0)
    x1, y1 = _epoch(loaders, 1)
    assert torch.equal(x0, x0b) and torch.equal(y0, y0b)
    sampler = loaders.train.sampler
    assert not np.array_equal(sampler.order(0), sampler.order(1))
    assert sorted(sampler.order(1).tolist()) == list(range(20))
    assert not torch.equal(x0, x1)
    # the same item gets another augmentation at another epoch, whatever its position in the batches
    ds = loaders.train.dataset
    assert not torch.equal(ds[(0, 5)][0], ds[(1, 5)][0]) and torch.equal(ds[(1, 5)][0], ds[(1, 5)][0])


def test_iterating_leaves_global_rng_alone(tmp_path):
    loaders = build_loaders(_cfg(tmp_path, "cifar", "dataset.augment=autoaugment"))
    torch.manual_seed(123)
    state = torch.get_rng_state()
    _epoch(loaders, 0)
    list(loaders.test)
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("case,augment", [("cifar", "autoaugment"), ("kth", "resize-crop")])
def test_batches_do_not_depend_on_num_workers(tmp_path, case, augment):
    WRITERS[case](tmp_path)
    runs = []
    for workers in (0, 2):
        cfg = make_cfg(
            case, *CASES[case][0], f"dataset.augment={augment}", f"general.num_workers={workers}", root=tmp_path
        )
        loaders = build_loaders(cfg)
        assert loaders.train.num_workers == workers
        runs.append([_epoch(loaders, e) for e in (0, 1)] + [tuple(torch.cat(t) for t in zip(*loaders.test))])
        del loaders  # shut the persistent workers down
    for (xa, ya), (xb, yb) in zip(*runs):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)  # bit-identical
    assert not torch.equal(runs[0][0][0], runs[0][1][0])  # and the two epochs do differ


def test_dataset_errors_surface_from_build_loaders(tmp_path):
    with pytest.raises(DatasetError, match="needs 3 per class.*lower the sample count"):
        build_loaders(_cfg(tmp_path, "cifar-imagefolder", "dataset.train_sample_num=30", "dataset.test_sample_num=30"))
    shutil.rmtree(tmp_path / "train" / "truck")
    shutil.rmtree(tmp_path / "test" / "truck")
    with pytest.raises(DatasetError, match="found 9 classes.*cifar has 10"):
        build_loaders(make_cfg("cifar", "dataset.format=imagefolder", "dataset.train_sample_num=10", root=tmp_path))


def test_overlap_keys_see_the_same_image_in_two_splits(tmp_path):
    """The disjointness check above compares content for in-memory images: the same pixels in the test split
    would be caught, whatever their positions."""
    loaders = build_loaders(_cfg(tmp_path, "cifar"))
    train, test = loaders.train.dataset.split, loaders.test.dataset.split
    leaked = type(test)(
        test.name,
        np.concatenate([test.images, train.images[:1]]),
        np.concatenate([test.labels, train.labels[:1]]),
        test.classes,
        test.mode,
    )
    assert train.key(0) in {leaked.key(i) for i in range(len(leaked))}


def test_loading_an_item_leaves_the_cuda_generators_alone(tmp_path, monkeypatch):
    """Seeding an item's augmentation must touch the CPU generator only: reseeding CUDA in the main process
    would make CUDA dropout depend on num_workers."""
    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: calls.append(seed))
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda seed: calls.append(seed))
    loaders = build_loaders(_cfg(tmp_path, "cifar"))
    loaders.set_epoch(1)
    next(iter(loaders.train))
    assert calls == []
