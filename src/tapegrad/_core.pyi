# Generated from the installed tapegrad._core by pybind11-stubgen through
# cpp/tools/update_stubs.py. Do not edit: change the bindings' signatures and docstrings.
"""
tapegrad's compiled core: the C++ tape and the op table.
"""
from __future__ import annotations

import collections.abc
import typing

import numpy
import numpy.typing
import typing_extensions

class _pybind11_type(type):
    """pybind11_builtins.pybind11_type: the metaclass of pybind11 classes."""

class Tape(metaclass=_pybind11_type):
    """
    The C++ tape (flat arrays of nodes). Use tapegrad.Tape.
    """
    def __init__(self, limit: typing.SupportsInt | typing.SupportsIndex = 4294967295) -> None:
        """
        A new, empty tape holding at most `limit` nodes (default and maximum 2**32 - 1).
        """
    def _adjoints(self, out: typing.SupportsInt | typing.SupportsIndex, generation: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
        """
        Reverse sweep from node `out`: the adjoint d(out)/d(node) of nodes 0..out (sinks read 0).
        """
    def _gradient(self, out: typing.SupportsInt | typing.SupportsIndex, wrt: typing.Annotated[numpy.typing.ArrayLike, numpy.uint32], generation: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
        """
        Reverse sweep from node `out`: its derivative with respect to each node index in `wrt`.
        """
    def _nodes(self) -> dict[str, numpy.ndarray[typing.Any, numpy.dtype[typing.Any]]]:
        """
        A copy of every node (sinks included) as columns: opcode, parent_a, parent_b, partial_a, partial_b, value.
        """
    def release_thread(self) -> None:
        """
        Let another thread record on this tape next, keeping its nodes. A tape records in one thread
        at a time: the first op after a reset() makes its thread the recording thread, and an op
        from any other thread raises TapeThreadError until reset() or release_thread().
        
        >>> import threading, tapegrad as tg
        >>> tape = tg.Tape()
        >>> x = tape.var(2.0)      # this thread records on tape now
        >>> tape.release_thread()  # hand it over
        >>> out = []
        >>> t = threading.Thread(target=lambda: out.append(x * x)); t.start(); t.join()
        >>> tape.gradient(out[0], x)
        4.0
        """
    def reset(self) -> None:
        """
        Forget every node (Vars made so far become stale) but keep the memory for the next recording.
        
        >>> import tapegrad as tg
        >>> tape = tg.Tape()
        >>> x = tape.var(1.0)
        >>> tape.reset()
        >>> tape.num_nodes  # only the sink slots
        8
        """
    @property
    def _address(self) -> int:
        """
        Address of the C++ tape, for tapegrad's Cython front end.
        """
    @property
    def capsule(self) -> typing_extensions.CapsuleType:
        """
        The C++ tape (a tapegrad::Tape*) in a PyCapsule, for other extensions: Cython code calls
        tape_of(tape) from tapegrad/tape.pxd; C/C++ code calls PyCapsule_GetPointer with the name
        tapegrad::python::tape_capsule_name() (tapegrad/python.hpp), which carries the version.
        The pointer is valid while this Tape is alive.
        
        >>> import tapegrad as tg
        >>> tg.Tape().capsule  # doctest: +ELLIPSIS
        <capsule object "tapegrad.Tape ..." at 0x...>
        """
    @property
    def generation(self) -> int:
        """
        Bumped by every reset().
        """
    @property
    def limit(self) -> int:
        """
        The most nodes this tape can hold.
        """
    @property
    def nbytes(self) -> int:
        """
        Bytes of RAM the tape holds now: its node arrays (33 bytes a node) and, once a gradient was taken, the adjoint workspace (8 bytes a node). Kept across reset().
        """
    @property
    def num_nodes(self) -> int:
        """
        Nodes recorded, the sink slots included.
        """
class BranchChangedError(ValueError):
    """
    A compiled function was called at an input where a comparison made while recording (if x > 0: ...) would go the other way, so the recorded tape does not compute f there. The message names the comparison.
    """
class Program(metaclass=_pybind11_type):
    """
    A recorded tape compiled for replay: opcodes, parents, constants, inputs, outputs and the comparisons that chose its branch. Immutable; replays run in C++ with the GIL released. Use tapegrad.compile.
    """
    def __init__(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        """Not constructible from Python: raises TypeError."""
    @staticmethod
    def from_tape(tape: Tape, generation: typing.SupportsInt | typing.SupportsIndex, inputs: typing.Annotated[numpy.typing.ArrayLike, numpy.uint32], outputs: typing.Annotated[numpy.typing.ArrayLike, numpy.uint32], arg_shapes: collections.abc.Sequence[collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]], out_shape: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], sites: collections.abc.Sequence[str]) -> Program:
        """
        Copy a recorded tape into a new Program (the tape may then be reset).
        """
    def hvp(self, X: typing.Any, V: typing.Any, W: typing.Any, threads: typing.SupportsInt | typing.SupportsIndex = 1, status: typing.Any = None) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
        """
        (Y, G, HV): values, G[b] = W[b]ᵀ J and HV[b] = d(W[b]ᵀ J)/dX · V[b] (forward-over-reverse).
        """
    def jvp(self, X: typing.Any, V: typing.Any, threads: typing.SupportsInt | typing.SupportsIndex = 1, status: typing.Any = None) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
        """
        (Y, Ydot): values and Ydot[b] = J(X[b]) V[b] (replay on dual numbers).
        """
    def value(self, X: typing.Any, threads: typing.SupportsInt | typing.SupportsIndex = 1, status: typing.Any = None) -> numpy.typing.NDArray[numpy.float64]:
        """
        Y[b] = f(X[b]) for each row of X (B, num_inputs).
        """
    def value1(self, x: typing.SupportsFloat | typing.SupportsIndex) -> float:
        """
        f(x) for a function of one number to one number.
        """
    def value_and_grad1(self, x: typing.SupportsFloat | typing.SupportsIndex) -> tuple[float, float]:
        """
        (f(x), f'(x)) for one number to one number.
        """
    def vjp(self, X: typing.Any, W: typing.Any, threads: typing.SupportsInt | typing.SupportsIndex = 1, status: typing.Any = None) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
        """
        (Y, G): values and G[b] = W[b]ᵀ J(X[b]).
        """
    @property
    def arg_shapes(self) -> list[tuple[int, ...]]:
        ...
    @property
    def guards(self) -> list[dict[str, typing.Any]]:
        """
        The recorded comparisons, as dicts.
        """
    @property
    def num_inputs(self) -> int:
        ...
    @property
    def num_nodes(self) -> int:
        ...
    @property
    def num_outputs(self) -> int:
        ...
    @property
    def out_shape(self) -> tuple[int, ...]:
        ...
def _activation(z: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], activation: str) -> numpy.typing.NDArray[numpy.float64]:
    """
    act(z) by the kernel's elementwise loop.
    """
