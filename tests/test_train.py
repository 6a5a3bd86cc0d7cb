"""Training engine: learning, ensemble = single runs, resume, stopped members, SGD semantics, spec errors."""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from srhm import SRHM, Batch, encode, precision, theory
from srhm.analysis import sample_complexities
from srhm.architectures import HIERARCHICAL
from srhm.paths import pool_stem
from srhm.io import read_json
from srhm.models import build_model
from srhm.models.single import StackedNets
from srhm.protocol import DIVERGED_STOP, MemberSpec, TrainSpec, paper_base_lr, paper_lr_scale
from srhm.runs import collect_runs
from srhm.streams import stream
from srhm.train import AutogradGroup, EnsembleTrainer, train_ensemble, untrained
from srhm.train_state import TrainingState

SMALL = dict(v=3, n_classes=3, s=2, s0=1, L=2)  # m = 3, d = 16, P_max = 5184
M = 3
N_TEST = 1000
RUNTIME = dict(threads=1, progress_every_s=1e9)
WALL_FIELDS = ("wall_time_s", "ensemble_wall_time_s", "ensemble_flops", "ensemble_gflop_per_s", "job", "out_dir", "spec",
               "n_members", "device", "code_version")


@pytest.fixture(scope="module")
def pools(tmp_path_factory) -> dict[int, str]:
    """Two pools of the small SRHM (grammar and sample seeds 0 and 1), 5000 distinct samples each."""
    folder = tmp_path_factory.mktemp("pools")
    paths = {}
    for seed in (0, 1):
        ds = SRHM(m=M, seed=seed, **SMALL)
        path = folder / f"{pool_stem(ds.name, 5000)}.npz"
        ds.sample(5000, seed=seed).save(path, **ds.params)
        paths[seed] = str(path)
    return paths


def make_spec(tmp_path, pools, members, **fields) -> TrainSpec:
    """members: (pool seed, P, seed) triples; out_dirs are tmp_path/<prefix>P<P>_seed<seed>_pool<pool>."""
    prefix = fields.pop("prefix", "")
    specs = [MemberSpec(pool=pools[pool], P=P, seed=seed, out_dir=str(tmp_path / f"{prefix}P{P}_seed{seed}_pool{pool}"))
             for pool, P, seed in members]
    return TrainSpec(**{**SMALL, "n_test": N_TEST, "members": specs, **RUNTIME, **fields})


def comparable(metrics: dict) -> dict:
    """Metrics without the fields that depend on wall time, placement or the ensemble around a member."""
    return {k: v for k, v in metrics.items() if k not in WALL_FIELDS}


def load_weights(out_dir) -> dict:
    return torch.load(f"{out_dir}/model.pt", weights_only=True)


# ------------------------------------------------------------------------------------------ learning


@pytest.mark.parametrize("arch, p_star", [("lcn", theory.p_star_lcn(3, M, 2, 2, 1)), ("cnn", theory.p_star_cnn(3, M, 2, 1))])
def test_learns_small_srhm_at_ten_times_p_star(tmp_path, pools, arch, p_star):
    """At P = 10 P* (2160 for the LCN, 1080 for the CNN) the best test error falls below 10%."""
    P = int(10 * p_star)
    assert P + N_TEST <= 5000 <= SRHM(m=M, **SMALL).P_max
    spec = make_spec(tmp_path, pools, [(0, P, 0)], arch=arch, width=64, max_epochs=10, eval_every=5)
    (metrics,) = train_ensemble(spec)
    assert metrics["best_test_error"] < 0.10
    assert metrics["protocol"]["lr"] == pytest.approx(paper_base_lr(arch, 2, 1, 2) * 64)
    assert metrics["curves"]["train_loss"][-1] < metrics["curves"]["train_loss"][0]


# ------------------------------------------------------------------------------------- ensembles


MIXED = [(0, 30, 0), (0, 50, 1), (1, 30, 0), (1, 41, 2)]  # different P (partial last batches), pools, seeds


@pytest.mark.parametrize("arch", ["lcn", "cnn", "fcn"])
def test_ensemble_members_reproduce_single_runs(tmp_path, pools, arch):
    """Each member of a mixed ensemble trains as it would alone: same curves and epochs, weights close."""
    common = dict(arch=arch, width=16, base_lr=0.05, max_epochs=40, eval_every=4, loss_threshold=0.05)
    ensemble = train_ensemble(make_spec(tmp_path, pools, MIXED, prefix="ens_", **common))
    assert len({m["epochs"] for m in ensemble}) > 1, "members should stop at different epochs"
    for member, together in zip(MIXED, ensemble):
        (alone,) = train_ensemble(make_spec(tmp_path, pools, [member], prefix="one_", **common))
        assert alone["epochs"] == together["epochs"] and alone["steps"] == together["steps"]
        assert alone["curves"]["eval_epoch"] == together["curves"]["eval_epoch"]
        np.testing.assert_allclose(together["curves"]["train_loss"], alone["curves"]["train_loss"], rtol=1e-4)
        np.testing.assert_allclose(together["curves"]["test_loss"], alone["curves"]["test_loss"], rtol=1e-4)
        np.testing.assert_allclose(together["curves"]["test_error"], alone["curves"]["test_error"], atol=2 / N_TEST)
        weights_together, weights_alone = load_weights(together["out_dir"]), load_weights(alone["out_dir"])
        for key, value in weights_alone["final"].items():
            torch.testing.assert_close(weights_together["final"][key], value, rtol=1e-4, atol=1e-5)


