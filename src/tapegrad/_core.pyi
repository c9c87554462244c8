# Generated from the installed tapegrad._core by pybind11-stubgen through
# cpp/tools/update_stubs.py. Do not edit: change the bindings' signatures and docstrings.
"""
tapegrad's compiled core: the C++ tape and the op table.
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
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
def _entry_counts(tape: Tape) -> dict[str, int]:
    """
    How many array entries of each kind the tape holds (for tests and curiosity).
    """
def _opcodes() -> list[tuple[str, str]]:
    """
    (name, arity) for every opcode, indexed by opcode; arity is none, unary, binary, binary_vc (constant second operand, kept in partial_b) or binary_cv (constant first operand).
    """
def _pullback(tape: Tape, outs: typing.Annotated[numpy.typing.ArrayLike, numpy.uint32], seeds: typing.Any, wrt: list[tuple[int, tuple[int, ...], tuple[int, ...]]], generation: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
    """
    Reverse sweeps seeded at node indices `outs`: with seeds (rows x len(outs)) one sweep per row of seeds; with seeds=None one sweep per output (a Jacobian row each). `wrt` lists (first, shape, strides) views; returns a (rows x total elements of wrt) float64 array.
    """
def op_table() -> list[dict[str, typing.Any]]:
    """
    Every row of the op table (ops.def) as a dict: name, py (special method or ''), arity, value and partials (the C++ formulas), domain (test intervals per operand), doc.
    
    >>> import tapegrad as tg
    >>> [(r['name'], r['arity'], r['partials']) for r in tg.op_table()][:2]
    [('add', 2, ('1', '1')), ('subtract', 2, ('1', '-1'))]
    """
__version__: str = '0.1.0'
bytes_per_node: int = 33
max_nodes: int = 4294967295
