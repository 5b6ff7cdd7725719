import pytest
import torch


@pytest.fixture(autouse=True)
def _seeded() -> None:
    # build_model draws head weights from the global RNG and leaves seeding to its caller, as the training loop does.
    torch.manual_seed(0)