def test_stopped_member_no_longer_changes(tmp_path, pools):
    """Once a member stops, its weights stay bit-identical while the others keep training."""
    spec = make_spec(tmp_path, pools, [(0, 12, 0), (0, 60, 1)], arch="lcn", width=16, base_lr=0.1,
                     max_epochs=40, loss_threshold=0.05)
    trainer = EnsembleTrainer(spec)
    while trainer.state.active[0]:
        trainer.run(max_steps=1)
    assert trainer.state.active[1], "the larger member should still be training"
    at_stop, steps_at_stop = trainer.member_state(0), trainer.state.steps.copy()
    trainer.run()
    assert trainer.state.steps[1] > steps_at_stop[1] and trainer.state.steps[0] == steps_at_stop[0]
    trainer.finish()
    final = load_weights(spec.members[0].out_dir)["final"]
    assert final.keys() == at_stop.keys()
    assert all(torch.equal(final[k], at_stop[k]) for k in at_stop)


# ---------------------------------------------------------------------------------------- resume


RESUME_MEMBERS = [(0, 24, 0), (1, 37, 1), (0, 12, 2)]
RESUME_PROTOCOL = dict(arch="lcn", width=16, base_lr=0.1, max_epochs=30, eval_every=3, loss_threshold=0.05)


def assert_same_training(reference: list[dict], resumed: list[dict]) -> None:
    """Identical metrics (up to wall time and paths) and bit-identical final and best weights."""
    for ref, res in zip(reference, resumed):
        assert comparable(ref) == comparable(res)
        w_ref, w_res = load_weights(ref["out_dir"]), load_weights(res["out_dir"])
        for which in ("final", "best"):
            assert all(torch.equal(w_ref[which][k], w_res[which][k]) for k in w_ref[which])


@pytest.mark.parametrize("interruptions, checkpoint_every_s", [((7,), 300.0), ((3, 40), 0.0)])
def test_resume_after_interruption_is_bit_identical(tmp_path, pools, interruptions, checkpoint_every_s):
    """A trainer dropped after k steps and resumed from its last checkpoint (saved by hand, or by run() when
    the interval has passed) ends exactly as an uninterrupted run, also when a member had already stopped."""
    reference = train_ensemble(make_spec(tmp_path, pools, RESUME_MEMBERS, prefix="ref_", **RESUME_PROTOCOL))
    spec = make_spec(tmp_path, pools, RESUME_MEMBERS, prefix="res_", checkpoint=str(tmp_path / "ck.pt"),
                     checkpoint_every_s=checkpoint_every_s, **RESUME_PROTOCOL)
    for steps in interruptions:
        trainer = EnsembleTrainer(spec)
        assert not trainer.run(max_steps=steps)
        if checkpoint_every_s > 0:
            trainer.save_checkpoint()
    if len(interruptions) > 1:
        assert not trainer.state.active.all(), "the last interruption should come after a member stopped"
    del trainer
    resumed = train_ensemble(spec)
    assert not (tmp_path / "ck.pt").exists(), "the checkpoint is deleted once the outputs are written"
    assert_same_training(reference, resumed)


def test_resume_after_kill(tmp_path, pools):
    """SIGKILL a training process once it has checkpointed for a while, resume it here: same results."""
    reference = train_ensemble(make_spec(tmp_path, pools, RESUME_MEMBERS, prefix="ref_", **RESUME_PROTOCOL))
    checkpoint = tmp_path / "ck.pt"
    spec = make_spec(tmp_path, pools, RESUME_MEMBERS, prefix="res_", checkpoint=str(checkpoint),
                     checkpoint_every_s=0.0, **{**RESUME_PROTOCOL, "progress_every_s": 0.0})
    (tmp_path / "spec.json").write_text(json.dumps(spec.to_dict()))
    script = ("import json, sys; from srhm.protocol import TrainSpec; from srhm.train import train_ensemble; "
              "train_ensemble(TrainSpec.from_dict(json.load(open(sys.argv[1]))))")
    process = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "spec.json")], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:  # progress lines arrive after every step; kill well into the training
        if line.startswith("[") and " step 20:" in line:
            break
    process.kill()
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL and checkpoint.is_file()
    assert not any((tmp_path / f"res_P{P}_seed{seed}_pool{pool}").exists() for pool, P, seed in RESUME_MEMBERS)
    assert_same_training(reference, train_ensemble(spec))


