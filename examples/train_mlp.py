"""Train a small neural network on handwritten digits with tapegrad.

    pip install scikit-learn matplotlib   # the data ships inside scikit-learn; matplotlib is optional
    python examples/train_mlp.py [--epochs 30] [--hidden 64] [--plot loss.png]

The data is scikit-learn's bundled copy of the UCI digits (1797 images of
8 x 8 pixels, nothing is downloaded). The network is an MLP 64 -> hidden -> 10
with tanh, trained with Adam on the softmax cross-entropy; a quarter of the
images is held out, and the script prints the held-out accuracy at the end.
Nothing hides the tape: ``tg.value_and_grad(loss)(params)`` is the whole
training step, and ``loss`` is ordinary tapegrad code around dense layers.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np
import numpy.typing as npt

import tapegrad as tg
from tapegrad import nn


Floats = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]


def load_digits(seed: int) -> tuple[Floats, Labels, Floats, Labels]:
    """(X_train, y_train, X_test, y_test): pixels scaled to [0, 1], a random quarter held out."""
    from sklearn.datasets import load_digits as sk_load_digits

    data = sk_load_digits()
    X, y = data.data / 16.0, data.target
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = len(X) // 4
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


def progress(done: int, total: int, loss: float, width: int = 30) -> None:
    filled = int(width * done / total)
    bar = "#" * filled + "-" * (width - filled)
    end = "\n" if done == total else ""
    print(f"\r[{bar}] epoch {done}/{total}  loss {loss:.4f}", end=end, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=64, help="width of the hidden layer")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's step size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="loss.png", help="where to write the loss curve ('' for none)")
    args = parser.parse_args(argv)

    X_train, y_train, X_test, y_test = load_digits(args.seed)
    model = nn.MLP([X_train.shape[1], args.hidden, 10], activation="tanh", seed=args.seed)
    params, state = model.params, nn.adam_init(model.params)

    def loss(params: nn.Params, X: Floats, labels: Labels) -> Any:
        return nn.cross_entropy(model(params, X), labels)

    step = tg.value_and_grad(loss)
    rng = np.random.default_rng(args.seed)
    curve: list[float] = []
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(X_train))
        losses: list[float] = []
        for start in range(0, len(order), args.batch):
            idx = order[start:start + args.batch]
            value, grads = step(params, X_train[idx], y_train[idx])
            params, state = nn.adam(params, grads, state, lr=args.lr)
            losses.append(value)
        curve.append(float(np.mean(losses)))
        progress(epoch, args.epochs, curve[-1])
    seconds = time.perf_counter() - t0

    accuracy = float(np.mean(np.argmax(model(params, X_test), axis=1) == y_test))
    print(f"trained {args.epochs} epochs on {len(X_train)} images in {seconds:.1f} s; "
          f"held-out accuracy {accuracy:.1%} on {len(X_test)} images")

    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("(matplotlib is not installed: no loss curve written)")
        else:
            fig, ax = plt.subplots(figsize=(5, 3.2))
            ax.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3)
            ax.set(xlabel="epoch", ylabel="training cross-entropy", yscale="log",
                   title=f"MLP 64-{args.hidden}-10 on digits: {accuracy:.1%} held out")
            fig.tight_layout()
            fig.savefig(args.plot, dpi=120)
            print(f"loss curve written to {args.plot}")
    return accuracy


if __name__ == "__main__":
    main()
