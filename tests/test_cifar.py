"""CIFAR-10 relative stability (srhm.cifar): loader, nets, augmentation, diffeomorphisms, noise, R_f,
training and the CLI steps of the workflow's CIFAR rules, on a tiny CIFAR-format dataset written here."""

from __future__ import annotations

import json
import math
import pickle
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from srhm.cifar.augment import PADDING, crop_and_flip
from srhm.cifar.data import load_cifar, read_batch
from srhm.cifar.diffeo import deform, displacement_fields, modes, remap, temperature
from srhm.cifar.nets import build_net
from srhm.cifar.settings import (NETS, TEST_FILE, TRAIN_FILES, ProbeSettings, TrainSettings, check_cifar_dir,
                                 planned_runs)
from srhm.cifar.stability import matched_noise, relative_stability, stability_ratio
from srhm.cifar.tables import COLUMNS, DIGITISED_DATA, NET_LABELS, read_table
from srhm.paths import cifar_table
from srhm.cifar.train import classification_error, train, training_subset
from srhm.cli import main
from srhm.config import SCHEMA_PATH, resolve

ROOT = Path(__file__).resolve().parent.parent
IMAGES_PER_BATCH = 8
TEST_IMAGES = 12


def write_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """A CIFAR-10 python-pickle batch: images uint8 [N, 3, 32, 32] as rows of R, G, B planes."""
    batch = {b"batch_label": b"synthetic", b"labels": labels.tolist(), b"data": images.reshape(len(images), -1),
             b"filenames": [f"{i}.png".encode() for i in range(len(images))]}
    path.write_bytes(pickle.dumps(batch, protocol=2))


@pytest.fixture(scope="module")
def tiny_cifar(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray]:
    """Five training batches of 8 random images and a test batch of 12; returns the directory and the
    images [52, 3, 32, 32] and labels written (training batches first, in order)."""
    root = tmp_path_factory.mktemp("cifar")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5 * IMAGES_PER_BATCH + TEST_IMAGES, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, len(images))
    for k, name in enumerate(TRAIN_FILES):
        part = slice(k * IMAGES_PER_BATCH, (k + 1) * IMAGES_PER_BATCH)
        write_batch(root / name, images[part], labels[part])
    write_batch(root / TEST_FILE, images[5 * IMAGES_PER_BATCH:], labels[5 * IMAGES_PER_BATCH:])
    return root, images, labels


# ---- data -----------------------------------------------------------------------------------------
def test_loader_reads_the_batches_back_exactly(tiny_cifar):
    root, images, labels = tiny_cifar
    cifar = load_cifar(root)
    n_train = 5 * IMAGES_PER_BATCH
    np.testing.assert_array_equal(cifar.train_images, images[:n_train])
    np.testing.assert_array_equal(cifar.train_labels, labels[:n_train])
    np.testing.assert_array_equal(cifar.test_images, images[n_train:])
    np.testing.assert_array_equal(cifar.test_labels, labels[n_train:])
    # the R plane of an image is the first 1024 bytes of its row
    raw = pickle.loads((root / TEST_FILE).read_bytes(), encoding="bytes")[b"data"]
    np.testing.assert_array_equal(cifar.test_images[3, 0].ravel(), raw[3, :1024])


