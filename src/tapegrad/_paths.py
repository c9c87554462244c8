"""Where the installed package keeps what compiled code builds against."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def get_include() -> str:
    """The directory of tapegrad's C++ headers (``#include "tapegrad/scalar.hpp"``).

    Put it on the include path of a C++ or Cython extension that records on
    tapegrad tapes (C++17). CMake users take the ``tapegrad::tape`` target
    from :func:`get_cmake_dir` instead.

    >>> import os, tapegrad as tg
    >>> os.path.isfile(os.path.join(tg.get_include(), "tapegrad", "tape.hpp"))
    True
    """
    return str(_HERE / "include")


def get_cmake_dir() -> str:
    """The directory of tapegrad's CMake package config, for ``-Dtapegrad_DIR=``.

    ``find_package(tapegrad CONFIG REQUIRED)`` then gives the header-only
    target ``tapegrad::tape``. ``python -m tapegrad --cmakedir`` prints it.

    >>> import os, tapegrad as tg
    >>> os.path.isfile(os.path.join(tg.get_cmake_dir(), "tapegradConfig.cmake"))
    True
    """
    return str(_HERE / "share" / "cmake" / "tapegrad")
