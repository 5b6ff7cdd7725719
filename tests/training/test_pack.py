"""train_pack: a pack of 3 members on the tiny Fashion-MNIST matches the 3 single runs.

Tolerance: per-epoch losses and filter motions agree to rel 1e-5 (measured: about 1e-7), trained weights to
1e-5, accuracies exactly (on this fixture; a flip would need two logits within ~1e-6). Not 0 because the pack
sums in another order: a batched matmul instead of ``addmm``, a grouped convolution instead of N convolutions,
BatchNorm statistics reduced over a wider tensor, the losses' float32 sum; each rounds differently in the last bit.
Subsets and augmented images are identical (asserted exactly).
"""

import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient

import parametricSN
from parametricSN.cli import main
from parametricSN.config import ConfigError
from parametricSN.data import build_loaders
from parametricSN.models import build_model
from parametricSN.tracking import MlflowLogger, load_model
from parametricSN.training import evaluate, seed_everything, train
from parametricSN.training import pack as pack_module
from parametricSN.training.divergence import DivergenceError
from parametricSN.training.losses import build_loss
from parametricSN.training.pack import train_pack
from tests.configs import TINY, make_cfg
from tests.training.fixtures import RecordingLogger

# both inits, learnable and fixed in one pack: the values that may differ inside a pack
MEMBERS = [(1, "tight-frame", "true"), (2, "random", "false"), (3, "random", "true")]
HEADS = {"linear": [], "hybrid-wrn": ["model.name=hybrid-wrn", "model.width=1", "model.depth=1"]}
RTOL, ATOL = 1e-5, 1e-6


def tiny_cfg(root, *overrides):
    return make_cfg("fashion_mnist", *TINY, *overrides, root=root)


def member_cfgs(root, *extra):
    return [
        tiny_cfg(root, f"general.seed={s}", f"scattering.init={i}", f"scattering.learnable={lrn}", *extra)
        for s, i, lrn in MEMBERS
    ]


def record_train_inputs(model, store):
    model.register_forward_pre_hook(lambda m, args: store.append(args[0].detach().clone()) if m.training else None)
    return model


@pytest.mark.parametrize("head", sorted(HEADS))
def test_pack_members_equal_their_single_runs(fmnist_root, monkeypatch, head):
    cfgs = member_cfgs(fmnist_root, "dataset.augment=resize-crop", *HEADS[head])
    single_inputs, single_models, singles = [], [], []
    for cfg in cfgs:
        seed_everything(cfg.general.seed)  # as train() builds its model
        inputs = []
        model = record_train_inputs(build_model(cfg), inputs)
        singles.append(train(cfg, RecordingLogger(), model=model))
        single_inputs.append(inputs)
        single_models.append(model)

    packed_inputs, members = [], []
    pack_models = pack_module.pack_models

    def recording_pack(models, name):
        members.extend(models)
        return record_train_inputs(pack_models(models, name), packed_inputs)

    monkeypatch.setattr(pack_module, "pack_models", recording_pack)
    loggers = [RecordingLogger() for _ in cfgs]
    results = train_pack(cfgs, loggers)

    for p, (single, result, logger) in enumerate(zip(singles, results, loggers)):
        # the same augmented images, batch by batch, in the same order
        assert len(single_inputs[p]) == len(packed_inputs) == 2 * 3  # 2 epochs x 3 batches
        for a, b in zip(single_inputs[p], packed_inputs):
            assert torch.equal(a, b[p])
        assert [h.keys() for h in result.history] == [h.keys() for h in single.history]
        for hs, hp in zip(single.history, result.history):
            for key, value in hs.items():
                if key.endswith("_acc"):
                    assert hp[key] == value, key
                else:
                    assert hp[key] == pytest.approx(value, rel=RTOL, abs=ATOL), key
        assert result.test_acc == single.test_acc
        assert logger.metrics == {h["epoch"]: {k: v for k, v in h.items() if k != "epoch"} for h in result.history}
        assert logger.ended == "FINISHED"
        # trained weights and per-member BatchNorm statistics (unpacked into the member after training)
        for name, value in single_models[p].state_dict().items():
            torch.testing.assert_close(members[p].state_dict()[name], value, rtol=RTOL, atol=RTOL, msg=name)
    assert "motion_theta" in results[0].history[-1] and "motion_theta" not in results[1].history[-1]
    assert "lr_orientation" not in results[1].history[0]  # the fixed member logs its own groups only
    first_bn = next(k for k in members[0].state_dict() if k.endswith("running_mean"))
    running = [m.state_dict()[first_bn] for m in members]
    assert not torch.equal(running[0], running[1])  # members keep their own statistics


