"""A saved tape is never read as a different function (cpp/include/tapegrad/serialize.hpp).

Format 3 names the ops and entry kinds a file uses; formats 1 and 2 are read through
the op tables of the builds that wrote them, or refused. Golden files of every format
(tests/data/, written by the code of their time with tests/data/write_golden.py) must
compute what they computed when they were written. Forged files cannot ask for
unbounded work or memory, or carry source lines that break messages, and a pickle
names one plain function of tapegrad.
"""
from __future__ import annotations

import io
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core

import tapefile

DATA = Path(__file__).parent / "data"
GOLDEN = sorted(p.stem for p in DATA.glob("format*.tape"))

# Format 1 was written with two op tables (before and after Op::entry) and does not
# say which. These files are valid under both, so they are refused, never guessed.
AMBIGUOUS_FORMAT1 = {"format1_beforeentry_unary_chain", "format1_withentry_unary_chain"}


def test_op_rows_and_entry_kinds_are_only_appended():
    """The numbering of formats 1 and 2 is the op table's order: rows may only be appended."""
    recorded = json.loads((DATA / "format_tables.json").read_text())
    today = _core._format_tables()
    assert today["ops"][:len(recorded["ops"])] == recorded["ops"], \
        "ops.def rows were inserted, reordered or renamed: append new rows at the end"
    assert today["entry_kinds"][:len(recorded["entry_kinds"])] == recorded["entry_kinds"], \
        "entry kinds were inserted or reordered: append new kinds at the end"
    activations = list(_core.dense_activations)  # dense entries store them as numbers too
    assert activations[:len(recorded["dense_activations"])] == recorded["dense_activations"]
    assert len(set(today["ops"])) == len(today["ops"])


def test_format3_header_names_exactly_the_ops_and_kinds_it_uses():
    data = tg.compile(lambda x: tg.tanh(tg.sqrt(tg.sin(x))), 0.7).to_bytes()
    f = tapefile.parse(data)
    assert f["version"] == 3 == _core.format_version
    assert sorted(f["op_names"].values()) == ["input", "sin", "sink", "sqrt", "tanh"]
    assert f["kind_names"] == {}
    rows = _core._format_tables()["ops"]
    assert all(rows[code] == name for code, name in f["op_names"].items())
    arrays = tapefile.parse(tg.compile(lambda x: tg.sum(tg.cumsum(x) * 2.0), np.ones(3)).to_bytes())
    assert set(arrays["kind_names"].values()) >= {"inputs", "cumsum"}


def renumbered(data: bytes, shift: int) -> bytes:
    """The same file with every op code moved by `shift` (header and body), as a build
    with a differently ordered table would write it."""
    f = tapefile.parse(data)
    f["op_names"] = {(c + shift) % 256: n for c, n in f["op_names"].items()}
    for p in f["programs"]:
        p["ops"] = [(c + shift) % 256 for c in p["ops"]]
        for e in p["entries"]:
            if e["kind"] == tapefile.ENTRY_KINDS.index("elementwise"):
                e["op"] = (e["op"] + shift) % 256
    return tapefile.write(f)


def test_format3_maps_op_names_to_todays_rows_not_numbers():
    cf = tg.compile(lambda x, y: tg.tanh(tg.sqrt(tg.sin(x))) * y + x / y, 0.7, 1.3)
    moved = tg.CompiledFunction.from_bytes(renumbered(cf.to_bytes(), 100))
    for x, y in [(0.7, 1.3), (1.1, -0.4)]:
        assert moved.value_and_grad(x, y) == cf.value_and_grad(x, y)


def test_format3_refuses_an_op_this_build_lacks_by_name():
    f = tapefile.parse(tg.compile(lambda x: tg.sin(x) * 2.0, 0.5).to_bytes())
    code = next(c for c, n in f["op_names"].items() if n == "sin")
    f["op_names"][code] = "sin_of_tomorrow"
    with pytest.raises(ValueError, match=r"'sin_of_tomorrow' \(format version 3\).*upgrade tapegrad"):
        tg.CompiledFunction.from_bytes(tapefile.write(f))


