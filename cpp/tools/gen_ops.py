"""Generate everything that lists tapegrad's ops from the one op table, ops.def.

    python gen_ops.py OPS_DEF --cython SRC OUT
                                              Cython: copy the package's .pyx/.pxd
                                              files from SRC to OUT/tapegrad, filling
                                              the marker lines of _var.pyx with the op
                                              functions and Var's operators/methods,
                                              the marker line of _array.pyx with
                                              VarArray's operators/methods, and write
                                              OUT/tapegrad/record.pxd (the recorders'
                                              declarations, installed)
    python gen_ops.py OPS_DEF --stubs FILE    rewrite the generated part of _var.pyi
    python gen_ops.py OPS_DEF --array-stubs FILE
                                              rewrite the generated part of _array.pyi
    python gen_ops.py OPS_DEF --readme FILE   rewrite the op table in FILE (docs/ops.md)
    add --check to --stubs/--array-stubs/--readme: exit 1 if the file is not up to date

The build runs the first form; the others write committed files, and a test
runs them with --check so the committed copies cannot drift from ops.def.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

UNARY_FIELDS = ("name", "py", "value", "partial", "lo", "hi", "doc")
BINARY_FIELDS = ("name", "py", "value", "partial_a", "partial_b", "a_lo", "a_hi", "b_lo", "b_hi", "doc")


@dataclass(frozen=True)
class OpRow:
    name: str
    arity: int
    py: str  # special method, or ""
    value: str
    partials: tuple[str, ...]
    domain: tuple[tuple[float, float], ...]
    doc: str


def split_args(text: str) -> list[str]:
    """Split a macro's argument list at top-level commas (not inside () or "")."""
    args, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
    args.append(text[start:].strip())
    return args


def read_ops(path: str | Path) -> list[OpRow]:
    rows = []
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        m = re.match(r"^\s*TG_(UNARY|BINARY)\s*\((.*)\)\s*$", line)
        if not m:
            continue
        kind, args = m.group(1), split_args(m.group(2))
        fields = UNARY_FIELDS if kind == "UNARY" else BINARY_FIELDS
        if len(args) != len(fields):
            raise SystemExit(f"{path}:{lineno}: TG_{kind} takes {len(fields)} arguments, got {len(args)}")
        f = dict(zip(fields, args))
        unquote = lambda s: s.strip('"')  # noqa: E731
        if kind == "UNARY":
            rows.append(OpRow(f["name"], 1, unquote(f["py"]), f["value"], (f["partial"],),
                              ((float(f["lo"]), float(f["hi"])),), unquote(f["doc"])))
        else:
            rows.append(OpRow(f["name"], 2, unquote(f["py"]), f["value"], (f["partial_a"], f["partial_b"]),
                              ((float(f["a_lo"]), float(f["a_hi"])), (float(f["b_lo"]), float(f["b_hi"]))),
                              unquote(f["doc"])))
    return rows


def docstring(row: OpRow) -> str:
    args = "x" if row.arity == 1 else "x1, x2"
    if row.arity == 1:
        deriv = f"derivative {row.partials[0]}"
    else:
        deriv = f"partials {row.partials[0]} and {row.partials[1]}"
    # The example runs at a point of the op's test domain, so it is valid for
    # every op; the value through a Var is bit-for-bit the number's.
    points = [f"{lo + f * (hi - lo):.2g}" for (lo, hi), f in zip(row.domain, (0.6, 0.3))]
    if row.arity == 1:
        example = (f"    >>> y, dy = tg.value_and_grad(tg.{row.name})({points[0]})   # value and derivative\n"
                   f"    >>> y == tg.{row.name}({points[0]})\n    True\n")
    else:
        pts = ", ".join(points)
        example = (f"    >>> y, (da, db) = tg.value_and_grad(tg.{row.name}, argnums=(0, 1))({pts})\n"
                   f"    >>> y == tg.{row.name}({pts})\n    True\n")
    return (f"{row.name}({args})\n\n    {row.doc[0].upper() + row.doc[1:]}.\n\n"
            f"    Works on numbers (returns a float) and on Vars (records one node; {deriv},\n"
            f"    where a, b are the operands and y the result).\n\n"
            f"    >>> import tapegrad as tg\n{example}    ")


