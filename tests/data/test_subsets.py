import numpy as np
import pytest

from parametricSN.data import DatasetError, balanced_subset, derive_seed
from parametricSN.data.splits import Split
from parametricSN.data.subsets import TEST_SUBSET, TRAIN_SUBSET, original_order, paper_subset, rng, select_subset

LABELS = np.random.default_rng(123).permutation(np.repeat(np.arange(10), 50))  # 500 items, 50 per class


@pytest.mark.parametrize("n", [10, 100, 500])
def test_exactly_class_balanced_without_repeats(n):
    idx = balanced_subset(LABELS, n, seed=7, num_classes=10)
    assert len(idx) == n and len(np.unique(idx)) == n
    assert np.array_equal(np.bincount(LABELS[idx], minlength=10), [n // 10] * 10)
    assert np.all(np.diff(idx) > 0) and idx.dtype == np.int64


def test_same_seed_same_subset_other_seed_other_subset():
    a = balanced_subset(LABELS, 100, seed=1, num_classes=10)
    assert np.array_equal(a, balanced_subset(LABELS.copy(), 100, seed=1, num_classes=10))
    assert not np.array_equal(a, balanced_subset(LABELS, 100, seed=2, num_classes=10))
    # train and test streams are independent draws for the same seed
    assert not np.array_equal(a, balanced_subset(LABELS, 100, seed=1, num_classes=10, stream=TEST_SUBSET))


def test_subset_is_pinned_across_machines():
    """PCG64 seeded through SeedSequence is specified bit for bit; these values were computed once and must
    not change with the machine, the OS or the number of threads (a change here means subsets of old runs
    can no longer be reproduced)."""
    labels = np.arange(30) % 3
    assert balanced_subset(labels, 6, seed=0, num_classes=3, stream=TRAIN_SUBSET).tolist() == [7, 12, 14, 17, 18, 28]
    assert derive_seed(0, 3, 1, 5) == 5699867977089253342
    assert rng(0, 2, 0).permutation(8).tolist() == [5, 2, 6, 0, 7, 1, 4, 3]


def test_none_selects_everything():
    assert np.array_equal(balanced_subset(LABELS, None, seed=0, num_classes=10), np.arange(500))


def test_errors():
    with pytest.raises(DatasetError, match="class 3 \\(cat\\) has 2 images but the subset of 30 needs 3"):
        labels = np.repeat(np.arange(10), 3)
        labels[labels == 3] = 4
        labels = np.concatenate([labels, [3, 3]])
        names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
        balanced_subset(labels, 30, seed=0, num_classes=10, classes=names)
    with pytest.raises(DatasetError, match="positive multiple of the 10 classes"):
        balanced_subset(LABELS, 15, seed=0, num_classes=10)


def test_negative_seeds_are_valid_and_distinct():
    assert not np.array_equal(
        balanced_subset(LABELS, 10, seed=-1, num_classes=10), balanced_subset(LABELS, 10, seed=1, num_classes=10)
    )
    assert 0 <= derive_seed(-5, 0) < 2**63


# dataset order of a small fake split: classes of 7, 6 and 8 items, so m = 6 (the smallest class)
PAPER_LABELS = np.array([2, 0, 1, 0, 2, 1, 0, 0, 2, 1, 2, 0, 1, 2, 0, 1, 2, 2, 0, 1, 2])
# I_0 = [1, 3, 6, 7, 11, 14, 18], I_1 = [2, 5, 9, 12, 15, 19], I_2 = [0, 4, 8, 10, 13, 16, 17, 20]
# RandomState(207715039).permutation(6) = [5, 1, 4, 0, 2, 3]


@pytest.mark.parametrize(
    "n, expected",
    [
        (6, [3, 4, 5, 14, 16, 19]),  # positions 5, 1 of every class: I_0 -> 14, 3; I_1 -> 19, 5; I_2 -> 16, 4
        (12, [0, 1, 2, 3, 4, 5, 11, 13, 14, 15, 16, 19]),  # positions 5, 1, 4, 0
    ],
)
def test_paper_subset_takes_the_same_permutation_positions_in_every_class(n, expected):
    assert np.random.RandomState(207715039).permutation(6).tolist() == [5, 1, 4, 0, 2, 3]
    idx = paper_subset(PAPER_LABELS, n, seed=207715039, num_classes=3)
    assert idx.tolist() == expected and idx.dtype == np.int64


def test_paper_subset_draws_afresh_per_split_and_checks_its_inputs():
    # a split whose smallest class has 3 items draws RandomState(seed).permutation(3) from a fresh state
    test_labels = np.array([1, 0, 0, 1, 0, 1, 1])  # I_0 = [1, 2, 4], I_1 = [0, 3, 5, 6]; m = 3
    positions = np.random.RandomState(0).permutation(3)[:2]
    assert paper_subset(test_labels, 4, seed=0, num_classes=2).tolist() == sorted(
        [[1, 2, 4][p] for p in positions] + [[0, 3, 5, 6][p] for p in positions]
    )
    assert paper_subset(test_labels, None, seed=0, num_classes=2).tolist() == list(range(7))
    split = Split("fake", np.zeros((21, 2, 2), np.uint8), PAPER_LABELS, ("a", "b", "c"), "L")
    assert select_subset("paper", split, 6, 207715039, 3, TRAIN_SUBSET).tolist() == [3, 4, 5, 14, 16, 19]
    assert np.array_equal(
        select_subset("balanced", split, 6, 7, 3, TEST_SUBSET), balanced_subset(PAPER_LABELS, 6, 7, 3, TEST_SUBSET)
    )
    with pytest.raises(DatasetError, match="class 1 has 6 images but the subset of 21 needs 7"):
        paper_subset(PAPER_LABELS, 21, seed=0, num_classes=3)
    with pytest.raises(ValueError, match="2\\*\\*32"):
        paper_subset(PAPER_LABELS, 6, seed=-1, num_classes=3)


def test_paper_subset_of_files_follows_imagefolder_order_by_path():
    """COVIDx lists its images in train.txt order; the paper read them through ImageFolder, sorted by file name
    within each class. Stored in reverse, the same files must give the same images."""
    names = [f"img{i:02d}.png" for i in range(21)]
    forward = Split("fake", [f"/d/{n}" for n in names], PAPER_LABELS, ("a", "b", "c"), "L")
    backward = Split("fake", [f"/d/{n}" for n in names[::-1]], PAPER_LABELS[::-1].copy(), ("a", "b", "c"), "L")
    assert original_order(backward).tolist() == list(range(20, -1, -1))
    chosen = select_subset("paper", forward, 6, 207715039, 3, TRAIN_SUBSET)
    chosen_back = select_subset("paper", backward, 6, 207715039, 3, TRAIN_SUBSET)
    assert sorted(backward.images[i] for i in chosen_back) == [forward.images[i] for i in chosen]
    assert chosen.tolist() == [3, 4, 5, 14, 16, 19]
