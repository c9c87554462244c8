"""What the numbers were measured on: date, machine, versions, BLAS, threads."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from typing import Any

import peers

EXTRA_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "GOTO_NUM_THREADS")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "describe", "--always",
                              "--dirty"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def describe(command: str) -> dict[str, Any]:
    """The environment header, as a dict (printed as markdown, stored in the JSON)."""
    import numpy  # noqa: F401  (so threadpoolctl sees numpy's BLAS)

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "machine": f"{_cpu_model()}, {os.cpu_count()} logical CPUs, {_memory_gib() or 0:.1f} GiB RAM",
        "platform": platform.platform(),
        "python": f"{sys.version.split()[0]} ({platform.python_implementation()})",
        "tapegrad_commit": _git_commit(),
        "versions": {t: (peers.version(t) if peers.installed(t) else "not installed")
                     for t in peers.TOOLS if t != "python"},
        "numpy_blas": peers.blas_info(),
        "threads": {k: os.environ.get(k, "") for k in peers.THREAD_ENV if "NUM_THREADS" in k or k == "XLA_FLAGS"},
        "other_env": {k: os.environ[k] for k in EXTRA_ENV if k in os.environ},
        "load_before": load_average(),
    }


def blas_summary(info: list[dict[str, Any]]) -> str:
    parts = []
    for d in info:
        s = f"{d.get('internal_api', '?')} {d.get('version', '')}".strip()
        if d.get("architecture"):
            s += f" ({d['architecture']} kernel)"
        s += f", {d.get('num_threads', '?')} thread(s)"
        parts.append(s)
    return "; ".join(parts) or "none loaded"


def blas_by_tool(rows: list[Any]) -> dict[str, str]:
    """The BLAS each tool's child process loaded (threadpoolctl), as measured."""
    seen: dict[str, str] = {}
    for r in rows:
        if r.status == "ok" and "blas" in r.data and r.tool not in seen:
            seen[r.tool] = blas_summary(r.data["blas"])
    return seen