def test_rerun_after_kill_with_a_changed_spec_needs_no_cleanup(tmp_path, pools):
    """`srhm train` killed after it checkpointed, then rerun with another max_epochs: it trains afresh."""
    checkpoint = tmp_path / "ck.pt"
    spec = make_spec(tmp_path, pools, RESUME_MEMBERS, **{**RESUME_PROTOCOL, "progress_every_s": 0.0})
    command = [sys.executable, "-m", "srhm", "train", "--checkpoint", str(checkpoint), "--checkpoint-every", "0",
               "--threads", "1", "--spec"]
    process = subprocess.Popen([*command, json.dumps(spec.to_dict())], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if line.startswith("[") and " step 10:" in line:
            break
    process.kill()
    process.wait(timeout=30)
    assert checkpoint.is_file()
    changed = dataclasses.replace(spec, max_epochs=RESUME_PROTOCOL["max_epochs"] - 5)
    done = subprocess.run([*command, json.dumps(changed.to_dict())], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "moved to" in done.stdout and (tmp_path / "ck.pt.stale").is_file() and not checkpoint.exists()
    reference = train_ensemble(dataclasses.replace(changed, members=tuple(
        dataclasses.replace(m, out_dir=m.out_dir + "_ref") for m in changed.members)))
    for member, ref in zip(changed.members, reference):
        assert comparable(read_json(f"{member.out_dir}/metrics.json")) == comparable(ref)


def test_checkpoint_of_another_spec_is_moved_aside(tmp_path, pools, capsys):
    """A checkpoint written for another training spec (or unreadable) never blocks a rerun: it is moved to
    <checkpoint>.stale with a line in the log, and the training starts afresh, as if there were none."""
    checkpoint = tmp_path / "ck.pt"
    spec = make_spec(tmp_path, pools, [(0, 24, 0)], arch="lcn", width=8, max_epochs=6, checkpoint=str(checkpoint))
    trainer = EnsembleTrainer(spec)
    trainer.run(max_steps=2)
    trainer.save_checkpoint()
    EnsembleTrainer(dataclasses.replace(spec, progress_every_s=5.0, threads=2))  # runtime fields may change
    assert checkpoint.is_file() and "resumed" in capsys.readouterr().out
    other = dataclasses.replace(spec, max_epochs=4)
    (moved,) = train_ensemble(other)
    assert (tmp_path / "ck.pt.stale").is_file() and not checkpoint.exists()
    assert "not resumed: it was written for a different training spec; moved to" in capsys.readouterr().out
    (fresh,) = train_ensemble(dataclasses.replace(other, checkpoint=None, members=(
        dataclasses.replace(other.members[0], out_dir=str(tmp_path / "fresh")),)))
    assert_same_training([fresh], [moved])
    checkpoint.write_bytes(b"not a checkpoint")
    train_ensemble(other)
    assert "not resumed: it cannot be read" in capsys.readouterr().out and not checkpoint.exists()


def same_value(a, b) -> bool:
    """Equality of training-state values: arrays, tensors, generators, records and containers of them."""
    if isinstance(a, np.random.Generator):
        return a.bit_generator.state == b.bit_generator.state
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and same_value(dataclasses.asdict(a), dataclasses.asdict(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same_value, a, b))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and torch.equal(a, b)
    return type(a) is type(b) and a == b


def test_checkpoint_round_trips_every_field_of_the_training_state(tmp_path, pools):
    """A checkpoint holds each TrainingState field once, and a trainer resumed from it has the same state
    (a stopped member, best weights, RNG states, the epoch's partial loss), its wall time carried over."""
    spec = make_spec(tmp_path, pools, [(0, 30, 0), (1, 12, 1)], arch="lcn", width=8, max_epochs=6, eval_every=2,
                     checkpoint=str(tmp_path / "ck.pt"))
    trainer = EnsembleTrainer(spec)
    trainer.run(max_steps=8)
    assert trainer.state.active.tolist() == [True, False] and trainer.state.epoch_loss[0] > 0
    trainer.save_checkpoint()
    saved = torch.load(tmp_path / "ck.pt", weights_only=True)["state"]
    names = [field.name for field in dataclasses.fields(TrainingState)]
    assert sorted(saved) == sorted(names)
    resumed = EnsembleTrainer(spec).state
    for name in names:
        if name == "wall_before":
            assert resumed.wall_before == saved["wall_before"] > 0
        else:
            assert same_value(getattr(resumed, name), getattr(trainer.state, name)), name
    with pytest.raises(ValueError, match="must hold exactly the fields"):
        TrainingState.from_checkpoint({k: v for k, v in saved.items() if k != "perm"})


def test_batches_of_a_balanced_pool_hold_every_class_equally(tmp_path):
    """On a class-balanced pool each batch of batch_per_class * n_c holds batch_per_class of each class,
    every epoch, while the order within each class changes from epoch to epoch."""
    ds = SRHM(m=M, seed=0, **SMALL)
    path = tmp_path / "balanced.npz"
    ds.sample(N_TEST + 120, seed=0, balanced=True).save(path, **ds.params, sampling="balanced")
    batch = 4 * ds.n_classes
    spec = TrainSpec(**SMALL, n_test=N_TEST, arch="cnn", width=8, batch_size=batch, max_epochs=3, **RUNTIME,
                     members=(MemberSpec(pool=str(path), P=120, seed=0, out_dir=str(tmp_path / "run")),))
    trainer = EnsembleTrainer(spec)
    labels = trainer.pools.train_y.numpy()
    orders = []
    for _ in range(2):
        order = trainer.state.perm[:120].copy()
        assert sorted(order) == list(range(120)), "a permutation of the training rows"
        for begin in range(0, 120, batch):
            assert (np.bincount(labels[order[begin : begin + batch]], minlength=3) == 4).all()
        orders.append(order)
        trainer._new_permutation(0)
    assert not np.array_equal(*orders)


# ---------------------------------------------------------------------------------- SGD semantics


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_steps_follow_torch_sgd_on_the_member_order(tmp_path, pools, weight_decay):
    """Re-train one member with torch.optim.SGD on batches cut from its ("order", seed) permutations."""
    P, batch_size, epochs, lr = 30, 12, 3, 0.05
    spec = make_spec(tmp_path, pools, [(0, P, 4)], arch="cnn", width=8, base_lr=lr, lr_scale=1.0,
                     weight_decay=weight_decay, batch_size=batch_size, max_epochs=epochs, loss_threshold=1e-9)
    (metrics,) = train_ensemble(spec)
    pool, _ = Batch.load(pools[0])
    x, y = encode(pool.x[N_TEST : N_TEST + P], 3), torch.from_numpy(pool.y[N_TEST : N_TEST + P])
    net = build_model("cnn", **SMALL, width=8, init_seeds=(4,))
    optimiser = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    order, epoch_losses = stream("order", 4), []
    for _ in range(epochs):
        permutation, total = order.permutation(P), 0.0
        for begin in range(0, P, batch_size):
            rows = torch.from_numpy(permutation[begin : begin + batch_size])
            loss = F.cross_entropy(net(x[rows][None])[0], y[rows])
            total += loss.item() * len(rows)
            penalty = sum(p.pow(2).mean() for p in net.parameters())
            optimiser.zero_grad()
            (loss + weight_decay * penalty).backward()
            optimiser.step()
        epoch_losses.append(total / P)
    final = load_weights(spec.members[0].out_dir)["final"]
    for key, value in net.state_dict().items():
        torch.testing.assert_close(final[key], value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["curves"]["train_loss"], epoch_losses, rtol=1e-5)
    assert metrics["steps"] == epochs * math.ceil(P / batch_size)


@pytest.mark.parametrize("arch", HIERARCHICAL)
@pytest.mark.parametrize("bias, weight_decay", [(True, 0.0), (False, 0.01)])
def test_hand_written_step_equals_autograd_and_torch_sgd(arch, bias, weight_decay):
    """HierarchicalNet.sgd_step (forward, hand-written backward, momentum folded into the weight-gradient
    products) equals autograd through the module's forward followed by torch.optim.SGD, to float rounding,
    over steps with partial batches (zero-weighted rows), an L = 3 net and weight decay; its returned losses
    are the summed cross-entropies of the real samples."""
    torch.manual_seed(0)
    kw = dict(v=3, n_classes=4, s=2, s0=1, L=3, width=6, init_seeds=(0, 1, 2), bias=bias)
    fast, reference = build_model(arch, **kw), build_model(arch, **kw)
    optimiser = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9)
    buffers = [torch.zeros_like(p) for p in fast.parameters()]
    code = encode(torch.arange(-1, 3)[None], 3)[0].T.contiguous()
    for _ in range(6):
        symbols = torch.randint(-1, 3, (3, 7, fast.d), dtype=torch.int8)
        y, weight = torch.randint(0, 4, (3, 7)), torch.rand(3, 7)
        weight[1, 5:] = 0
        losses = fast.sgd_step(fast.symbol_patches(symbols, code), y, weight, buffers, lr=0.05, momentum=0.9,
                               weight_decay=weight_decay)
        per_sample = F.cross_entropy(reference(code[symbols.long() + 1].transpose(-1, -2)).flatten(0, 1), y.flatten(),
                                     reduction="none").view_as(weight)
        penalty = sum(p.pow(2).flatten(1).mean(1).sum() for p in reference.parameters())
        optimiser.zero_grad()
        ((per_sample * weight).sum() + weight_decay * penalty).backward()
        optimiser.step()
        torch.testing.assert_close(losses, (per_sample * (weight > 0)).sum(1).double().detach(), rtol=1e-5, atol=1e-6)
    for (name, a), b in zip(fast.named_parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


SYNC_CALLS = {"item", "tolist", "cpu", "cuda", "to", "numpy", "__array__", "__bool__", "__float__", "__int__",
              "__index__"}
"""Tensor calls that read a value back to the host (a device synchronisation) or move data between devices."""


class CallRecorder(TorchFunctionMode):
    """Records the name of every torch function and tensor method called while it is active."""

    def __init__(self):
        super().__init__()
        self.names: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("arch", ["lcn", "efficientnetb0"])
def test_training_steps_read_nothing_back_from_the_device(tmp_path, pools, arch):
    """Between epoch ends a step makes no host round trip (no .item(), .tolist(), .cpu(), no Python branch on a
    tensor value) and moves no data to the device: batches are cut on the device from device-side cursors.
    The recorder does see the reads of the per-epoch bookkeeping."""
    spec = make_spec(tmp_path, pools, [(0, 40, 0), (1, 48, 1)], arch=arch, max_epochs=5, batch_size=4, n_test=50,
                     **({"width": 8} if arch == "lcn" else {}))
    trainer = EnsembleTrainer(spec)
    trainer.run(max_steps=1)
    with CallRecorder() as recorder:
        trainer.run(max_steps=8)  # the 4-sample batches end no epoch before step 10
    assert trainer.state.epoch.sum() == 0 and recorder.names
    assert not SYNC_CALLS & set(recorder.names), sorted(SYNC_CALLS & set(recorder.names))
    with CallRecorder() as recorder:
        trainer.run(max_steps=4)  # the first epochs end: their losses are read back
    assert trainer.state.epoch.min() == 1 and "tolist" in recorder.names


@pytest.mark.parametrize("arch", ["cnn", "efficientnetb0"])
def test_bf16_trains_with_finite_losses_where_the_device_has_it(tmp_path, pools, monkeypatch, arch):
    """precision bf16 runs the products under bf16 autocast: finite losses close to fp32's, other weights; on a
    device without bf16 products it is refused before any training, naming the setting and what to use.
    (This CPU's support is stood in for by a patch where it has none: torch then runs bf16 products slowly.)"""
    common = dict(arch=arch, max_epochs=2, n_test=50, **({"width": 16} if arch == "cnn" else {"batch_size": 16}))
    (fp32,) = train_ensemble(make_spec(tmp_path, pools, [(0, 48, 0)], prefix="fp32_", **common))
    monkeypatch.setattr(precision, "bf16_supported", lambda device: True)
    (bf16,) = train_ensemble(make_spec(tmp_path, pools, [(0, 48, 0)], prefix="bf16_", precision="bf16", **common))
    assert bf16["precision"] == "bf16" and bf16["numerics"]["autocast_dtype"] == "bfloat16"
    assert np.isfinite(bf16["curves"]["train_loss"]).all() and bf16["stop_reason"] == "max epochs"
    np.testing.assert_allclose(bf16["curves"]["train_loss"][0], fp32["curves"]["train_loss"][0], rtol=0.25)
    assert bf16["curves"]["train_loss"] != fp32["curves"]["train_loss"]
    monkeypatch.setattr(precision, "bf16_supported", lambda device: False)
    with pytest.raises(ValueError, match=r"precision='bf16' needs a CUDA GPU with bf16 or a CPU with AVX512-BF16 or "
                                         r"AMX; this job runs on a CPU .*use precision 'fp32'"):
        EnsembleTrainer(make_spec(tmp_path, pools, [(0, 48, 0)], prefix="refused_", precision="bf16", **common))
    assert not (tmp_path / "refused_P48_seed0_pool0").exists()


def test_tf32_is_refused_without_a_cuda_gpu(tmp_path, pools):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ValueError, match="precision='tf32' needs a CUDA GPU of compute capability 8.0"):
        EnsembleTrainer(make_spec(tmp_path, pools, [(0, 48, 0)], arch="lcn", precision="tf32"))


def test_metrics_give_the_model_flops_and_the_numerics(tmp_path, pools):
    """Each member's FLOPs are its steps' real samples times the training step's FLOPs per sample plus its
    evaluations' test samples times the forward FLOPs, counted from the layer sizes (LCN, d = 16, k = 4, H = 8:
    4 x (4*3*8) + 4*8*8 + 8*3 multiply-adds forward); the job's total is their sum, its rate that over its wall
    time. fp32 on the CPU keeps torch's highest float32 matmul precision."""
    spec = make_spec(tmp_path, pools, [(0, 40, 0), (1, 25, 3)], arch="lcn", width=8, max_epochs=7, eval_every=5)
    returned = train_ensemble(spec)
    forward_macs = 4 * (4 * 3 * 8) + 4 * 8 * 8 + 8 * 3
    step = 2 * (forward_macs + forward_macs + (forward_macs - 4 * 4 * 3 * 8))
    for member, metrics in zip(spec.members, returned):
        assert metrics["flops_per_sample"] == {"forward": 2 * forward_macs, "train_step": step}
        evaluations = len(metrics["curves"]["eval_epoch"])
        assert metrics["flops"] == 7 * member.P * step + evaluations * N_TEST * 2 * forward_macs
        assert metrics["numerics"]["precision"] == metrics["precision"] == "fp32"
        assert metrics["numerics"]["float32_matmul_precision"] == "highest"
    total = sum(m["flops"] for m in returned)
    assert all(m["ensemble_flops"] == total for m in returned)
    assert returned[0]["ensemble_gflop_per_s"] == pytest.approx(total / returned[0]["ensemble_wall_time_s"] / 1e9)


# ---------------------------------------------------------------------------------------- outputs


def test_outputs_and_metrics(tmp_path, pools):
    spec = make_spec(tmp_path, pools, [(0, 40, 0), (1, 25, 3)], arch="lcn", width=8, max_epochs=23, eval_every=5)
    returned = train_ensemble(spec)
    for member, metrics in zip(spec.members, returned):
        assert read_json(f"{member.out_dir}/metrics.json") == json.loads(json.dumps(metrics))
        curves = metrics["curves"]
        assert metrics["epochs"] == len(curves["train_loss"]) == len(curves["epoch"]) == 23
        assert curves["eval_epoch"] == [5, 10, 15, 20, 23]
        assert len(curves["test_error"]) == len(curves["test_loss"]) == len(curves["eval_epoch"])
        assert metrics["steps"] == 23 * math.ceil(member.P / 12)
        assert metrics["best_test_error"] == min(curves["test_error"]) <= metrics["final_test_error"]
        assert metrics["final_test_error"] == curves["test_error"][-1]
        assert curves["eval_epoch"][curves["test_error"].index(metrics["best_test_error"])] == metrics["best_epoch"]
        assert metrics["stop_reason"] == "max epochs"
        assert metrics["P"] == member.P and metrics["seed"] == member.seed and metrics["pool"] == member.pool
        assert metrics["seeds"]["order_stream"] == ["order", member.seed]
        assert metrics["dataset"]["v"] == 3 and metrics["dataset"]["size"] == 5000
        assert metrics["protocol"]["batch_size"] == 12 and metrics["protocol"]["momentum"] == 0.9
        assert metrics["protocol"]["lr"] == paper_base_lr("lcn", 2, 1, 2) * paper_lr_scale("lcn", 8)
        assert metrics["device"] == "cpu" and metrics["code_version"]["srhm"]
        assert metrics["wall_time_s"] > 0
        log = (tmp_path / member.out_dir / "train.log").read_text().splitlines()
        assert len(log) == 1 + len(curves["eval_epoch"]) + 1
        assert log[0].startswith(f"training lcn on {member.pool} with P={member.P}") and "lr=" in log[0]
        assert all(line.startswith(f"epoch {epoch} ") for line, epoch in zip(log[1:], curves["eval_epoch"]))
        assert "stopped at epoch 23 (max epochs)" in log[-1]
        saved = load_weights(member.out_dir)
        for which in ("final", "best"):
            net = build_model(**saved["model"], init_seeds=(0,))
            net.load_state_dict(saved[which])
    # The best weights reproduce the best test error.
    member, metrics = spec.members[0], returned[0]
    pool, _ = Batch.load(member.pool)
    net = build_model(**load_weights(member.out_dir)["model"], init_seeds=(0,))
    net.load_state_dict(load_weights(member.out_dir)["best"])
    with torch.no_grad():
        logits = net(encode(pool.x[:N_TEST], 3)[None])[0]
    error = (logits.argmax(-1) != torch.from_numpy(pool.y[:N_TEST])).double().mean().item()
    assert error == pytest.approx(metrics["best_test_error"], abs=1e-12)


def test_collected_row_reads_its_model_from_metrics_whatever_the_folder(tmp_path, pools):
    """collect_runs names a run's model by srhm.paths.model_id of the arch and width in its metrics.json,
    also for a run folder not named like the plan's runs/{dataset}/{model}/P{P}_seed{seed}."""
    spec = make_spec(tmp_path, pools, [(0, 24, 0), (1, 12, 3)], arch="cnn", width=8, max_epochs=2,
                     prefix="elsewhere/")
    trained = train_ensemble(spec)
    table = collect_runs([m.out_dir for m in spec.members], "check", error_convention="final")
    assert list(table.columns) == [
        "experiment", "run", "dataset", "arch", "model", "width", "v", "n_classes", "m", "s", "L", "s0", "sparsity",
        "seed", "P", "test_error", "test_error_best", "test_error_final", "epochs", "steps", "stop_reason",
        "wall_time_s", "device", "precision", "job", "flops", "ensemble_flops", "ensemble_wall_time_s",
        "ensemble_gflop_per_s", "p_star_rhm", "p_star_lcn", "p_star_cnn"]
    rows = table.set_index("run").loc[[m.out_dir for m in spec.members]]
    assert list(rows["model"]) == ["cnn_H8", "cnn_H8"] and list(rows["experiment"]) == ["check", "check"]
    for (_, row), metrics in zip(rows.iterrows(), trained):
        assert (row["arch"], row["width"], row["seed"], row["P"]) == ("cnn", 8, metrics["seed"], metrics["P"])
        assert row["test_error"] == row["test_error_final"] == metrics["final_test_error"]
        assert row["test_error_best"] == metrics["best_test_error"]
        assert (row["epochs"], row["steps"], row["stop_reason"]) == (2, metrics["steps"], "max epochs")
        assert (row["wall_time_s"], row["device"]) == (metrics["wall_time_s"], "cpu")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "metrics.json").write_text(json.dumps({k: v for k, v in trained[0].items() if k != "model"}))
    with pytest.raises(ValueError, match="broken: its metrics.json has no 'model' entry"):
        collect_runs([str(broken)], "check")


