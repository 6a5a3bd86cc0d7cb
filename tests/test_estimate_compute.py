"""benchmarks/estimate_compute.py: its FLOPs against a hand count of the networks, its calibration against runs of
known speed, and its estimate of the smoke preset against the closed form."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

from srhm.data import parse_dataset_name
from srhm.plan import Plan

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("estimate_compute", REPO / "benchmarks" / "estimate_compute.py")
estimate_compute = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)  # dataclasses look it up
_spec.loader.exec_module(estimate_compute)

RATE, STEP_SECONDS = 2e9, 3e-3  # FLOP/s and seconds per lockstep step of the made-up calibration runs


def hand_count(arch: str, *, v: int, n_classes: int, s: int, s0: int, L: int, width: int) -> tuple[float, float]:
    """(training, forward) FLOPs per sample of an LCN, CNN or FCN (paper Fig. 3, srhm.models.hierarchical).

    With k = s(s0+1) and d = k^L, layer l (1..L) has n_l = d / k^l positions of `width` channels over C_{l-1}
    input channels (v, then width). Its multiply-adds per sample are positions x fan-in x fan-out: n_l x C_{l-1} k
    x width for the LCN and CNN (weight sharing saves parameters, not products), 1 x C_{l-1} n_{l-1} x width n_l
    for the FCN; the readout adds width x n_classes. A FLOP count is twice the multiply-adds. The backward pass
    computes, for every product, the gradient of its weight and of its input (each as many FLOPs as the forward
    product), except the input gradient of the first layer, whose input is the data.
    """
    k = s * (s0 + 1)
    d = k**L
    positions = [d // k**layer for layer in range(L + 1)]
    channels = [v] + [width] * L
    macs = []
    for layer in range(1, L + 1):
        if arch == "fcn":
            macs.append(1 * channels[layer - 1] * positions[layer - 1] * width * positions[layer])
        else:
            macs.append(positions[layer] * channels[layer - 1] * k * width)
    forward = 2 * (sum(macs) + width * n_classes)
    backward = 2 * forward - 2 * macs[0]
    return forward + backward, forward


@pytest.mark.parametrize("arch", ["lcn", "cnn", "fcn"])
@pytest.mark.parametrize("instance", [{"v": 3, "n_classes": 3, "s": 2, "s0": 1, "L": 2, "width": 16},
                                      {"v": 4, "n_classes": 2, "s": 2, "s0": 0, "L": 3, "width": 8},
                                      {"v": 3, "n_classes": 3, "s": 3, "s0": 2, "L": 2, "width": 5}])
def test_flops_per_sample_are_the_hand_count(arch, instance):
    counted = estimate_compute.flops_per_sample(dict(arch=arch, bias=True, **instance))
    assert counted == hand_count(arch, **instance)


def write_run(results: Path, *, arch: str, width: int | None, dataset: str, P: int, epochs: int, steps: int,
              wall: float, max_epochs: int = 400, n_test: int = 50, eval_every: int = 10, **extra) -> None:
    """A metrics.json with the entries the calibration reads, at the run's place under results/runs."""
    params = {k: v for k, v in parse_dataset_name(dataset).items() if k in ("v", "n_classes", "s", "s0", "L")}
    folder = results / "runs" / dataset / (arch if width is None else f"{arch}_H{width}") / f"P{P}_seed0"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({
        "arch": arch, "pool": f"results/data/balanced/{dataset}_n1000.npz", "P": P, "epochs": epochs, "steps": steps,
        "model": dict(arch=arch, width=width, bias=True, **params), "spec": {"n_test": n_test},
        "protocol": {"eval_every": eval_every, "max_epochs": max_epochs}, "ensemble_wall_time_s": wall, **extra}))