def test_format3_refuses_a_code_its_header_does_not_name():
    f = tapefile.parse(tg.compile(lambda x: tg.sin(x) * 2.0, 0.5).to_bytes())
    code = next(c for c, n in f["op_names"].items() if n == "sin")
    del f["op_names"][code]
    with pytest.raises(ValueError, match="not named in the file's header"):
        tg.CompiledFunction.from_bytes(tapefile.write(f))


def test_format3_refuses_an_entry_kind_this_build_lacks_by_name():
    f = tapefile.parse(tg.compile(lambda x: tg.sum(tg.cumsum(x)), np.ones(3)).to_bytes())
    code = next(c for c, n in f["kind_names"].items() if n == "cumsum")
    f["kind_names"][code] = "scan"
    with pytest.raises(ValueError, match=r"kind 'scan' \(format version 3\)"):
        tg.CompiledFunction.from_bytes(tapefile.write(f))


def test_a_later_format_is_refused_with_upgrade():
    data = bytearray(tg.compile(lambda x: x * x, 1.0).to_bytes())
    data[8:12] = struct.pack("<I", 4)
    data[-8:] = struct.pack("<Q", tapefile.checksum(bytes(data[:-8])))
    with pytest.raises(ValueError, match="format version 4.*upgrade tapegrad"):
        tg.CompiledFunction.from_bytes(bytes(data))


# ---- golden files of every format ----------------------------------------------------

def test_there_are_golden_files_of_every_format_version():
    versions = {json.loads((DATA / f"{stem}.json").read_text())["format"] for stem in GOLDEN}
    assert versions == set(range(1, _core.format_version + 1))
    writers = {stem.split("_")[1] for stem in GOLDEN if stem.startswith("format1_")}
    assert writers == {"beforeentry", "withentry"}  # both op tables that wrote format 1


def check_results(cf: tg.CompiledFunction, results: list[dict]) -> None:
    for r in results:
        args = [np.array(a) if isinstance(a, list) else a for a in r["input"]]
        if "error" in r:
            assert r["error"] == "BranchChangedError"
            with pytest.raises(tg.BranchChangedError):
                cf.value_and_grad(*args)
            continue
        value, grad = cf.value_and_grad(*args)
        grads = grad if len(args) > 1 else (grad,)
        # The same function: equal up to rounding (ops.def formulas may be refined).
        np.testing.assert_allclose(value, r["value"], rtol=1e-12, atol=1e-300)
        for g, want in zip(grads, r["grad"]):
            np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("stem", GOLDEN)
def test_golden_file_computes_what_it_computed_when_written(stem):
    meta = json.loads((DATA / f"{stem}.json").read_text())
    data = (DATA / f"{stem}.tape").read_bytes()
    assert struct.unpack("<I", data[8:12])[0] == meta["format"]
    if stem in AMBIGUOUS_FORMAT1:
        with pytest.raises(ValueError, match="format version 1 files were written by two tapegrad builds"):
            tg.CompiledFunction.from_bytes(data)
        return
    cf = tg.CompiledFunction.from_bytes(data)
    check_results(cf, meta["results"])
    again = tg.CompiledFunction.from_bytes(cf.to_bytes())  # re-saved as today's format
    assert struct.unpack("<I", cf.to_bytes()[8:12])[0] == _core.format_version
    check_results(again, meta["results"])
    if meta["compile_options"].get("debug"):
        assert all(c["site"] for c in cf.comparisons)


def test_the_format1_reproducer_is_refused_not_misread():
    """tanh(sqrt(sin(x))) saved in format 1 before Op::entry replayed as cosh(log10(cbrt(abs(x))))."""
    data = (DATA / "format1_beforeentry_unary_chain.tape").read_bytes()
    with pytest.raises(ValueError, match="save it with this version"):
        tg.CompiledFunction.from_bytes(data)