def test_batch_norm_nets_train_stacked_as_alone(tmp_path):
    """Several BatchNorm nets of one spec train stacked (torch.func), each with its own BatchNorm statistics.
    A step of the stack equals each member's step alone to float rounding; over a whole training the members
    keep their own schedules (steps, epochs, evaluations; the shorter one stops first and leaves the stack) and
    curves close to training alone (BatchNorm over near-constant channels of a batch of 12 amplifies the
    rounding differences, so only closely); saved members load into a net built alone."""
    kw = {**SMALL, "s0": 2}  # d = 36, as ResNet's pooling needs
    protocol = make_spec(tmp_path, {0: "p.npz"}, [(0, 24, 0)], arch="resnet18", **{**kw, "batch_size": 12}).protocol()
    code = encode(torch.arange(-1, 3)[None], 3)[0].T.contiguous()
    single = AutogradGroup(build_model("resnet18", **kw, init_seeds=(0,)).train(), np.array([0]), None)
    stack = AutogradGroup(StackedNets([build_model("resnet18", **kw, init_seeds=(s,)) for s in (0, 1)]).train(),
                          np.array([0, 1]), None)
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        symbols = torch.randint(-1, 3, (2, 12, 36), dtype=torch.int8, generator=generator)
        y, weight = torch.randint(0, 3, (2, 12), generator=generator), torch.full((2, 12), 1 / 12)
        alone = single.step(symbols[:1], y[:1], weight[:1], code, protocol, "fp32")
        together = stack.step(symbols, y, weight, code, protocol, "fp32")
        torch.testing.assert_close(together[:1], alone, rtol=1e-6, atol=0)
    for key, value in single.net.member_state_dict(0).items():
        torch.testing.assert_close(stack.net.member_state_dict(0)[key], value, rtol=1e-5, atol=1e-6, msg=key)

    ds = SRHM(m=M, seed=0, **kw)
    pool = tmp_path / f"{pool_stem(ds.name, 1200)}.npz"
    ds.sample(1200, seed=0).save(pool, **ds.params)
    common = dict(arch="resnet18", max_epochs=3, n_test=200, batch_size=12, **kw, **RUNTIME)

    def spec(prefix, members):
        return TrainSpec(**common, members=[MemberSpec(pool=str(pool), P=P, seed=seed, out_dir=str(
            tmp_path / f"{prefix}P{P}_seed{seed}")) for P, seed in members])

    together = train_ensemble(spec("ens_", [(48, 0), (24, 1)]))
    assert [m["n_members"] for m in together] == [2, 2]
    for (P, seed), metrics in zip([(48, 0), (24, 1)], together):
        (alone,) = train_ensemble(spec("one_", [(P, seed)]))
        assert (alone["steps"], alone["epochs"]) == (metrics["steps"], metrics["epochs"]) == (3 * P // 12, 3)
        assert alone["curves"]["eval_epoch"] == metrics["curves"]["eval_epoch"]
        np.testing.assert_allclose(metrics["curves"]["train_loss"][0], alone["curves"]["train_loss"][0], rtol=0.01)
        net = build_model(**load_weights(metrics["out_dir"])["model"], init_seeds=(0,))
        net.load_state_dict(load_weights(metrics["out_dir"])["best"])
    assert together[0]["protocol"]["weight_decay"] == 5e-4 and together[0]["protocol"]["lr"] == pytest.approx(6.4e-3)


def test_stacked_batch_norm_nets_equal_their_members_alone():
    """StackedNets: per-member logits and activations equal each member's SingleMemberNet (eval mode), and its
    member state dicts are theirs."""
    nets = [build_model("vgg11", **{**SMALL, "s0": 2}, init_seeds=(seed,)).eval() for seed in (3, 4, 5)]
    stacked = StackedNets(nets).eval()
    x = torch.randn(3, 4, 3, 36)
    with torch.no_grad():
        logits, acts = stacked(x), stacked.activations(x)
        for e, net in enumerate(nets):
            torch.testing.assert_close(logits[e], net(x[e : e + 1])[0], rtol=1e-5, atol=1e-5)
            alone = net.activations(x[e : e + 1])
            assert list(acts) == list(alone)
            for name in alone:
                torch.testing.assert_close(acts[name][e], alone[name][0], rtol=1e-5, atol=1e-5)
            assert all(torch.equal(stacked.member_state_dict(e)[k], v) for k, v in net.state_dict().items())
        subset = stacked(x[[2, 0]], members=torch.tensor([2, 0]))
        torch.testing.assert_close(subset, logits[[2, 0]])
    stacked.train()
    with pytest.raises(ValueError, match="a member subset runs in eval mode only"):
        stacked(x[:1], members=torch.tensor([0]))


# ------------------------------------------------------------------------------------- bad specs


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(arch="transformer"), "arch must be one of"),
        (dict(batch_size=0), "batch_size must be an integer >= 1"),
        (dict(width=0), "width must be an integer >= 1"),
        (dict(base_lr=-0.1), "base_lr must be a finite number > 0"),
        (dict(momentum=1.0), "momentum must lie in"),
        (dict(max_epochs=0), "max_epochs"),
        (dict(n_test=0), "n_test"),
        (dict(encoding="binary"), "encoding must be one of"),
        (dict(members=()), "members must be a non-empty list"),
        (dict(arch="vgg11", width=64), "width must be None for vgg11"),
        (dict(arch="cnn", s=3, s0=5), "base_lr: the paper's CNN table has no entry"),
        (dict(arch="resnet18", batch_size=23), r"members\[0\].P=24 leaves a last batch of one sample"),
    ],
)
def test_bad_spec_fields_raise(tmp_path, pools, change, message):
    base = make_spec(tmp_path, pools, [(0, 24, 0)], arch="lcn").to_dict()
    with pytest.raises(ValueError, match=message):
        TrainSpec.from_dict({**base, **change})