# ---- Cython ---------------------------------------------------------------------

def record_pxd(rows: list[OpRow]) -> str:
    """tapegrad/record.pxd: the recorders of record.hpp, for tapegrad._var and
    for other Cython extensions (installed with the package)."""
    out = ["# Cython declarations of the recorders (cpp/include/tapegrad/record.hpp).",
           "# Generated from ops.def by cpp/tools/gen_ops.py. Do not edit.",
           "#",
           "#   record_<op>(tape, a)        unary op of node a; returns the new node",
           "#   record_<op>(tape, a, b)     binary op of nodes a and b",
           "#   record_<op>_vc(tape, a, c)  binary op, constant second operand c",
           "#   record_<op>_cv(tape, c, b)  binary op, constant first operand c",
           "#   eval_<op>(x[, y])           the value for plain doubles",
           "from tapegrad.tape cimport Tape, index_t, translate_exception",
           "",
           'cdef extern from "tapegrad/record.hpp" namespace "tapegrad" nogil:']
    for r in rows:
        if r.arity == 1:
            out += [f"    double eval_{r.name}(double)",
                    f"    index_t record_{r.name}(Tape&, index_t) except +translate_exception"]
        else:
            out += [f"    double eval_{r.name}(double, double)",
                    f"    index_t record_{r.name}(Tape&, index_t, index_t) except +translate_exception",
                    f"    index_t record_{r.name}_vc(Tape&, index_t, double) except +translate_exception",
                    f"    index_t record_{r.name}_cv(Tape&, double, index_t) except +translate_exception"]
    return "\n".join(out) + "\n"


def pxi_functions(rows: list[OpRow]) -> str:
    out = ["# Generated from ops.def by cpp/tools/gen_ops.py. Do not edit.", "",
           "from tapegrad.record cimport *", ""]
    for r in rows:
        n = r.name
        if r.arity == 1:
            out += [f"cdef object _{n}(object x):",
                    "    cdef Var v",
                    "    if type(x) is Var:",
                    "        v = <Var>x",
                    "        _check_live(v)",
                    f"        return _result(v, record_{n}(v.ctape[0], v.slot))",
                    f'    return _other1(x, "{n}", eval_{n})',
                    "",
                    f"def {n}(x):",
                    f'    """{docstring(r)}"""',
                    f'    return _raise_unsupported(_{n}(x), "{n}", (x,))',
                    ""]
        else:
            out += [f"cdef object _{n}(object a, object b):",
                    "    cdef Var va, vb",
                    "    cdef double c",
                    "    if type(a) is Var:",
                    "        va = <Var>a",
                    "        if type(b) is Var:",
                    "            vb = <Var>b",
                    "            _check_pair(va, vb)",
                    f"            return _result(va, record_{n}(va.ctape[0], va.slot, vb.slot))",
                    "        if _constant(b, &c):",
                    "            _check_live(va)",
                    f"            return _result(va, record_{n}_vc(va.ctape[0], va.slot, c))",
                    "    elif type(b) is Var:",
                    "        vb = <Var>b",
                    "        if _constant(a, &c):",
                    "            _check_live(vb)",
                    f"            return _result(vb, record_{n}_cv(vb.ctape[0], c, vb.slot))",
                    f'    return _other2(a, b, "{n}", eval_{n})',
                    "",
                    f"def {n}(x1, x2):",
                    f'    """{docstring(r)}"""',
                    f'    return _raise_unsupported(_{n}(x1, x2), "{n}", (x1, x2))',
                    ""]
    out.append("UNARY_OPS = (" + "".join(f'"{r.name}", ' for r in rows if r.arity == 1) + ")")
    out.append("BINARY_OPS = (" + "".join(f'"{r.name}", ' for r in rows if r.arity == 2) + ")")
    return "\n".join(out) + "\n"