def test_standardisation_is_per_channel_over_the_training_set(tiny_cifar):
    cifar = load_cifar(tiny_cifar[0])
    x = cifar.standardise(torch.from_numpy(cifar.train_images)).double()
    assert x.dtype == torch.float64 and x.shape == (40, 3, 32, 32)
    np.testing.assert_allclose(x.mean(dim=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(dim=(0, 2, 3), unbiased=False), 1, atol=1e-5)


def test_bad_data_is_refused(tmp_path, tiny_cifar):
    with pytest.raises(ValueError, match=r"cifar.path: .* lacks the CIFAR-10 python-pickle batches \['data_batch_1'"):
        load_cifar(tmp_path)
    (tmp_path / "bad").write_bytes(pickle.dumps({b"data": np.zeros((2, 5), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(ValueError, match=r"b'data' must be uint8 \[N, 3072\]"):
        read_batch(tmp_path / "bad")
    write_batch(tmp_path / "labels", np.zeros((2, 3, 32, 32), np.uint8), np.array([0, 10]))
    with pytest.raises(ValueError, match=r"b'labels' must hold 2 labels in 0..9"):
        read_batch(tmp_path / "labels")


# ---- nets -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, n_parameters", [
    ("lenet", 62006), ("fullconnl4", 3072 * 64 + 2 * 64 * 64 + 3 * 64 + 640), ("vgg11bn", 9231114),
    ("resnet18", 11173962),
])
def test_nets_map_images_to_ten_logits_with_the_reference_sizes(name, n_parameters):
    net = build_net(name, 0)
    assert sum(p.numel() for p in net.parameters()) == n_parameters
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_net_initialisation_depends_only_on_the_seed():
    torch.manual_seed(123)
    a = build_net("lenet", 4).state_dict()
    torch.manual_seed(456)
    b, c = build_net("lenet", 4).state_dict(), build_net("lenet", 5).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["features.0.weight"], c["features.0.weight"])


def test_fullconn_is_mean_field():
    net = build_net("fullconnl2", 0)
    x = torch.randn(3, 3, 32, 32)
    w, b, beta = net.weights[0], net.biases[0], net.readout
    expected = torch.relu(x.flatten(1) @ w / math.sqrt(3072) + b) @ beta / 64
    torch.testing.assert_close(net(x), expected)


def test_schema_lists_the_buildable_nets():
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    assert tuple(schema["$defs"]["cifar"]["properties"]["nets"]["items"]["enum"]) == NETS
    assert set(NETS) <= set(NET_LABELS)


# ---- augmentation ---------------------------------------------------------------------------------
def test_crop_and_flip_moves_whole_images_within_the_padding():
    images = torch.arange(2 * 3 * 32 * 32, dtype=torch.int64).reshape(2, 3, 32, 32) + 1  # no zeros
    out = crop_and_flip(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == images.dtype
    padded = torch.nn.functional.pad(images, (PADDING,) * 4)
    for b in range(2):  # each output is one window of the padded image, maybe mirrored
        windows = [padded[b, :, i:i + 32, j:j + 32] for i in range(2 * PADDING + 1) for j in range(2 * PADDING + 1)]
        assert any(torch.equal(out[b], w) or torch.equal(out[b], w.flip(-1)) for w in windows)
    again = crop_and_flip(images, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


# ---- diffeomorphisms ------------------------------------------------------------------------------
def test_modes_follow_the_authors_cut_off():
    i, j = modes(3)
    assert sorted(zip(i.tolist(), j.tolist())) == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (3, 1)]


def test_temperature_of_one_pixel_on_cifar():
    assert temperature(1.0, 3, 32) == pytest.approx(4 / (math.pi * 32**2 * math.log(3)))
    assert temperature(1.0, 3, 32) == pytest.approx(0.001131789, rel=1e-6)  # hard-coded in diffeo-sota for CIFAR
    with pytest.raises(ValueError, match="cut must be an integer >= 2"):
        temperature(1.0, 1, 32)


def test_zero_temperature_is_the_identity():
    images = torch.randn(4, 3, 32, 32)
    assert torch.equal(deform(images, 3, 0.0, torch.Generator().manual_seed(0)), images)


def test_displacements_scale_with_sqrt_temperature_and_vanish_on_the_border():
    small = displacement_fields(5, 32, 3, 1e-4, torch.Generator().manual_seed(1))
    large = displacement_fields(5, 32, 3, 4e-4, torch.Generator().manual_seed(1))
    torch.testing.assert_close(large, 2 * small, rtol=1e-12, atol=0)
    assert small.shape == (5, 2, 32, 32)
    for border in (small[..., 0, :], small[..., -1, :], small[..., :, 0], small[..., :, -1]):
        assert border.abs().max() < 1e-12
    # smooth: neighbouring pixels move by far less than a pixel's typical displacement
    assert small.diff(dim=-1).abs().max() < 0.3 * small.abs().max()


def test_mean_square_displacement_matches_the_sine_series():
    """E[mean over pixels of |d|^2] = 2 n^2 T sum_modes 1/(i^2 + j^2) ((n - 1) / (2 n))^2 on the n-point grid."""
    n, cut, T = 32, 3, temperature(1.0, 3, 32)
    fields = displacement_fields(4000, n, cut, T, torch.Generator().manual_seed(2))
    i, j = modes(cut)
    expected = 2 * n**2 * T * (1 / (i**2 + j**2).double()).sum().item() * ((n - 1) / (2 * n)) ** 2
    measured = fields.square().sum(1).mean().item()
    assert measured == pytest.approx(expected, rel=0.05)
    assert math.sqrt(measured) == pytest.approx(1.0, rel=0.3)  # about delta = 1 pixel


def test_remap_shifts_by_whole_pixels_and_interpolates_linearly():
    images = torch.arange(16.0).reshape(1, 1, 4, 4)
    shift = torch.zeros(1, 2, 4, 4)
    shift[:, 0] = 1.0  # every pixel takes its left neighbour's value (clamped at the left edge)
    expected = torch.tensor([[0.0, 0, 1, 2], [4, 4, 5, 6], [8, 8, 9, 10], [12, 12, 13, 14]])
    assert torch.equal(remap(images, shift)[0, 0], expected)
    half = torch.zeros(1, 2, 4, 4)
    half[:, 1] = -0.5  # half a row down: the mean of each pixel and the one below
    torch.testing.assert_close(remap(images, half)[0, 0, :3], (images[0, 0, :3] + images[0, 0, 1:]) / 2)
    with pytest.raises(ValueError, match=r"fields must have shape \[1, 2, 4, 4\]"):
        remap(images, torch.zeros(1, 2, 3, 3))


def test_deformed_images_keep_shape_dtype_and_border():
    images = torch.randn(6, 3, 32, 32)
    out = deform(images, 3, temperature(1.0, 3, 32), torch.Generator().manual_seed(3))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert torch.equal(out[..., 0, :], images[..., 0, :]) and torch.equal(out[..., :, -1], images[..., :, -1])
    assert not torch.equal(out, images)


# ---- noise and stability --------------------------------------------------------------------------
def test_noise_has_exactly_the_matched_norm():
    images = torch.randn(5, 3, 32, 32, dtype=torch.float64)
    deformed = deform(images, 3, temperature(1.0, 3, 32), torch.Generator().manual_seed(4))
    noisy = matched_noise(images, deformed, torch.Generator().manual_seed(5))
    torch.testing.assert_close((noisy - images).flatten(1).norm(dim=1), (deformed - images).flatten(1).norm(dim=1),
                               rtol=1e-12, atol=0)


def test_pair_denominator_is_the_mean_over_all_ordered_pairs():
    outputs = torch.randn(7, 4, dtype=torch.float64)
    _, denominator = stability_ratio(outputs, outputs)
    assert denominator == pytest.approx(torch.cdist(outputs, outputs).square().mean().item(), rel=1e-12)


class BorderNet(nn.Module):
    """Reads only the image's border, which diffeomorphisms never move."""

    def forward(self, x):
        return torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1).flatten(1)


class GlobalAverage(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


class Constant(nn.Module):
    def forward(self, x):
        return torch.zeros(len(x), 10)


def test_relative_stability_of_known_functions():
    images = torch.randn(40, 3, 32, 32)
    probe = ProbeSettings(cut=3, delta=1.0, n_probe=40)
    identity = relative_stability(nn.Identity(), images, probe, seed=0)
    assert identity["relative_sensitivity"] == pytest.approx(1.0, rel=1e-5)  # ||tau x - x|| = ||eta||
    border = relative_stability(BorderNet(), images, probe, seed=0)
    assert border["diffeo_sensitivity"] == 0 and border["noise_sensitivity"] > 0 and border["relative_sensitivity"] == 0
    average = relative_stability(GlobalAverage(), images, probe, seed=0)  # a diffeo hardly moves white noise's mean
    assert average["diffeo_sensitivity"] < 0.05 * identity["diffeo_sensitivity"]
    assert average["relative_sensitivity"] < 0.2
    assert average == relative_stability(GlobalAverage(), images, probe, seed=0)  # deterministic
    with pytest.raises(ValueError, match="output is constant"):
        relative_stability(Constant(), images, probe, seed=0)


# ---- settings and training ------------------------------------------------------------------------
def test_train_settings_follow_the_protocol_and_refuse_bad_values():
    rescaled = TrainSettings(net="resnet18", P=512, seed=0, epochs=250, rescale_epochs=True, evaluations=250)
    assert rescaled.total_epochs == 5000 and rescaled.optimizer == "sgd" and rescaled.learning_rate == 0.1
    assert len(rescaled.evaluation_epochs) == 250 and rescaled.evaluation_epochs[-1] == 5000
    assert TrainSettings(net="fullconnl4", P=50000, seed=0, epochs=7, evaluations=3).evaluation_epochs == (2, 5, 7)
    assert TrainSettings(net="fullconnl4", P=20000, seed=0, epochs=250, rescale_epochs=True).total_epochs == 625
    assert TrainSettings(net="fullconnl4", P=10, seed=0, epochs=1).optimizer == "adam"
    with pytest.raises(ValueError, match="net must be one of"):
        TrainSettings(net="resnet9", P=10, seed=0, epochs=1)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        TrainSettings(net="lenet", P=10, seed=0, epochs=1, batch_size=0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        TrainSettings(net="lenet", P=10, seed=0, epochs=1, lr=-1.0)


def test_training_subsets_are_nested_and_bounded():
    small, large = training_subset(3, 10, 40), training_subset(3, 25, 40)
    assert np.array_equal(large[:10], small) and len(set(large)) == 25
    with pytest.raises(ValueError, match="P must be <= 40"):
        training_subset(3, 41, 40)


def test_training_is_deterministic_and_keeps_the_best_weights(tiny_cifar):
    cifar = load_cifar(tiny_cifar[0])
    settings = TrainSettings(net="lenet", P=24, seed=1, epochs=2, batch_size=10, evaluations=2, test_size=12)
    first, second = (train(settings, cifar, torch.device("cpu")) for _ in range(2))
    assert first.test_errors == second.test_errors and first.train_losses == second.train_losses
    assert [epoch for epoch, _ in first.test_errors] == [1, 2] and len(first.train_losses) == 2
    assert first.best_test_error == min(error for _, error in first.test_errors)
    assert all(torch.equal(first.best_state[k], second.best_state[k]) for k in first.best_state)
    net = build_net("lenet", 1)
    net.load_state_dict(first.best_state)
    images, labels = torch.from_numpy(cifar.test_images), torch.from_numpy(cifar.test_labels)
    assert classification_error(net, images, labels, cifar.standardise) == first.best_test_error


# ---- tables and the workflow's CIFAR steps --------------------------------------------------------
def test_digitised_table_is_well_formed():
    table = read_table(DIGITISED_DATA)
    assert tuple(table.columns) == COLUMNS and set(table["source"]) == {"digitised"}
    assert (table["P"] == 50000).all() and table["relative_sensitivity"].notna().all()
    assert table["diffeo_sensitivity"].isna().all() and table["noise_sensitivity"].isna().all()
    assert {"resnet18", "efficientnetb0", "lenet", "fullconnl4"} <= set(table["net"])
    assert table.set_index("net").loc["resnet18", "test_error"] < table.set_index("net").loc["lenet", "test_error"]
    assert cifar_table("measured") == "tables/cifar_stability.csv"
    with pytest.raises(ValueError, match="source must be one of"):
        cifar_table("scanned")


def test_workflow_config_plans_cifar_runs_only_with_a_path(tiny_cifar):
    config = resolve(yaml.safe_load((ROOT / "config.yaml").read_text()))
    assert planned_runs(config) == [] and config["cifar"]["path"] is None
    config["figures"]["fig01"] = {"cifar": "measured"}
    with pytest.raises(ValueError, match="figures.fig01.cifar: 'measured' needs cifar.path"):
        planned_runs(config)
    config["cifar"].update(path=str(tiny_cifar[0]), nets=["lenet", "fullconnl2"], train_sizes=[16, 32])
    assert planned_runs(config) == ["cifar/lenet/P16_seed0", "cifar/lenet/P32_seed0",
                                    "cifar/fullconnl2/P16_seed0", "cifar/fullconnl2/P32_seed0"]
    assert check_cifar_dir(tiny_cifar[0]) == tiny_cifar[0]


def srhm_cli(*args: str) -> None:
    """`srhm <args>` in this process, as a rule runs it (torch threads left as they were)."""
    threads = torch.get_num_threads()
    if args[1] in ("train", "measure"):
        args += ("--threads", str(threads))
    main(list(args))
    assert torch.get_num_threads() == threads


def test_cli_steps_of_the_cifar_rules_write_the_measured_table(tiny_cifar, tmp_path):
    data = str(tiny_cifar[0])
    runs = [str(tmp_path / "cifar" / net / "P20_seed0") for net in ("lenet", "fullconnl2")]
    for net, run in zip(("lenet", "fullconnl2"), runs):
        srhm_cli("cifar", "train", "--data", data, "--net", net, "--size", "20", "--seed", "0", "--epochs", "1",
                 "--batch-size", "8", "--evaluations", "1", "--test-size", "12", "--out", run, "--device", "cpu")
        metrics = json.loads((Path(run) / "metrics.json").read_text())
        assert metrics["P"] == 20 and metrics["total_epochs"] == 1 and len(metrics["train_losses"]) == 1
        assert {"device", "torch_version", "code_version"} <= set(metrics["environment"])
    srhm_cli("cifar", "measure", *runs, "--data", data, "--n-probe", "10", "--device", "cpu")
    out = tmp_path / "tables" / "cifar_stability.csv"
    srhm_cli("cifar", "collect", *runs, "--out", str(out))
    table = read_table(out)
    assert list(table["net"]) == ["fullconnl2", "lenet"] and set(table["source"]) == {"measured"}
    assert (table["P"] == 20).all() and (table["seed"] == 0).all()
    np.testing.assert_allclose(table["relative_sensitivity"], table["diffeo_sensitivity"] / table["noise_sensitivity"])
    assert table[["test_error", "relative_sensitivity", "diffeo_sensitivity", "noise_sensitivity"]].notna().all().all()
    stability = json.loads((Path(runs[0]) / "stability.json").read_text())
    assert stability["n_probe"] == 10 and stability["cut"] == 3 and stability["delta"] == 1.0


@pytest.mark.parametrize("args, message", [
    (("--size", "41"), "srhm cifar: error: P must be <= 40, the number of training images, got P=41"),
    (("--size", "8", "--epochs", "0"), "srhm cifar: error: epochs must be an integer >= 1, got 0"),
])
def test_cli_refuses_bad_arguments_with_the_parameter_named(tiny_cifar, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["cifar", "train", "--data", str(tiny_cifar[0]), "--net", "lenet", "--epochs", "1", "--test-size", "12",
              *args, "--out", str(tmp_path / "run"), "--device", "cpu"])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_workflow_plans_cifar_jobs_for_every_net_size_and_seed(tiny_cifar, tmp_path):
    override = tmp_path / "cifar.yaml"
    override.write_text(yaml.safe_dump({"cifar": {"path": str(tiny_cifar[0]), "nets": ["lenet", "fullconnl4"],
                                                  "train_sizes": [16, 32], "seeds": [0, 1]}}))
    result = subprocess.run(["snakemake", "-n", "--forceall", "cifar", "--configfile", str(override)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = dict(re.findall(r"^(cifar\w*)\s+(\d+)$", result.stdout, re.MULTILINE))
    assert jobs == {"cifar_train": "8", "cifar_measure": "8", "cifar_collect": "1", "cifar": "1"}
