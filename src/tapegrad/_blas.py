"""The BLAS behind dense layers and matrix products.

tapegrad uses the OpenBLAS of the ``scipy-openblas32`` wheel, the library numpy
and scipy themselves build against. It is loaded on first use, privately
(``RTLD_LOCAL``: its symbols do not leak into other extensions), and the
address of its ``cblas_dgemm`` is handed to the C++ kernels once.
Why this and not linking at build time: see cpp/include/tapegrad/blas.hpp.

>>> from tapegrad import _blas
>>> _blas.info()["library"].startswith("libscipy_openblas")
True
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import threading
from typing import Any

from . import _array, _core

# Every extension module that runs BLAS-backed kernels keeps its own pointer
# (C++ symbols are private to each module): _array records dense entries,
# _core sweeps them and serves the ndarray kernels.
_MODULES = (_core, _array)

_PACKAGE = "scipy_openblas32"
_PREFIX = "scipy_"  # the wheel's symbol prefix: scipy_cblas_dgemm, ...
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


def _library_path() -> str:
    spec = importlib.util.find_spec(_PACKAGE)  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "tapegrad's dense layers and matrix products need the scipy-openblas32 package "
            "(the OpenBLAS build numpy and scipy use): pip install scipy-openblas32")
    lib_dir = os.path.join(list(spec.submodule_search_locations)[0], "lib")
    names = sorted(f for f in os.listdir(lib_dir)
                   if f.startswith("libscipy_openblas") and f.endswith((".so", ".dylib", ".dll")))
    if not names:
        raise ImportError(f"no OpenBLAS library found in {lib_dir}; reinstall scipy-openblas32")
    return os.path.join(lib_dir, names[0])


def load(optional: bool = False) -> ctypes.CDLL | None:
    """Load the BLAS (once) and hand its dgemm to the C++ kernels. With
    ``optional=True`` a missing scipy-openblas32 returns None instead of
    raising (``import tapegrad`` does that; the first product then raises)."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            try:
                path = _library_path()
            except ImportError:
                if optional:
                    return None
                raise
            lib = ctypes.CDLL(path)  # RTLD_LOCAL by default
            address = ctypes.cast(getattr(lib, _PREFIX + "cblas_dgemm"), ctypes.c_void_p).value
            for module in _MODULES:
                module._set_dgemm(address)
            _lib = lib
    return _lib


def info() -> dict[str, Any]:
    """Which BLAS runs tapegrad's matrix products: file, version string,
    the CPU kernel OpenBLAS picked (its ``corename``) and its thread count."""
    lib = load()
    assert lib is not None
    for name, restype in (("openblas_get_config", ctypes.c_char_p), ("openblas_get_corename", ctypes.c_char_p),
                          ("openblas_get_num_threads", ctypes.c_int)):
        getattr(lib, _PREFIX + name).restype = restype
    return {
        "library": os.path.basename(lib._name),
        "path": lib._name,
        "config": getattr(lib, _PREFIX + "openblas_get_config")().decode(),
        "corename": getattr(lib, _PREFIX + "openblas_get_corename")().decode(),
        "num_threads": getattr(lib, _PREFIX + "openblas_get_num_threads")(),
    }
