"""Turn the measured rows into markdown tables, a JSON file and PNG plots."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import asdict
from typing import Any

from environment import blas_summary

README_BEGIN = "<!-- begin benchmark results: written by benchmarks/run.py --readme -->"
README_END = "<!-- end benchmark results -->"


# ---- number formats --------------------------------------------------------------


def fmt_time(s: float | None) -> str:
    if s is None:
        return ""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_bytes(b: float | None) -> str:
    if b is None:
        return ""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b:.0f} B"


def fmt_err(err: float | None, tol: float) -> str:
    if err is None:
        return "—"
    return f"{err:.1e}" + ("" if err <= tol else " ✗")


def _ratio(x: float, base: float | None) -> str:
    return f"{x / base:.3g}×" if base else ""


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


def _extra_memory(d: dict[str, Any]) -> float:
    return max(0.0, d.get("peak_rss", 0) - d.get("rss_before", 0))


# ---- environment ------------------------------------------------------------------


def environment_markdown(env: dict[str, Any]) -> str:
    v = env["versions"]
    lines = [
        "## Environment",
        "",
        f"- date: {env['date']}; command: `{env['command']}`",
        f"- machine: {env['machine']} ({env['platform']}); load average at start {env['load_before']}",
        f"- Python {env['python']}; tapegrad {v.get('tapegrad')} (commit {env['tapegrad_commit']}); "
        f"numpy {v.get('numpy')}",
        "- peers: " + ", ".join(f"{t} {v[t]}" for t in v if t not in ("tapegrad", "numpy")),
        f"- BLAS (numpy, threadpoolctl): {blas_summary(env['numpy_blas'])}",
        "- threads: " + ", ".join(f"{k}={val or '(unset)'}" for k, val in env["threads"].items())
        + "; torch.set_num_threads(1); jax x64 on CPU"
        + (f"; {env['pinned']}" if env.get("pinned") else "")
        + "".join(f"; {k}={val}" for k, val in env["other_env"].items()),
        "- protocol: each (tool, size) runs in a fresh process; a sample is the mean of k back-to-back calls, "
        "min/median/max over the samples; setup = building/recording/compiling plus the first call; peak memory "
        "= peak RSS of that process above its RSS before the workload; Python's garbage collector on, as in "
        "user code. Ratios compare medians measured in the same run.",
        "",
    ]
    return "\n".join(lines)


def footer_markdown(env: dict[str, Any]) -> str:
    lines = [f"Run took {env['elapsed_s'] / 60:.1f} min; load average at the end {env['load_after']}.", ""]
    if env.get("blas_by_tool"):
        lines.append("BLAS loaded by each tool's process: " +
                     "; ".join(f"{t}: {s}" for t, s in env["blas_by_tool"].items()) + ".")
        lines.append("")
    return "\n".join(lines)


# ---- tables -----------------------------------------------------------------------


def _baseline(wl: Any, rows: list[Any]) -> tuple[str, dict[int, float]]:
    labels = [v.label for v in wl.variants if v.role == "baseline"]
    label = labels[0] if labels else ""
    meds = {}
    for r in rows:
        if r.variant == label and r.status == "ok":
            meds[r.size] = _median(r.data["record_times"] if wl.kind == "dag" else r.data["times"])
    return label, meds


def _skip_rows(rows: list[Any]) -> dict[tuple[str, int], str]:
    """For each variant, its first skipped/failed size, with the reason (later sizes fold into it)."""
    first: dict[tuple[str, int], str] = {}
    seen = set()
    for r in rows:
        if r.status != "ok" and r.size and r.variant not in seen:
            seen.add(r.variant)
            later = any(q.variant == r.variant and q.size > r.size for q in rows)
            what = {"skipped": "not run", "error": "error", "timeout": "stopped", "stopped": "stopped",
                    "crashed": "crashed"}[r.status]
            first[(r.variant, r.size)] = f"{what}{' here and above' if later else ''}: {r.reason}"
    return first


def workload_markdown(wl: Any, rows: list[Any], tol: float) -> str:
    base_label, base = _baseline(wl, rows)
    sizes = sorted({r.size for r in rows if r.size})
    skips = _skip_rows(rows)
    order = {v.label: i for i, v in enumerate(wl.variants)}
    out = [f"### {wl.key}: {wl.title}", ""]
    if wl.kind == "dag":
        out += [f"Ratio: record time / `{base_label}` running the same program. ns per node; bytes per node "
                "(total in brackets): tape = node arrays + adjoint workspace held by the tapegrad tape; "
                "peak RSS = above the process's RSS before recording.", "",
                f"| tool | {wl.size_name} | record ns/node, median (min–max) | × Python | sweep ns/node, median "
                "(min–max) | setup | tape B/node | peak RSS B/node | grad err |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    else:
        out += [f"Ratio: median / median of `{base_label}` (same size, same run). ns/op: median / number of "
                f"ops ({wl.op_name}). Setup: build + first call.", "",
                f"| tool | {wl.size_name} | median | min | max | runs | × baseline | ns/op | setup | peak mem "
                "| grad err |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        for r in sorted((r for r in rows if r.size == size), key=lambda r: order[r.variant]):
            if r.status != "ok":
                if (r.variant, size) in skips:
                    columns = 9 if wl.kind == "dag" else 11
                    out.append(f"| {r.variant} | {size:,} | {skips[(r.variant, size)]} |" + " |" * (columns - 3))
                continue
            out.append(_dag_line(r, base.get(size), tol) if wl.kind == "dag" else _call_line(wl, r, base.get(size), tol))
    if wl.kind == "dag":
        out += _large_summary(rows)
    by_reason: dict[str, list[str]] = {}
    for r in rows:
        if r.size == 0:
            by_reason.setdefault(r.reason, []).append(r.variant)
    if by_reason:
        out += [""] + [f"Not run ({reason}): {', '.join(labels)}." for reason, labels in by_reason.items()]
    notes = [v.note for v in wl.variants if v.note and any(r.variant == v.label and r.status == "ok" for r in rows)]
    notes += wl.notes
    if wl.env_unset:
        kernels: dict[str, str] = {}
        for r in rows:
            if r.status == "ok" and r.data.get("blas") and r.tool not in kernels:
                kernels[r.tool] = blas_summary(r.data["blas"])
        notes.append(f"Every tool's process ran with {' and '.join(wl.env_unset)} unset (for all alike), so "
                     "OpenBLAS picked its kernel for this CPU itself. BLAS each tool loaded here: "
                     + ("; ".join(f"{t}: {k}" for t, k in kernels.items()) or "none reported") + ".")
    if notes:
        out += [""] + [f"- {n}" for n in notes]
    out.append("")
    return "\n".join(out)


def _large_summary(rows: list[Any]) -> list[str]:
    """One plain sentence per tapegrad DAG of 10^8 nodes or more: the large-graph figures."""
    lines = []
    for r in rows:
        d = r.data
        if r.tool == "tapegrad" and r.status == "ok" and d["nodes"] >= 10**8:
            n = d["nodes"]
            lines.append(f"Large graph: tapegrad recorded {n:,} nodes from Python at "
                         f"{_median(d['record_times']) / n * 1e9:.3g} ns/node and swept them at "
                         f"{_median(d['sweep_times']) / n * 1e9:.3g} ns/node (median of {len(d['sweep_times'])}); "
                         f"tape + adjoint workspace {fmt_bytes(d.get('held_bytes'))}, peak RSS "
                         f"{fmt_bytes(_extra_memory(d))} above the process's RSS before recording.")
    return [""] + lines if lines else []


def _call_line(wl: Any, r: Any, base: float | None, tol: float) -> str:
    d = r.data
    t = d["times"]
    med = _median(t)
    return (f"| {r.variant} | {r.size:,} | {fmt_time(med)} | {fmt_time(min(t))} | {fmt_time(max(t))} | "
            f"{len(t)}×{d['calls_per_sample']} | {_ratio(med, base)} | {med / wl.ops(r.size) * 1e9:.3g} | "
            f"{fmt_time(d['setup'])} | {fmt_bytes(_extra_memory(d))} | {fmt_err(d.get('grad_err'), tol)} |")


def _per_node(times: list[float], n: int) -> str:
    if not times:
        return "—"
    ns = [t / n * 1e9 for t in times]
    return f"{_median(ns):.3g} ({min(ns):.3g}–{max(ns):.3g})" if len(ns) > 1 else f"{ns[0]:.3g}"


def _dag_line(r: Any, base: float | None, tol: float) -> str:
    d = r.data
    n = d["nodes"]
    held = d.get("held_bytes")
    extra = _extra_memory(d)
    setup = fmt_time(_median(d["setup_times"])) if d["setup_times"] else "—"
    return (f"| {r.variant} | {n:,} | {_per_node(d['record_times'], n)} | {_ratio(_median(d['record_times']), base)} "
            f"| {_per_node(d['sweep_times'], n)} | {setup} | "
            f"{f'{held / n:.1f} ({fmt_bytes(held)})' if held else '—'} | {extra / n:.1f} ({fmt_bytes(extra)}) | "
            f"{fmt_err(d.get('grad_err'), tol)} |")


# ---- plots ------------------------------------------------------------------------


def _time_of(wl: Any, r: Any) -> float:
    """What the plots compare: median seconds per call, or (record + sweep) seconds per node for the DAG."""
    d = r.data
    if wl.kind == "dag":
        return (_median(d["record_times"]) + (_median(d["sweep_times"]) if d["sweep_times"] else 0.0)) / d["nodes"]
    return _median(d["times"])


TOOL_COLORS = {"tapegrad": "C0", "autograd": "C1", "micrograd": "C2", "mygrad": "C3", "torch": "C4", "jax": "C5",
               "casadi": "C6"}  # one color per tool in every plot; compiled variants dotted


def _compiled(label: str) -> bool:
    return any(w in label for w in ("jit", "compile", "Function"))


def _lines(ax: Any, wl: Any, ok: list[Any], labels: list[str], metric: Any, ylabel: str) -> None:
    """One line per variant of metric(row) against size, log-log."""
    for label in labels:
        pts = sorted((r.data.get("nodes", r.size), metric(r)) for r in ok if r.variant == label)
        pts = [p for p in pts if p[1] is not None]
        if not pts:
            continue
        variant = next(v for v in wl.variants if v.label == label)
        style: dict[str, Any] = dict(marker="o", linewidth=2.5 if variant.tool == "tapegrad" else 1.3,
                                     color=TOOL_COLORS.get(variant.tool, "grey"))
        if variant.tool == "tapegrad" and label not in wl.tapegrad_ref[:1] or _compiled(label):
            style.update(marker="s", linestyle=":")
        if variant.role != "ad":
            style.update(linestyle="--", color="black" if variant.role == "baseline" else "grey")
        ax.plot(*zip(*pts), label=label, **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(wl.size_name)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)


def make_plots(out: str, wl: Any, rows: list[Any]) -> list[str]:
    """Time vs size per tool (log-log) and bars of the ratio to tapegrad; returns the file names."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return []
    ok = [r for r in rows if r.status == "ok"]
    labels = [v.label for v in wl.variants if any(r.variant == v.label for r in ok)]
    files = []
    sizes = sorted({r.size for r in ok})
    if len(sizes) > 1:
        if wl.kind == "dag":
            fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
            _lines(axes[0], wl, ok, labels, lambda r: _median(r.data["record_times"]) / r.data["nodes"] * 1e9,
                   "record, ns per node (median)")
            _lines(axes[1], wl, ok, labels, lambda r: _median(r.data["sweep_times"]) / r.data["nodes"] * 1e9
                   if r.data["sweep_times"] else None, "sweep, ns per node (median)")
            axes[0].set_title(f"{wl.key}: recording", fontsize=10)
            axes[1].set_title(f"{wl.key}: reverse sweep", fontsize=10)
            handles, names = axes[0].get_legend_handles_labels()  # the left panel has every variant
            axes[1].legend(handles, names, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        else:
            fig, ax = plt.subplots(figsize=(7.5, 4.8))
            _lines(ax, wl, ok, labels, lambda r: _median(r.data["times"]), "seconds per call (median)")
            ax.set_title(f"{wl.key}: time vs size", fontsize=10)
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        fig.tight_layout()
        name = f"{wl.key}-time.png"
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)
        files.append(name)
    ref_label = next((lab for lab in wl.tapegrad_ref if lab in labels), None)
    if ref_label:
        ref = {r.size: _time_of(wl, r) for r in ok if r.variant == ref_label}
        others = [lab for lab in labels if lab != ref_label]
        bar_sizes = [s for s in sizes if s in ref]
        if others and bar_sizes:
            fig, ax = plt.subplots(figsize=(7.5, 4.2))
            width = 0.8 / len(bar_sizes)
            for k, size in enumerate(bar_sizes):
                vals = []
                for lab in others:
                    r = next((r for r in ok if r.variant == lab and r.size == size), None)
                    vals.append(_time_of(wl, r) / ref[size] if r else float("nan"))
                xs = [i + (k - (len(bar_sizes) - 1) / 2) * width for i in range(len(others))]
                ax.bar(xs, vals, width, label=f"{wl.size_name}={size:,}")
            ax.axhline(1.0, color="black", linewidth=0.8)
            ax.set_yscale("log")
            ax.set_xticks(range(len(others)))
            ax.set_xticklabels(others, rotation=30, ha="right", fontsize=7)
            what = "record + sweep time" if wl.kind == "dag" else "median time"
            ax.set_ylabel(f"{what} ÷ {ref_label}\n(above 1: slower)", fontsize=8)
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:g}"))
            ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_title(f"{wl.key}: ratio to {ref_label}", fontsize=10)
            ax.grid(True, axis="y", which="both", alpha=0.3)
            if len(bar_sizes) > 1:
                ax.legend(fontsize=7)
            fig.tight_layout()
            name = f"{wl.key}-ratio.png"
            fig.savefig(os.path.join(out, name), dpi=110)
            plt.close(fig)
            files.append(name)
    return files


