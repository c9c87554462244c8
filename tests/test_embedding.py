"""Embedding: the installed package ships its C++ headers, a CMake package and
Cython declarations; a Cython extension built against them (examples/cython,
compiled here in a temporary directory) records on tapegrad tapes at C speed."""

from __future__ import annotations

import ctypes
import doctest
import importlib.util
import math
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tg

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(tg.__file__).resolve().parent


def run(*cmd, cwd=None):
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def test_python_m_tapegrad_prints_the_installed_dirs():
    cmakedir = Path(run(sys.executable, "-m", "tapegrad", "--cmakedir").strip())
    includedir = Path(run(sys.executable, "-m", "tapegrad", "--includedir").strip())
    assert cmakedir == Path(tg.get_cmake_dir()) and includedir == Path(tg.get_include())
    assert (cmakedir / "tapegradConfig.cmake").is_file()
    assert (cmakedir / "tapegradConfigVersion.cmake").is_file()
    for header in ("tape.hpp", "record.hpp", "scalar.hpp", "python.hpp", "ops.def"):
        assert (includedir / "tapegrad" / header).is_file(), header
    # The Cython declarations sit next to the modules they describe.
    for pxd in ("tape.pxd", "record.pxd", "_var.pxd"):
        assert (PACKAGE / pxd).is_file(), pxd
    record = (PACKAGE / "record.pxd").read_text()
    for row in tg.op_table():
        assert f"record_{row['name']}(" in record and f"eval_{row['name']}(" in record


def test_the_capsule_is_named_for_the_version():
    capsule = tg.Tape().capsule
    name = ctypes.pythonapi.PyCapsule_GetName
    name.restype, name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    assert name(capsule).decode() == f"tapegrad.Tape {tg.__version__}"


@pytest.fixture(scope="module")
def fastpoly(tmp_path_factory):
    """examples/cython built against the installed tapegrad with CMake."""
    pytest.importorskip("Cython")
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not on PATH")
    build = tmp_path_factory.mktemp("fastpoly")
    run(cmake, "-S", ROOT / "examples" / "cython", "-B", build, f"-DPython_EXECUTABLE={sys.executable}",
        "-DCMAKE_BUILD_TYPE=Release")
    run(cmake, "--build", build)
    [so] = build.glob("fastpoly*.so") or build.glob("fastpoly*.pyd")
    spec = importlib.util.spec_from_file_location("fastpoly", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cython_consumer_records_a_var_with_the_right_gradient(fastpoly):
    rng = np.random.default_rng(3)
    for _ in range(20):
        c = rng.normal(size=rng.integers(2, 12))
        x0 = float(rng.uniform(-2, 2))
        with tg.Tape() as tape:
            x = tape.var(x0)
            before = tape.num_nodes
            y = fastpoly.horner(x, c)
            assert isinstance(y, tg.Var) and y.tape is tape
            assert tape.num_nodes == before + 2 * (len(c) - 1)
            assert y.value == pytest.approx(np.polyval(c[::-1], x0), rel=1e-12, abs=1e-12)
            slope = np.polyval(np.polyder(c[::-1]), x0)
            assert tape.gradient(y, x) == pytest.approx(slope, rel=1e-12, abs=1e-12)
            # The Var it returned records on like any other.
            z = tg.sin(y) * x
            assert tape.gradient(z, x) == pytest.approx(math.cos(y.value) * slope * x0 + math.sin(y.value))


def test_cython_consumer_records_without_the_gil(fastpoly):
    tape = tg.Tape()
    for x0 in np.linspace(-3, 3, 13):
        x = tape.var(x0)
        y = fastpoly.x_sin_x(x)
        assert y.value == pytest.approx(x0 * math.sin(x0), rel=1e-15, abs=1e-15)
        assert tape.gradient(y, x) == pytest.approx(math.sin(x0) + x0 * math.cos(x0), rel=1e-14, abs=1e-15)


def test_cython_consumer_sweeps_and_reads_adjoints_itself(fastpoly):
    xs = np.linspace(-1.5, 2.0, 40)
    tape = tg.Tape()
    s, g = fastpoly.sum_sin_products(tape, xs)
    assert s == pytest.approx(np.sum(np.sin(xs[:-1]) * xs[1:]), rel=1e-13)
    want = np.zeros_like(xs)
    want[:-1] += np.cos(xs[:-1]) * xs[1:]
    want[1:] += np.sin(xs[:-1])
    np.testing.assert_allclose(g, want, rtol=1e-13, atol=1e-15)
    assert tape.num_nodes == 8 + 40 + 3 * 39 - 1


def test_cython_consumer_doctests(fastpoly):
    failed, attempted = doctest.testmod(fastpoly, extraglobs={"fastpoly": fastpoly})
    assert attempted > 0 and failed == 0


def test_cython_consumer_errors(fastpoly):
    with pytest.raises(TypeError, match="expected a tapegrad.Tape"):
        fastpoly.sum_sin_products(object(), np.zeros(3))
    with pytest.raises(TypeError, match="Var"):
        fastpoly.horner(1.0, [1.0, 2.0])  # a float is not a Var
    tape = tg.Tape()
    x = tape.var(1.0)
    tape.reset()
    with pytest.raises(tg.StaleVarError):
        fastpoly.horner(x, [1.0, 2.0])
    # Recording from a second thread, through the consumer's C calls, raises too.
    x = tape.var(1.0)
    out: list = []

    def other():
        try:
            fastpoly.horner(x, [1.0, 2.0, 3.0])
        except Exception as e:
            out.append(e)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(out) == 1 and isinstance(out[0], tg.TapeThreadError)


def test_cython_consumer_refuses_a_tape_of_another_version(fastpoly):
    # A capsule named for another version: the extension would read a Tape
    # laid out by other headers, so tape_of refuses it by name.
    new = ctypes.pythonapi.PyCapsule_New
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    name = ctypes.create_string_buffer(b"tapegrad.Tape 0.0.1")

    class OldTape:
        capsule = new(ctypes.addressof(name), name, None)  # any non-null pointer

    with pytest.raises(ImportError, match="rebuild the extension"):
        fastpoly.sum_sin_products(OldTape(), np.zeros(3))


def test_the_readme_documents_the_embedding_commands():
    readme = (ROOT / "docs" / "embedding.md").read_text()
    assert "## Embedding tapegrad" in readme
    assert "python -m tapegrad --cmakedir" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "examples/cpp" in ci and "--cmakedir" in ci
