"""Code that the stubs must reject: each line ending in an `error:` comment has to
get a mypy error containing the comment's text (tests/test_stubs.py), and no other line may.
If the stubs degrade to Any, these stop being errors and the test fails."""

from __future__ import annotations

import tapegrad as tg

tape = tg.Tape()
x = tape.var(1.0)
a: str = tg.exp(x)  # error: Incompatible types in assignment
b: tg.Var = tg.exp(1.0)  # error: Incompatible types in assignment
tg.sin("one")  # error: No overload variant of "sin" matches
tg.arctan2(x, "b")  # error: No overload variant of "arctan2" matches
x.frobnicate()  # error: "Var" has no attribute "frobnicate"
n: str = tape.num_nodes  # error: Incompatible types in assignment
tape.reset(1)  # error: Too many arguments
tg.Tape(limit="big")  # error: Argument "limit" to "Tape" has incompatible type
c: int = tg.get_include()  # error: Incompatible types in assignment
d: tg.Var = tape.vars([1.0, 2.0])[1:]  # error: Incompatible types in assignment
e: tg.Var = tg.exp(tape.vars([1.0, 2.0]))  # error: Incompatible types in assignment
