"""Smoke test of examples/train_mlp.py with small sizes (needs scikit-learn's bundled digits)."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_mlp.py"


def load_example():
    spec = importlib.util.spec_from_file_location("train_mlp", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_mlp_learns_digits(tmp_path, capsys):
    pytest.importorskip("sklearn")
    plot = tmp_path / "loss.png"
    accuracy = load_example().main(["--epochs", "5", "--hidden", "16", "--plot", str(plot)])
    out = capsys.readouterr()
    assert accuracy > 0.8  # chance is 0.1
    assert f"held-out accuracy {accuracy:.1%}" in out.out
    assert "epoch 5/5" in out.err  # the progress bar
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no loss curve written" in out.out
    else:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