@pytest.mark.parametrize(
    "members, fields, message",
    [
        ([(0, 4001, 0)], {}, r"members\[0\].P=4001 exceeds pool size - n_test"),
        ([(0, 24, 0), (1, 4500, 0)], {}, r"members\[1\].P=4500 exceeds"),
        ([(0, 24, 0)], dict(v=4, n_classes=4), "was made with v=3, the spec has v=4"),
        ([(0, 24, 0)], dict(s0=2), "was made with s0=1"),
        ([(0, 24, 0)], dict(device="tpu"), "device must be"),
    ],
)
def test_bad_members_raise_before_training(tmp_path, pools, members, fields, message):
    spec = make_spec(tmp_path, pools, members, **{"arch": "lcn", **fields})
    with pytest.raises(ValueError, match=message):
        train_ensemble(spec)
    assert not any(tmp_path.iterdir()), "nothing may be written before the spec is validated"


def test_pools_with_different_v_are_refused(tmp_path, pools):
    """A pool of another vocabulary with the same input length d = 16 is caught by its metadata."""
    other = SRHM(v=4, n_classes=3, m=4, s=2, L=2, s0=1, seed=0)
    other.sample(2000, seed=0).save(tmp_path / "v4.npz", **other.params)
    spec = make_spec(tmp_path, {**pools, 4: str(tmp_path / "v4.npz")}, [(0, 24, 0), (4, 24, 1)], arch="lcn")
    with pytest.raises(ValueError, match=r"members\[1\].pool .*v4.npz' was made with v=4, the spec has v=3"):
        train_ensemble(spec)


