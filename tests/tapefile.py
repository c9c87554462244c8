"""A reader and writer of tapegrad's saved-tape format (cpp/include/tapegrad/serialize.hpp)
in plain Python, for tests that forge files: parse, change one field, write back with a
valid checksum. Not used by tapegrad itself."""
from __future__ import annotations

import struct
from typing import Any


def checksum(data: bytes) -> int:
    h = 0xcbf29ce484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> Any:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, code: str, n: int) -> list[Any]:
        values = list(struct.unpack_from(f"<{n}{code}", self.data, self.pos))
        self.pos += struct.calcsize(f"<{n}{code}")
        return values


def parse(data: bytes) -> dict[str, Any]:
    """The fields of a saved tape, as nested dicts and lists."""
    assert data[:8] == b"TAPEGRAD"
    r = _Reader(data[8:-8])
    f: dict[str, Any] = {"version": r.take("I")}
    if f["version"] >= 3:
        for table in ("op_names", "kind_names"):
            names = {}
            for _ in range(r.take("I")):
                code, length = r.take("BB")
                names[code] = r.data[r.pos:r.pos + length].decode()
                r.pos += length
            f[table] = names
    f["programs"] = []
    for _ in range(r.take("I")):
        p: dict[str, Any] = {}
        n, n_in, n_out, n_guards, n_args, n_sites = r.take("6Q")
        p["arg_shapes"] = [r.array("Q", r.take("I")) for _ in range(n_args)]
        p["out_shape"] = r.array("Q", r.take("I"))
        p["ops"] = r.array("B", n)
        p["parents"] = r.array("I", 2 * n)
        p["constants"] = r.array("d", n)
        p["inputs"] = r.array("I", n_in)
        p["outputs"] = r.array("I", n_out)
        p["guards"] = [r.take("BBIId") for _ in range(n_guards)]
        p["sites"] = []
        for _ in range(n_sites):
            length = r.take("I")
            p["sites"].append(r.data[r.pos:r.pos + length])
            r.pos += length
        if f["version"] >= 2:
            n_e, n_geometry, n_constants, p["weight_count"], n_indices = r.take("5Q")
            p["entries"] = [dict(zip(("kind", "op", "reducer", "ndim", "split", "flags", "first", "size", "a", "b",
                                      "geometry", "data", "weights", "scalar"), r.take("6B4I3Qd")))
                            for _ in range(n_e)]
            p["geometry"] = r.array("q", n_geometry)
            p["entry_constants"] = r.array("d", n_constants)
            p["indices"] = r.array("I", n_indices)
        f["programs"].append(p)
    assert r.pos == len(r.data), "unparsed bytes"
    return f


def write(f: dict[str, Any]) -> bytes:
    """The bytes of `f` (as parse gives it), with a valid checksum."""
    out = bytearray(b"TAPEGRAD")
    out += struct.pack("<I", f["version"])
    if f["version"] >= 3:
        for table in ("op_names", "kind_names"):
            out += struct.pack("<I", len(f[table]))
            for code, name in f[table].items():
                out += struct.pack("<BB", code, len(name)) + name.encode()
    out += struct.pack("<I", len(f["programs"]))
    for p in f["programs"]:
        n = len(p["ops"])
        out += struct.pack("<6Q", n, len(p["inputs"]), len(p["outputs"]), len(p["guards"]), len(p["arg_shapes"]),
                           len(p["sites"]))
        for s in p["arg_shapes"] + [p["out_shape"]]:
            out += struct.pack(f"<I{len(s)}Q", len(s), *s)
        out += struct.pack(f"<{n}B", *p["ops"]) + struct.pack(f"<{2 * n}I", *p["parents"])
        out += struct.pack(f"<{n}d", *p["constants"])
        out += struct.pack(f"<{len(p['inputs'])}I", *p["inputs"]) + struct.pack(f"<{len(p['outputs'])}I", *p["outputs"])
        for g in p["guards"]:
            out += struct.pack("<BBIId", *g)
        for s in p["sites"]:
            out += struct.pack("<I", len(s)) + s
        if f["version"] >= 2:
            out += struct.pack("<5Q", len(p["entries"]), len(p["geometry"]), len(p["entry_constants"]),
                               p["weight_count"], len(p["indices"]))
            for e in p["entries"]:
                out += struct.pack("<6B4I3Qd", *e.values())
            out += struct.pack(f"<{len(p['geometry'])}q", *p["geometry"])
            out += struct.pack(f"<{len(p['entry_constants'])}d", *p["entry_constants"])
            out += struct.pack(f"<{len(p['indices'])}I", *p["indices"])
    return bytes(out) + struct.pack("<Q", checksum(bytes(out)))


ENTRY_KINDS = ["elementwise", "reduce", "gather", "matmul", "cumsum", "inputs", "dense", "fused"]