@pytest.fixture
def calibration_runs(tmp_path) -> Path:
    """Two finished training jobs of known speed: an LCN ensemble of two grammars of one family that stopped
    before their epoch cap after 30 and 100 steps, 10 and 20 epochs (its FLOPs counted from its runs), and a VGG11
    job that reached its cap and records its FLOPs itself."""
    results = tmp_path / "results"
    lcn = hand_count("lcn", v=3, n_classes=3, s=2, s0=1, L=2, width=8)
    lcn_flops = (10 * 30 * lcn[0] + 1 * 50 * lcn[1]) + (20 * 60 * lcn[0] + 2 * 50 * lcn[1])
    lcn_steps = 20 * 5
    for seed, (P, epochs, steps) in enumerate([(30, 10, 30), (60, 20, lcn_steps)]):
        write_run(results, arch="lcn", width=8, dataset=f"v3_nc3_m3_s2_L2_s01_A_seed{seed}", P=P, epochs=epochs,
                  steps=steps, wall=lcn_flops / RATE + lcn_steps * STEP_SECONDS)
    vgg_flops, vgg_steps = 4e12, 500
    write_run(results, arch="vgg11", width=None, dataset="v3_nc3_m3_s2_L2_s02_A_seed0", P=240, epochs=25,
              max_epochs=25, steps=vgg_steps, wall=vgg_flops / RATE + vgg_steps * STEP_SECONDS, ensemble_flops=vgg_flops)
    return results


def expected_epochs(arch: str, P: int, batch: int, max_epochs: int, factor: float = 1) -> float:
    """Epochs of a run under the stopping of `calibration_runs` (`factor` times longer), at most max_epochs: VGG11
    to its cap, the LCN 65 steps, another architecture 100 steps, but at least 10 epochs."""
    if arch == "vgg11":
        return max_epochs
    return min(factor * max((65 if arch == "lcn" else 100) / math.ceil(P / batch), 10), max_epochs)


def test_calibration_recovers_the_rate_and_step_time_of_the_runs(calibration_runs):
    calibration = estimate_compute.calibrate(calibration_runs, estimate_compute.FlopTable())
    assert calibration.jobs == 2  # the LCN's grammars seed0 and seed1 trained in one job
    assert calibration.rate == pytest.approx(RATE, rel=1e-6)
    assert calibration.step_seconds == pytest.approx(STEP_SECONDS, rel=1e-6)
    assert calibration.stopping == {
        "lcn": estimate_compute.Stopping(steps=65, epochs=10),  # the median of 30 and 100 steps, the fewer epochs
        "vgg11": estimate_compute.Stopping(math.inf, math.inf),  # at its cap
        "*": estimate_compute.Stopping(steps=100, epochs=10),  # the median of 30, 100 and never
    }