# Extra parameters some special methods must accept.
SPECIAL_SIGNATURES = {"__pow__": ", mod=None", "__round__": ", ndigits=None"}
SPECIAL_CHECKS = {
    "__pow__": '        if mod is not None:\n'
               '            raise TypeError("pow(x, y, mod) is not differentiable; use (x ** y) % mod on values")',
    "__round__": '        if ndigits is not None:\n'
                 '            raise TypeError("round(v, ndigits) is not supported on a Var; '
                 'use tapegrad.round(v * 10**n) / 10**n")',
}


def pxi_methods(rows: list[OpRow]) -> str:
    out = ["    # Generated from ops.def by cpp/tools/gen_ops.py. Do not edit.", ""]
    for r in rows:
        n = r.name
        if r.py:
            extra = SPECIAL_SIGNATURES.get(r.py, "")
            if r.arity == 1:
                out.append(f"    def {r.py}(self{extra}):")
                if r.py in SPECIAL_CHECKS:
                    out.append(SPECIAL_CHECKS[r.py])
                out += [f"        return _{n}(self)", ""]
            else:
                reflected = "__r" + r.py[2:]
                for meth, call in ((r.py, f"_{n}(self, other)"), (reflected, f"_{n}(other, self)")):
                    out.append(f"    def {meth}(self, other{extra}):")
                    if r.py in SPECIAL_CHECKS:
                        out.append(SPECIAL_CHECKS[r.py])
                    out += [f"        return {call}", ""]
        # Methods named like numpy's ufuncs, which numpy calls on object arrays.
        if n == "round":
            continue  # numpy calls .round(decimals); __round__ covers round()
        if r.arity == 1:
            out += [f"    def {n}(self):", f'        """Method form of tapegrad.{n}."""', f"        return _{n}(self)", ""]
        else:
            out += [f"    def {n}(self, other):", f'        """Method form of tapegrad.{n}."""',
                    f"        return _{n}(self, other)", ""]
    return "\n".join(out) + "\n"


# Array operators that numpy arrays do not have either (math.floor(array) is
# an error in numpy too); their method forms (va.floor()) are still generated.
NOT_ARRAY_OPERATORS = {"__floor__", "__ceil__", "__round__"}


def pxi_array_methods(rows: list[OpRow]) -> str:
    """VarArray's operators and ufunc-named methods: each records one
    elementwise entry through _array.pyx's _unary/_binary."""
    out = ["    # Generated from ops.def by cpp/tools/gen_ops.py. Do not edit.", ""]
    for r in rows:
        n = r.name
        if r.py and r.py not in NOT_ARRAY_OPERATORS:
            extra = SPECIAL_SIGNATURES.get(r.py, "")
            if r.arity == 1:
                out += [f"    def {r.py}(self{extra}):", f'        return _unary("{n}", self)', ""]
            else:
                reflected = "__r" + r.py[2:]
                for meth, call in ((r.py, f'_binary("{n}", self, other)'), (reflected, f'_binary("{n}", other, self)')):
                    out.append(f"    def {meth}(self, other{extra}):")
                    if r.py in SPECIAL_CHECKS:
                        out.append(SPECIAL_CHECKS[r.py].replace("on a Var", "on a VarArray"))
                    out += [f"        return {call}", ""]
        if n == "round":
            continue  # round(decimals) is written by hand, as numpy spells it
        if r.arity == 1:
            out += [f"    def {n}(self):", f'        """Method form of tapegrad.{n}."""',
                    f'        return _raise_unsupported(_unary("{n}", self), "{n}", (self,))', ""]
        else:
            out += [f"    def {n}(self, other):", f'        """Method form of tapegrad.{n}."""',
                    f'        return _raise_unsupported(_binary("{n}", self, other), "{n}", (self, other))', ""]
    return "\n".join(out) + "\n"


FUNCTIONS_MARKER = "# @ops.def: op functions\n"
METHODS_MARKER = "    # @ops.def: Var operators and methods\n"
ARRAY_METHODS_MARKER = "    # @ops.def: VarArray operators and methods\n"