# ---- files ------------------------------------------------------------------------


def results_markdown(env: dict[str, Any], workloads: list[Any], rows: list[Any], tol: float,
                     images: dict[str, list[str]], image_dir: str) -> str:
    parts = [environment_markdown(env).replace("## Environment", "#### Environment", 1)]
    for wl in workloads:
        parts.append(workload_markdown(wl, [r for r in rows if r.workload == wl.key], tol).replace("### ", "#### ", 1))
        for name in images.get(wl.key, []):
            parts.append(f"![{name[:-4]}]({os.path.join(image_dir, name) if image_dir else name})")
        if images.get(wl.key):
            parts.append("")
    parts.append(footer_markdown(env))
    return "\n".join(parts)


def write(out: str, env: dict[str, Any], workloads: list[Any], rows: list[Any], tol: float, with_plots: bool = True,
          readme: str | None = None) -> None:
    os.makedirs(out, exist_ok=True)
    images = {}
    if with_plots:
        for wl in workloads:
            images[wl.key] = make_plots(out, wl, [r for r in rows if r.workload == wl.key])
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(results_markdown(env, workloads, rows, tol, images, ""))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"environment": env, "gradient_tolerance": tol, "rows": [asdict(r) for r in rows]}, f, indent=1,
                  default=float)
    if readme:
        rel = os.path.relpath(os.path.abspath(out), os.path.dirname(os.path.abspath(readme)))
        update_readme(readme, results_markdown(env, workloads, rows, tol, images, rel))


def update_readme(path: str, text: str) -> None:
    """Replace what lies between the README markers with `text`."""
    with open(path) as f:
        readme = f.read()
    if README_BEGIN not in readme or README_END not in readme:
        raise SystemExit(f"{path} has no benchmark-results markers; add the two lines\n{README_BEGIN}\n{README_END}\n"
                         "where the results should go")
    head, rest = readme.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    with open(path, "w") as f:
        f.write(f"{head}{README_BEGIN}\n\n{text.strip()}\n\n{README_END}{tail}")