def test_runs_are_grouped_by_the_job_their_metrics_name(tmp_path):
    """Two VGG11 runs of one SRHM family train in two jobs, which their metrics name; without that record they
    would count as one job of their model and family (and the calibration would refuse one job)."""
    for P, job in ((240, "job_a"), (480, "job_b")):
        write_run(tmp_path, arch="vgg11", width=None, dataset="v3_nc3_m3_s2_L2_s02_A_seed0", P=P, epochs=25,
                  max_epochs=25, steps=P // 2, wall=P / 10, ensemble_flops=P * 1e9, job=job)
    assert estimate_compute.calibrate(tmp_path, estimate_compute.FlopTable()).jobs == 2


def test_calibration_refuses_fewer_than_two_jobs_or_metrics_without_wall_time(tmp_path):
    with pytest.raises(ValueError, match="--calibrate: 0 training jobs"):
        estimate_compute.calibrate(tmp_path, estimate_compute.FlopTable())
    write_run(tmp_path, arch="lcn", width=8, dataset="v3_nc3_m3_s2_L2_s01_A_seed0", P=30, epochs=1, steps=3, wall=1)
    with pytest.raises(ValueError, match="--calibrate: 1 training jobs .* needs 2 or more"):
        estimate_compute.calibrate(tmp_path, estimate_compute.FlopTable())
    write_run(tmp_path, arch="cnn", width=8, dataset="v3_nc3_m3_s2_L2_s01_A_seed0", P=30, epochs=1, steps=3, wall=1)
    metrics = next(tmp_path.glob("runs/*/*/*/metrics.json"))
    metrics.write_text(json.dumps({k: v for k, v in json.loads(metrics.read_text()).items()
                                   if k != "ensemble_wall_time_s"}))
    with pytest.raises(ValueError, match=f"{metrics}.*ensemble_wall_time_s"):
        estimate_compute.calibrate(tmp_path, estimate_compute.FlopTable())


def test_smoke_estimate_is_the_closed_form(calibration_runs, capsys):
    estimate = estimate_compute.main(["--preset", "smoke", "--calibrate", str(calibration_runs), "--cores", "2"])
    config = estimate_compute.preset_config("smoke")
    plan = Plan.from_config(config)
    jobs = estimate_compute.training_jobs(plan)
    assert [cost.ensemble for cost in estimate.costs] == list(jobs) and len(jobs) > len(plan.ensembles)
    checked = set()
    for cost in estimate.costs:
        ensemble = jobs[cost.ensemble]
        protocol = dict(ensemble.protocol)  # max_epochs 30, and 2 for the common nets' experiment
        batch = protocol["batch_per_class"] * ensemble.runs[0].dataset.n_classes
        epochs = {run.P: expected_epochs(ensemble.arch, run.P, batch, protocol["max_epochs"]) for run in ensemble.runs}
        assert cost.steps == max(math.ceil(epochs[run.P] * math.ceil(run.P / batch)) for run in ensemble.runs)
        assert cost.seconds == pytest.approx(cost.flops / RATE + cost.steps * STEP_SECONDS)
        if ensemble.arch in ("lcn", "cnn", "fcn"):
            first = ensemble.runs[0].dataset
            train, forward = hand_count(ensemble.arch, v=first.v, n_classes=first.n_classes, s=first.s,
                                        s0=first.s0, L=first.L, width=ensemble.width)
            expected = sum(epochs[run.P] * run.P * train
                           + math.ceil(epochs[run.P] / protocol["eval_every"]) * first.n_test * forward
                           for run in ensemble.runs)
            assert cost.flops == pytest.approx(expected)
            checked.add(ensemble.arch)
    assert checked == {"lcn", "cnn", "fcn"}
    # every dataset, training, sensitivity measurement and figure is a job of its own
    assert estimate.n_jobs >= len(plan.datasets) + 2 * len(plan.ensembles) + len(config["figures"])
    core_seconds = estimate.n_jobs * estimate_compute.JOB_SECONDS + sum(cost.seconds for cost in estimate.costs)
    assert estimate.core_seconds == pytest.approx(core_seconds)  # the smoke preset trains on 1 thread
    longest = estimate_compute.JOB_SECONDS + max(cost.seconds for cost in estimate.costs)
    assert estimate.wall_seconds == pytest.approx(max(core_seconds / 2, longest))
    assert f"expected wall time on 2 cores: {estimate_compute.duration(estimate.wall_seconds)}," in capsys.readouterr().out


@pytest.mark.parametrize(("arguments", "named"), [(["--preset", "tiny"], "preset"), (["--cores", "0"], "--cores"),
                                                  (["--stop-factor", "nan"], "--stop-factor"),
                                                  (["--stop-factor", "lcnn=2"], "lcnn")])
def test_bad_arguments_are_refused_naming_them(calibration_runs, capsys, arguments, named):
    with pytest.raises(SystemExit):
        estimate_compute.main(["--calibrate", str(calibration_runs), *arguments])
    assert named in capsys.readouterr().err


def test_stop_factor_lengthens_only_its_architecture(calibration_runs):
    flops = estimate_compute.FlopTable()
    calibration = estimate_compute.calibrate(calibration_runs, flops)
    plan = Plan.from_config(estimate_compute.preset_config("smoke"))
    plain = estimate_compute.training_costs(plan, calibration, flops)
    longer = estimate_compute.training_costs(plan, calibration, flops, {"lcn": 2})
    jobs = estimate_compute.training_jobs(plan)
    for before, after in zip(plain, longer):
        ensemble = jobs[before.ensemble]
        if ensemble.arch != "lcn":
            assert after == before
            continue
        protocol = dict(ensemble.protocol)
        batch = protocol["batch_per_class"] * ensemble.runs[0].dataset.n_classes
        assert after.steps == max(math.ceil(expected_epochs("lcn", run.P, batch, protocol["max_epochs"], factor=2)
                                            * math.ceil(run.P / batch)) for run in ensemble.runs)
        assert after.flops >= before.flops  # equal where every run is at its epoch cap
