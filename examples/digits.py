"""Train a small CNN on scikit-learn's 8x8 handwritten digits, checkpoint it, reload it.

Run::

    python -m ember.examples.digits [--device NAME] [--epochs N] [--out DIR]

The data is scikit-learn's bundled copy of the UCI "Optical Recognition of Handwritten Digits"
test set (1797 images, 8x8, 10 classes), loaded with ``sklearn.datasets.load_digits``: it ships
inside scikit-learn, so nothing is downloaded. scikit-learn, and the copy of the data it bundles,
is distributed under the BSD 3-Clause licence.

What it shows: ``ember.nn`` layers (Conv2d, ReLU, MaxPool2d, Linear), ``ember.optim.Adam`` with a
cosine learning-rate schedule, ``ember.utils.data.DataLoader``, ``ember.save``/``ember.load`` and
running on any device a backend provides (``--device opencl``). It prints the test accuracy
(target: at least 97%), reloads the saved checkpoint into a fresh model and checks that it gives
the same accuracy, and writes the training curve to ``<out>/digits_training.png``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.optim.lr_scheduler import CosineAnnealingLR
from ember.utils.data import DataLoader, TensorDataset

TARGET_ACCURACY = 0.97


def load_data(seed: int = 0):
    """The digits as float32 images in [0, 1] of shape (N, 1, 8, 8), split 80/20 (stratified by
    a fixed permutation, so every run sees the same split)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = digits.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(x))
    n_test = len(x) // 5
    test, train = perm[:n_test], perm[n_test:]
    return (x[train], y[train]), (x[test], y[test])


class DigitsNet(nn.Module):
    """conv(1->16), relu, conv(16->32), relu, maxpool 2, linear(512->64), relu, linear(64->10)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.reshape(x.shape[0], -1)
        return self.fc2(F.relu(self.fc1(x)))


def evaluate(model: nn.Module, x, y, batch_size: int = 512) -> float:
    """Fraction of correctly classified samples."""
    model.eval()
    correct = 0
    with ember.no_grad():
        for i in range(0, x.shape[0], batch_size):
            logits = model(x[i:i + batch_size])
            correct += int((logits.argmax(dim=1) == y[i:i + batch_size]).sum().item())
    model.train()
    return correct / x.shape[0]


def plot_curve(losses: list[float], accs: list[float], steps_per_epoch: int, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    steps = np.arange(1, len(losses) + 1) / steps_per_epoch
    ax.plot(steps, losses, color="tab:blue", alpha=0.35, lw=1, label="batch loss")
    k = max(1, steps_per_epoch // 2)
    if len(losses) >= k:
        smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1:], smooth, color="tab:blue", lw=2, label="loss (smoothed)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_yscale("log")
    ax2 = ax.twinx()
    ax2.plot(np.arange(1, len(accs) + 1), [100 * a for a in accs], "o-", color="tab:orange",
             label="test accuracy")
    ax2.set_ylabel("test accuracy (%)")
    ax2.set_ylim(min(80.0, 100 * min(accs)) if accs else 80.0, 100.5)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower left")
    ax.set_title("Ember: small CNN on scikit-learn digits")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _limit_blas_threads(n: int) -> None:
    # NOTE: with batches of 32 the matrix products are tiny; OpenBLAS's thread pool then costs
    # more than it saves (3x slower here on 2 busy cores). threadpoolctl ships with scikit-learn.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=n, user_api="blas")


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None,
                        help="device to train on (default: ember's default device); "
                             f"available: {', '.join(ember.backends.available())}")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out", help="folder for the checkpoint and the plot")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="threads for the BLAS behind the cpu backend (default 1: these "
                             "matrices are small, and extra BLAS threads only add overhead)")
    args = parser.parse_args(argv)
    _limit_blas_threads(args.blas_threads)

    device = ember.device(args.device) if args.device else ember.get_default_device()
    os.makedirs(args.out, exist_ok=True)
    ember.manual_seed(args.seed)
    t_start = time.perf_counter()

    (x_train, y_train), (x_test, y_test) = load_data(args.seed)
    train_ds = TensorDataset(ember.tensor(x_train), ember.tensor(y_train))
    gen = ember.Generator()
    gen.manual_seed(args.seed)
    loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, generator=gen)
    xt, yt = ember.tensor(x_test).to(device), ember.tensor(y_test).to(device)

    model = DigitsNet().to(device)
    opt = ember.optim.Adam(model.parameters(), lr=args.lr)
    sched = CosineAnnealingLR(opt, T_max=args.epochs)
    print(f"ember digits: {len(train_ds)} train / {len(y_test)} test images, device {device}, "
          f"{sum(p.numel() for p in model.parameters())} parameters")

    losses: list[float] = []
    accs: list[float] = []
    for epoch in range(1, args.epochs + 1):
        bar = tqdm(loader, desc=f"epoch {epoch:2d}/{args.epochs}", unit="batch", leave=False,
                   dynamic_ncols=True, mininterval=0.5, file=sys.stdout)
        seen, t0 = 0, time.perf_counter()
        for xb, yb in bar:
            xb, yb = xb.to(device), yb.to(device)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            seen += xb.shape[0]
            rate = seen / (time.perf_counter() - t0)
            bar.set_postfix(loss=f"{losses[-1]:.4f}", samples_s=f"{rate:.0f}", refresh=False)
        sched.step()
        accs.append(evaluate(model, xt, yt))
        rate = seen / (time.perf_counter() - t0)
        print(f"epoch {epoch:2d}: loss {np.mean(losses[-len(loader):]):.4f}  "
              f"test accuracy {100 * accs[-1]:.2f}%  ({rate:.0f} samples/s)")

    acc = accs[-1]
    train_time = time.perf_counter() - t_start
    print(f"test accuracy: {100 * acc:.2f}% (target {100 * TARGET_ACCURACY:.0f}%) "
          f"after {train_time:.1f} s")

    ckpt_path = os.path.join(args.out, "digits.ember")
    ember.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "epoch": args.epochs, "accuracy": acc},
               ckpt_path)
    ckpt = ember.load(ckpt_path, map_location=device)
    fresh = DigitsNet().to(device)
    fresh.load_state_dict(ckpt["model"])
    reloaded_acc = evaluate(fresh, xt, yt)
    same = reloaded_acc == acc == ckpt["accuracy"]
    print(f"checkpoint {ckpt_path}: reloaded accuracy {100 * reloaded_acc:.2f}% "
          f"({'matches' if same else 'DIFFERS from'} the trained model)")

    png = os.path.join(args.out, "digits_training.png")
    plot_curve(losses, accs, len(loader), png)
    print(f"training curve: {png}")
    print(f"total time {time.perf_counter() - t_start:.1f} s")
    return 0 if (acc >= TARGET_ACCURACY and same) else 1


if __name__ == "__main__":
    sys.exit(main())