def test_format2_rows_are_read_through_the_format2_table():
    """Row 61 of format 2 is sign, 18 negative: the table of that time, mapped by name."""
    f = tapefile.parse(tg.compile(lambda x: tg.sign(x) - x, 0.5).to_bytes())
    names = f["op_names"]
    v2 = json.loads((DATA / "format_tables.json").read_text())["ops"]
    f["version"] = 2
    for p in f["programs"]:
        p["ops"] = [v2.index(names[c]) for c in p["ops"]]
    del f["op_names"], f["kind_names"]
    cf = tg.CompiledFunction.from_bytes(tapefile.write(f))
    assert cf.value_and_grad(-2.0) == (1.0, -1.0)


# ---- forged files cannot ask for unbounded work or memory ---------------------------

def forged(f, kind: str):
    """An entry of `kind` in f, and its geometry."""
    p = f["programs"][0]
    e = next(e for e in p["entries"] if e["kind"] == tapefile.ENTRY_KINDS.index(kind))
    return p, e, e["geometry"]


def forge_reduce(reducer: str) -> bytes:
    fn = {"sum": tg.sum, "max": tg.max}[reducer]
    f = tapefile.parse(tg.compile(lambda x: fn(x), np.ones(8)).to_bytes())
    p, e, g = forged(f, "reduce")
    p["geometry"][g] = 2**32 - 1       # the reduced axis: 2^32 - 1 elements ...
    p["geometry"][g + 1] = 0           # ... all the same slot
    if reducer != "sum":
        p["weight_count"] = 2**32 - 1  # and a weight each (32 GiB as dual numbers)
    return tapefile.write(f)


def forge_matmul() -> bytes:
    f = tapefile.parse(tg.compile(lambda x: tg.sum(x.reshape(1, 2) @ x.reshape(2, 1)), np.ones(2)).to_bytes())
    p, e, g = forged(f, "matmul")
    geometry = p["geometry"]
    assert geometry[g:g + 3] == [1, 2, 1]
    geometry[g + 1] = 2**32 - 1        # K
    geometry[g + 4] = geometry[g + 5] = 0
    return tapefile.write(f)


def forge_fused() -> bytes:
    f = tapefile.parse(tg.compile(lambda x: tg.sum(tg.sin(x) * x), np.ones(4)).to_bytes())
    p, e, g = forged(f, "fused")
    geometry, nd = p["geometry"], e["ndim"]
    L = geometry[g]
    geometry[g + 2 + nd - 1] = 2**32 - 1  # the summed axis
    for leaf in range(L):
        geometry[g + 2 + nd + leaf * (2 + nd) + 2 + nd - 1] = 0
    return tapefile.write(f)


FORGERIES = {"reduce sum": lambda: forge_reduce("sum"), "reduce max (weights)": lambda: forge_reduce("max"),
             "matmul K": forge_matmul, "fused sum": forge_fused}


@pytest.mark.parametrize("name", FORGERIES)
def test_a_tiny_forged_file_cannot_ask_for_unbounded_work(name):
    data = FORGERIES[name]()
    assert len(data) < 2500
    with pytest.raises(ValueError, match=r"element operations.*pass max_work="):
        tg.CompiledFunction.from_bytes(data)


def test_a_forged_weight_count_cannot_ask_for_unbounded_memory():
    data = forge_reduce("max")
    with pytest.raises(ValueError, match=r"bytes of scratch.*pass max_memory="):
        tg.CompiledFunction.from_bytes(data, max_work=2**40)