def write_cython(rows: list[OpRow], src: Path, out: Path) -> None:
    """Cython allows `include` only at module level, so the generated methods
    are spliced into a build copy of the package's Cython sources instead."""
    pkg = out / "tapegrad"
    pkg.mkdir(parents=True, exist_ok=True)
    files = {"__init__.py": ""}
    for f in sorted(src.glob("*.pxd")) + sorted(src.glob("*.pxi")) + sorted(src.glob("*.pyx")):
        files[f.name] = f.read_text()
    pyx = files["_var.pyx"]
    for marker in (FUNCTIONS_MARKER, METHODS_MARKER):
        if pyx.count(marker) != 1:
            raise SystemExit(f"{src / '_var.pyx'}: expected the marker line {marker.strip()!r} exactly once")
    pyx = pyx.replace(FUNCTIONS_MARKER, pxi_functions(rows)).replace(METHODS_MARKER, pxi_methods(rows))
    files["_var.pyx"] = pyx
    files["record.pxd"] = record_pxd(rows)
    if "_array.pyx" in files:
        arr = files["_array.pyx"]
        if arr.count(ARRAY_METHODS_MARKER) != 1:
            raise SystemExit(f"{src / '_array.pyx'}: expected the marker line {ARRAY_METHODS_MARKER.strip()!r} once")
        files["_array.pyx"] = arr.replace(ARRAY_METHODS_MARKER, pxi_array_methods(rows))
    for name, text in files.items():
        f = pkg / name
        if not f.exists() or f.read_text() != text:  # keep mtimes stable for incremental builds
            f.write_text(text)


# ---- stubs and README -----------------------------------------------------------

STUB_BEGIN = "# --- begin generated functions: cpp/tools/gen_ops.py --stubs ---"
STUB_END = "# --- end generated functions ---"
METHOD_STUB_BEGIN = "# --- begin generated methods: cpp/tools/gen_ops.py --stubs ---"
METHOD_STUB_END = "# --- end generated methods ---"
ARRAY_METHOD_STUB_BEGIN = "# --- begin generated array methods: cpp/tools/gen_ops.py --array-stubs ---"
ARRAY_METHOD_STUB_END = "# --- end generated array methods ---"
README_BEGIN = "<!-- begin op table: generated from ops.def by cpp/tools/gen_ops.py --readme -->"
README_END = "<!-- end op table -->"


def stub_block(rows: list[OpRow]) -> str:
    out = [STUB_BEGIN]
    for r in rows:
        if r.arity == 1:
            out += [f"@overload\ndef {r.name}(x: Var) -> Var: ...",
                    f"@overload\ndef {r.name}(x: VarArray) -> VarArray: ...",
                    f"@overload\ndef {r.name}(x: _Number) -> float: ..."]
        else:
            out += [f"@overload\ndef {r.name}(x1: Var, x2: Var | _Number) -> Var: ...",
                    f"@overload\ndef {r.name}(x1: _Number, x2: Var) -> Var: ...",
                    f"@overload\ndef {r.name}(x1: VarArray, x2: _ArrayOperand) -> VarArray: ...",
                    f"@overload\ndef {r.name}(x1: _ArrayOperand, x2: VarArray) -> VarArray: ...",
                    f"@overload\ndef {r.name}(x1: _Number, x2: _Number) -> float: ..."]
    out.append("__all__ += [" + ", ".join(f'"{r.name}"' for r in rows) + "]")
    out.append(STUB_END)
    return "\n".join(out)


def method_stub_block(rows: list[OpRow]) -> str:
    out = ["    " + METHOD_STUB_BEGIN]
    for r in rows:
        if r.py and r.arity == 1:
            extra = {"__round__": ", ndigits: None = None"}.get(r.py, "")
            out.append(f"    def {r.py}(self{extra}) -> Var: ...")
        elif r.py:  # slot methods: their operands are positional-only at runtime
            extra = {"__pow__": ", mod: None = None"}.get(r.py, "")
            out.append(f"    def {r.py}(self, other: Var | _Number{extra}, /) -> Var: ...")
            out.append(f"    def __r{r.py[2:]}(self, other: _Number{extra}, /) -> Var: ...")
        if r.name == "round":
            continue
        if r.arity == 1:
            out.append(f"    def {r.name}(self) -> Var: ...")
        else:
            out.append(f"    def {r.name}(self, other: Var | _Number) -> Var: ...")
    out.append("    " + METHOD_STUB_END)
    return "\n".join(out)