def _dense_backward(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], w: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], dy: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], activation: str, want_dx: bool, assume_finite: bool = False) -> tuple[numpy.typing.NDArray[numpy.float64] | None, numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
    """
    (dx or None, dw, db) of the dense layer whose output y has adjoint dy. assume_finite: what the forward learnt (x @ w + b finite); False always works.
    """
def _dense_forward(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], w: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], b: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, activation: str) -> numpy.typing.NDArray[numpy.float64]:
    """
    act(x @ w + b) by the dense kernel, on ndarrays.
    """
def _entry_counts(tape: Tape) -> dict[str, int]:
    """
    How many array entries of each kind the tape holds (for tests and curiosity).
    """
def _fuzz_load(cases: typing.SupportsInt | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex) -> dict[str, int | str]:
    """
    Fuzz the loader with truncated, bit-flipped and hand-crafted bytes (for the test suite).
    """
def _format_tables() -> dict[str, list[str]]:
    """
    The numbering saved files use: opcode names in row order, entry kind names (see serialize.hpp).
    """
def _gemm(a: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], b: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> numpy.typing.NDArray[numpy.float64]:
    """
    a @ b for 2-D float64 arrays on tapegrad's BLAS (GIL released).
    """
def _opcodes() -> list[tuple[str, str]]:
    """
    (name, arity) for every opcode, indexed by opcode; arity is none, unary, binary, binary_vc (constant second operand, kept in partial_b) or binary_cv (constant first operand).
    """
def _pullback(tape: Tape, outs: typing.Annotated[numpy.typing.ArrayLike, numpy.uint32], seeds: typing.Any, wrt: list[tuple[int, tuple[int, ...], tuple[int, ...]]], generation: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
    """
    Reverse sweeps seeded at node indices `outs`: with seeds (rows x len(outs)) one sweep per row of seeds; with seeds=None one sweep per output (a Jacobian row each). `wrt` lists (first, shape, strides) views; returns a (rows x total elements of wrt) float64 array.
    """
def _record_comparisons(tape: Tape, kinds: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], a: typing.Annotated[numpy.typing.ArrayLike, numpy.uint32], b: typing.Annotated[numpy.typing.ArrayLike, numpy.uint32], constants: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], outcomes: typing.Annotated[numpy.typing.ArrayLike, numpy.bool]) -> bool:
    """
    Record one comparison per element (b == 0: against constants[i]); see tapegrad/numpy/_guards.py.
    """
def _set_dgemm(address: typing.SupportsInt | typing.SupportsIndex) -> None:
    """
    Use the CBLAS dgemm at this address for every matrix product (tapegrad._blas does this).
    """
def load_programs(data: typing_extensions.Buffer, max_work: typing.SupportsInt | typing.SupportsIndex | None = None, max_memory: typing.SupportsInt | typing.SupportsIndex | None = None) -> list[Program]:
    """
    Programs from bytes, validated completely; ValueError on anything malformed or asking for more work or scratch memory per evaluation than max_work / max_memory (None: what the file's size pays for).
    """
def op_table() -> list[dict[str, typing.Any]]:
    """
    Every row of the op table (ops.def) as a dict: name, py (special method or ''), arity, value and partials (the C++ formulas), domain (test intervals per operand), doc.
    
    >>> import tapegrad as tg
    >>> [(r['name'], r['arity'], r['partials']) for r in tg.op_table()][:2]
    [('add', 2, ('1', '1')), ('subtract', 2, ('1', '-1'))]
    """
def save_programs(programs: collections.abc.Sequence[Program]) -> bytes:
    """
    Programs as bytes (see tapegrad/serialize.hpp).
    """
__version__: str = '0.1.0'
bytes_per_node: int = 33
dense_activations: tuple[str, ...] = ('identity', 'tanh', 'sigmoid', 'relu', 'softplus')
format_version: int = 3
max_nodes: int = 4294967295