def test_max_work_and_max_memory_are_explicit_limits(tmp_path):
    cf = tg.compile(lambda x: tg.sum(x.reshape(4, 5) @ x.reshape(5, 4)), np.ones(20))
    data = cf.to_bytes()
    with pytest.raises(ValueError, match="more than 10 .the max_work given"):
        tg.CompiledFunction.from_bytes(data, max_work=10)
    path = tmp_path / "f.tape"
    cf.save(path)
    with pytest.raises(ValueError, match="max_work"):
        tg.load(path, max_work=10)
    loaded = tg.load(path, max_work=10**6, max_memory=10**6)
    assert loaded.value_and_grad(np.arange(20.0))[0] == cf.value_and_grad(np.arange(20.0))[0]
    # The forged file loads when its reader says it trusts it (not run: it would take minutes).
    tg.CompiledFunction.from_bytes(forge_reduce("sum"), max_work=2**33)


# ---- debug source lines ----------------------------------------------------------------

def with_site(site: bytes) -> bytes:
    f = tapefile.parse(tg.compile(lambda x: x * 2.0 if x > 0.5 else -x, 1.0, debug=True).to_bytes())
    assert len(f["programs"][0]["sites"]) == 1
    f["programs"][0]["sites"] = [site]
    return tapefile.write(f)


@pytest.mark.parametrize("site", [b"if x \xff> 0.5", b"if x > 0.5\x00 and more", b"\xed\xa0\x80 surrogate",
                                  b"\xc0\xaf overlong", b"cut \xe2\x82"])
def test_a_source_line_that_is_not_utf8_or_holds_nul_is_refused_at_load(site):
    with pytest.raises(ValueError, match="not UTF-8 text, or holds a NUL byte"):
        tg.CompiledFunction.from_bytes(with_site(site))


def test_a_utf8_source_line_loads_and_shows():
    cf = tg.CompiledFunction.from_bytes(with_site("if x > 0.5:  # é, ∂".encode()))
    assert "∂" in cf.comparisons[0]["site"]
    assert repr(cf)
    with pytest.raises(tg.BranchChangedError, match="∂"):
        cf(0.1)


# ---- pickle ----------------------------------------------------------------------------

class AllowList(pickle.Unpickler):
    """An unpickler that finds only the globals listed (and records what it was asked)."""

    def __init__(self, data: bytes, allowed: set[tuple[str, str]]):
        super().__init__(io.BytesIO(data))
        self.allowed, self.asked = allowed, []

    def find_class(self, module, name):
        self.asked.append((module, name))
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed")
        return super().find_class(module, name)


# From protocol 3 on (protocol 2 spells bytes as _codecs.encode, for Python 2).
@pytest.mark.parametrize("protocol", range(3, pickle.HIGHEST_PROTOCOL + 1))
def test_a_pickle_names_only_one_plain_function_of_tapegrad(protocol):
    cf = tg.compile(lambda x, y: tg.sin(x) * y, 0.5, 2.0)
    u = AllowList(pickle.dumps(cf, protocol=protocol), {("tapegrad._compile", "_load_pickled")})
    back = u.load()
    assert set(u.asked) == {("tapegrad._compile", "_load_pickled")}
    assert back.value_and_grad(0.3, 1.5) == cf.value_and_grad(0.3, 1.5)
    assert not hasattr(tg._compile._load_pickled, "__self__")  # not a bound method: no getattr in the pickle


def test_pickles_written_by_the_old_reduce_still_load():
    meta = json.loads((DATA / "pickle_main_3793bff.json").read_text())
    data = (DATA / "pickle_main_3793bff.pkl").read_bytes()
    assert b"getattr" in data  # what the old __reduce__ made pickles name
    cf = pickle.loads(data)
    for r in meta["results"]:
        value, grad = cf.value_and_grad(*r["input"])
        np.testing.assert_allclose(value, r["value"], rtol=1e-12)
        np.testing.assert_allclose(grad, r["grad"], rtol=1e-12)
    with pytest.raises(pickle.UnpicklingError, match="getattr is not allowed"):
        AllowList(data, {("tapegrad._compile", "_load_pickled"), ("tapegrad._compile", "CompiledFunction")}).load()