def test_missing_pool_duplicate_out_dir_and_unknown_field(tmp_path, pools):
    spec = make_spec(tmp_path, pools, [(0, 24, 0)], arch="lcn")
    with pytest.raises(ValueError, match=r"members\[0\].pool: no such file"):
        train_ensemble(dataclasses.replace(spec, members=(dataclasses.replace(spec.members[0], pool="nope.npz"),)))
    with pytest.raises(ValueError, match="out_dir must be distinct"):
        dataclasses.replace(spec, members=spec.members * 2)
    with pytest.raises(ValueError, match=r"unknown train spec fields \['lr'\]"):
        TrainSpec.from_dict({**spec.to_dict(), "lr": 0.1})
    with pytest.raises(ValueError, match="members\\[\\].P must be an integer >= 1"):
        MemberSpec(pool="a.npz", P=0, seed=0, out_dir="x")
    members = [dataclasses.asdict(m) for m in spec.members]
    with pytest.raises(ValueError, match=r"members\[1\]: members\[\].seed must be an integer >= 0"):
        TrainSpec.from_dict({**spec.to_dict(), "members": members + [{**members[0], "seed": -1, "out_dir": "y"}]})
    with pytest.raises(ValueError, match=r"members\[0\] must be a MemberSpec or a dict with exactly the keys"):
        TrainSpec.from_dict({**spec.to_dict(), "members": [{**members[0], "lr": 1}]})