def test_packed_runs_are_logged_and_reload_like_single_runs(fmnist_root, mlflow_uri):
    cfgs = member_cfgs(fmnist_root, f"mlflow.tracking_uri={mlflow_uri}", "train.save_model=true")[:2]
    results = parametricSN.train_pack(cfgs)  # MLflow for each member
    client = MlflowClient(mlflow_uri)
    single_cfg = tiny_cfg(fmnist_root, f"mlflow.tracking_uri={mlflow_uri}", "train.save_model=true")
    single = train(single_cfg, MlflowLogger.from_config(single_cfg))
    single_run = client.get_run(single.run_id)
    pack_ids = set()
    for p, (cfg, result) in enumerate(zip(cfgs, results)):
        run = client.get_run(result.run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params == {k: str(v) for k, v in cfg.flat().items()}
        assert set(run.data.metrics) == set(single_run.data.metrics) - (
            {
                "motion_theta",
                "motion_xi",
                "motion_sigma",
                "motion_slant",
                "lr_orientation",
                "lr_scattering",
                "frame_A",
                "frame_distance",
                "frame_B",
            }
            if p == 1
            else set()
        )
        assert run.data.tags["pack_index"] == str(p) and run.data.tags["pack_size"] == "2"
        pack_ids.add(run.data.tags["pack_id"])
        model = load_model(result.run_id, tracking_uri=mlflow_uri)
        scored = evaluate(model, build_loaders(cfg).test, build_loss(cfg.train.loss), torch.device("cpu"))
        assert scored["test_acc"] == run.data.metrics["test_acc"] == result.test_acc
    assert len(pack_ids) == 1


def test_what_cannot_be_packed_is_one_clear_error(fmnist_root):
    with pytest.raises(ConfigError, match="model.name: head 'resnet50' cannot be packed"):
        train_pack(member_cfgs(fmnist_root, "model.name=resnet50"), [RecordingLogger()] * 3)
    with pytest.raises(ConfigError, match="differ in dataset.train_sample_num; inside a pack only general.seed"):
        train_pack(
            [tiny_cfg(fmnist_root), tiny_cfg(fmnist_root, "dataset.train_sample_num=10")], [RecordingLogger()] * 2
        )


def test_psn_train_seeds_packs_them(tmp_path, fmnist_root, mlflow_uri, capsys):
    # in process; real `psn train --seeds` processes are signalled and resumed in tests/test_reliability_processes.py
    path = tmp_path / "run.yaml"
    path.write_text(tiny_cfg(fmnist_root, f"mlflow.tracking_uri={mlflow_uri}", "train.epochs=1").to_yaml())
    assert main(["train", "-c", str(path), "--seeds", "4,7", "scattering.L=2"]) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    assert [o["seed"] for o in out] == [4, 7]
    client = MlflowClient(mlflow_uri)
    for index, o in enumerate(out):
        run = client.get_run(o["run_id"])
        assert run.info.status == "FINISHED" and run.data.params["general.seed"] == str(o["seed"])
        assert run.data.params["scattering.L"] == "2" and run.data.tags["pack_index"] == str(index)
        assert o["test_acc"] == round(run.data.metrics["test_acc"], 2)


def test_psn_train_seeds_must_be_distinct_integers(tmp_path, capsys):
    for seeds, message in (("1,x", "expected comma-separated integers"), ("1,1", "seeds must be distinct")):
        assert main(["train", "-c", str(tmp_path / "any.yaml"), "--seeds", seeds]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1  # one line, argparse's usage left out


def test_a_diverging_member_fails_the_whole_pack_by_name(fmnist_root):
    cfgs = member_cfgs(fmnist_root, "optim.max_lr=1e30")
    loggers = [RecordingLogger() for _ in cfgs]
    with pytest.raises(
        DivergenceError,
        match=r"diverged in epoch 1: the training loss of pack member 0 \(seed 1, "
        r"run recorded\) is nan; .*pack member 2 \(seed 3",
    ):
        train_pack(cfgs, loggers)
    assert [lg.ended for lg in loggers] == ["FAILED"] * 3 and all(not lg.metrics for lg in loggers)


def test_a_pack_checkpoints_in_its_first_run_and_resumes_exactly(fmnist_root):
    cfgs = member_cfgs(fmnist_root, "train.checkpoint_every=1", "optim.scheduler=step")[:2]
    loggers = [RecordingLogger() for _ in cfgs]
    results = train_pack(cfgs, loggers)
    assert len(loggers[0].checkpoints) == 2 and loggers[1].checkpoints == []  # epochs 1 and 2, in member 0's run
    last = loggers[0].checkpoints[-1]
    assert [m["history"] for m in last["members"]] == [r.history for r in results]
    assert [m["config"]["general"]["seed"] for m in last["members"]] == [1, 2]

    torch.manual_seed(12345)  # scramble the global generator: the checkpoint restores it
    resumed = train_pack(cfgs, [RecordingLogger() for _ in cfgs], resume=loggers[0].checkpoints[0])
    assert [r.history for r in resumed] == [r.history for r in results]  # bit for bit on CPU