def array_method_stub_block(rows: list[OpRow]) -> str:
    """VarArray's operators and ufunc-named methods in _array.pyi (as pxi_array_methods makes them)."""
    out = ["    " + ARRAY_METHOD_STUB_BEGIN]
    for r in rows:
        if r.py and r.py not in NOT_ARRAY_OPERATORS:
            if r.arity == 1:
                out.append(f"    def {r.py}(self) -> VarArray: ...")
            else:  # slot methods: their operands are positional-only at runtime
                extra = {"__pow__": ", mod: None = None"}.get(r.py, "")
                out.append(f"    def {r.py}(self, other: _ArrayOperand{extra}, /) -> VarArray: ...")
                out.append(f"    def __r{r.py[2:]}(self, other: _ReflectedOperand{extra}, /) -> VarArray: ...")
        if r.name == "round":
            continue  # round(decimals) is written by hand
        if r.arity == 1:
            out.append(f"    def {r.name}(self) -> VarArray: ...")
        else:
            out.append(f"    def {r.name}(self, other: _ArrayOperand) -> VarArray: ...")
    out.append("    " + ARRAY_METHOD_STUB_END)
    return "\n".join(out)


def readme_table(rows: list[OpRow]) -> str:
    out = [README_BEGIN, "", "| op | Python | value | derivative(s) | note |", "|---|---|---|---|---|"]
    for r in rows:
        spelled = {"__add__": "`a + b`", "__sub__": "`a - b`", "__mul__": "`a * b`", "__truediv__": "`a / b`",
                   "__pow__": "`a ** b`", "__neg__": "`-a`", "__abs__": "`abs(a)`", "__floor__": "`math.floor(a)`",
                   "__ceil__": "`math.ceil(a)`", "__round__": "`round(a)`"}.get(r.py, "")
        fn = f"`tapegrad.{r.name}`" + (f", {spelled}" if spelled else "")
        parts = " ; ".join(f"`{p}`" for p in r.partials)
        out.append(f"| {r.name} | {fn} | `{r.value}` | {parts} | {r.doc.replace('|', '/')} |")
    out += ["", README_END]
    return "\n".join(out)


def replace_between(text: str, begin: str, end: str, block: str, path: Path) -> str:
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < 0:
        raise SystemExit(f"{path}: markers {begin!r} ... {end!r} not found")
    line_start = text.rfind("\n", 0, i) + 1
    return text[:line_start] + block + text[j + len(end):]


def update_file(path: Path, blocks: list[tuple[str, str, str]], check: bool) -> int:
    old = path.read_text()
    new = old
    for begin, end, block in blocks:
        new = replace_between(new, begin, end, block, path)
    if new == old:
        return 0
    if check:
        print(f"{path} is out of date with ops.def: run cpp/tools/gen_ops.py", file=sys.stderr)
        return 1
    path.write_text(new)
    print(f"updated {path}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ops_def")
    p.add_argument("--cython", nargs=2, metavar=("SRC", "OUT"))
    p.add_argument("--stubs", metavar="FILE")
    p.add_argument("--array-stubs", metavar="FILE")
    p.add_argument("--readme", metavar="FILE")
    p.add_argument("--check", action="store_true")
    a = p.parse_args()
    rows = read_ops(a.ops_def)
    status = 0
    if a.cython:
        write_cython(rows, Path(a.cython[0]), Path(a.cython[1]))
    if a.stubs:
        status |= update_file(Path(a.stubs), [
            (METHOD_STUB_BEGIN, METHOD_STUB_END, method_stub_block(rows)),
            (STUB_BEGIN, STUB_END, stub_block(rows)),
        ], a.check)
    if a.array_stubs:
        status |= update_file(Path(a.array_stubs),
                              [(ARRAY_METHOD_STUB_BEGIN, ARRAY_METHOD_STUB_END, array_method_stub_block(rows))], a.check)
    if a.readme:
        status |= update_file(Path(a.readme), [(README_BEGIN, README_END, readme_table(rows))], a.check)
    return status


if __name__ == "__main__":
    sys.exit(main())