def test_specs_need_no_torch():
    """A workflow can build and check train specs without importing torch."""
    script = "import sys, srhm.protocol; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", script]).returncode == 0


def test_spec_round_trips_through_json(tmp_path, pools):
    spec = make_spec(tmp_path, pools, [(0, 24, 0), (1, 30, 5)], arch="cnn", width=32, checkpoint="ck.pt")
    assert TrainSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


# -------------------------------------------------------------------------------- paper protocol


@pytest.mark.parametrize(
    "arch, s, s0, L, lr",
    [("lcn", 2, 1, 2, 0.01), ("lcn", 2, 4, 3, 0.003), ("lcn", 3, 0, 2, 0.003),
     ("cnn", 2, 1, 2, 0.1), ("cnn", 2, 4, 2, 0.03), ("cnn", 2, 6, 2, 0.01), ("cnn", 2, 0, 3, 0.01),
     ("cnn", 2, 2, 3, 0.01), ("cnn", 2, 4, 3, 0.003), ("cnn", 2, 6, 3, 0.001), ("cnn", 3, 2, 2, 0.01),
     ("cnn", 3, 6, 2, 3e-4), ("fcn", 2, 2, 2, 0.01), ("fcn", 2, 4, 2, 0.003), ("fcn", 2, 1, 3, 0.003),
     ("fcn", 2, 4, 3, 0.001), ("resnet18", 2, 2, 2, 1e-4)],
)
def test_paper_learning_rate_table(arch, s, s0, L, lr):
    assert paper_base_lr(arch, s, s0, L) == lr


def test_paper_defaults_resolve(tmp_path, pools):
    lcn = make_spec(tmp_path, pools, [(0, 24, 0)], arch="lcn").protocol()
    assert (lcn.width, lcn.lr, lcn.weight_decay, lcn.batch_size, lcn.loss_threshold, lcn.max_epochs) == (
        512, 0.01 * 512, 0.0, 12, 1e-3, 10_000)
    vgg = make_spec(tmp_path, pools, [(0, 24, 0)], arch="vgg16").protocol()
    assert (vgg.width, vgg.lr, vgg.weight_decay, vgg.loss_threshold, vgg.max_epochs) == (None, 1e-4 * 64, 5e-4, 1e-2, 250)
    fcn = make_spec(tmp_path, pools, [(0, 24, 0)], arch="fcn", L=3, s0=0).protocol()
    assert (fcn.width, fcn.lr, fcn.loss_threshold) == (256, 0.003 * 256, 1e-2)


def test_a_diverging_training_stops_on_its_non_finite_loss_and_its_instance_is_flagged(tmp_path, pools):
    """At base_lr 1e6 the training loss becomes non-finite: every member stops there (srhm.protocol.DIVERGED_STOP),
    long before its epoch cap, and the analysis of the collected runs calls the instance `diverged`."""
    spec = make_spec(tmp_path, pools, [(0, 40, 0), (0, 60, 1)], arch="lcn", width=8, base_lr=1e6, max_epochs=50,
                     eval_every=5)
    for metrics in train_ensemble(spec):
        assert metrics["stop_reason"] == DIVERGED_STOP and metrics["epochs"] < 50
        assert not np.isfinite(metrics["curves"]["train_loss"][-1])
    runs = collect_runs([member.out_dir for member in spec.members], "diverging")
    table = sample_complexities(runs, n_boot=10).table
    assert list(table["test_error_flag"]) == ["diverged"] and list(table["n_diverged"]) == [2]


def test_keep_trained_leaves_out_exactly_the_members_finished_with_this_training(tmp_path, pools):
    """A P* search's round rerun (srhm train --keep-trained) trains only the members whose folder holds no
    finished run of the same settings: runtime settings may differ, a changed protocol retrains."""
    common = dict(arch="lcn", width=8, max_epochs=2, eval_every=1)
    train_ensemble(make_spec(tmp_path, pools, [(0, 60, 0)], **common))
    spec = make_spec(tmp_path, pools, [(0, 60, 0), (0, 120, 0)], **common, threads=2, checkpoint_every_s=7.0)
    left = untrained(spec)
    assert [member.P for member in left.members] == [120]
    assert untrained(make_spec(tmp_path, pools, [(0, 60, 0)], **common)) is None
    changed = make_spec(tmp_path, pools, [(0, 60, 0)], **{**common, "max_epochs": 3})
    assert [member.P for member in untrained(changed).members] == [60]


def test_train_measure_measures_every_member_as_srhm_measure_does(tmp_path, pools):
    """`srhm train --keep-trained --measure` (a P* search's round) writes sensitivity.csv into every member's
    folder, those it left out as trained already too, with the values `srhm measure` gives."""
    from srhm.cli import main

    common = dict(arch="lcn", width=8, max_epochs=2, eval_every=1)
    train_ensemble(make_spec(tmp_path, pools, [(0, 60, 0)], **common))
    spec = make_spec(tmp_path, pools, [(0, 60, 0), (0, 120, 0)], **common)
    main(["train", "--spec", json.dumps(spec.to_dict()), "--keep-trained", "--measure", "--probe-size", "50"])
    measured = {member.out_dir: (tmp_path / member.out_dir / "sensitivity.csv").read_text() for member in spec.members}
    assert all(text for text in measured.values())
    for member in spec.members:
        (tmp_path / member.out_dir / "sensitivity.csv").unlink()
    main(["measure", *measured, "--probe-size", "50"])
    assert {out_dir: (tmp_path / out_dir / "sensitivity.csv").read_text() for out_dir in measured} == measured
