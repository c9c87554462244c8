"""No input crashes the interpreter: objects never initialised, fork() while
replay threads exist, daemon threads at exit, thread and memory limits.

Each case runs in a child interpreter, so that a crash shows up as a failed
test (its exit status) rather than killing the test run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

LINUX = sys.platform == "linux"


def run_child(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)


def crash_report(p: subprocess.CompletedProcess) -> str:
    return f"exit status {p.returncode}\nstdout (last lines):\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}"


# ---- objects made by T.__new__(T) alone ------------------------------------------------

WALK = r'''
import inspect, json, pkgutil, sys, importlib
import numpy as np
import tapegrad as tg

def compiled(cls):
    """True when cls or a base is a compiled type (Cython or pybind11)."""
    for k in cls.__mro__[:-1]:
        f = getattr(sys.modules.get(k.__module__), "__file__", "") or ""
        if f.endswith((".so", ".pyd")):
            return True
    return False

# Every class that tapegrad's modules expose, found by introspection.
modules = [tg] + [importlib.import_module(m.name) for m in pkgutil.walk_packages(tg.__path__, "tapegrad.")
                  if m.name != "tapegrad.__main__"]
classes = {}
for mod in modules:
    for name, obj in vars(mod).items():
        if (isinstance(obj, type) and (obj.__module__ or "").startswith("tapegrad")
                and not issubclass(obj, BaseException)):
            classes[f"{obj.__module__}.{obj.__qualname__}"] = obj

# Plausible arguments: live tapegrad objects and numbers of the usual shapes.
tape = tg.Tape()
live_var = tape.var(0.5)
live_array = tape.vars(np.ones(3))
cf = tg.compile(lambda x: x * x, 0.5)
ARGS = [(), (1.0,), (2,), (live_var,), (live_array,), (np.ones(3),), (np.ones((2, 1)),),
        (np.ones((2, 1)), np.ones((2, 1))), (np.ones((2, 1)), np.ones((2, 1)), np.ones((2, 1))),
        (1.0, 1.0), (0, np.zeros(1, np.uint32), 0), (0, np.zeros(1, np.uint32), None, [], 0), (0, 0),
        (np.sin, "__call__", None), (np.sum, "TYPES", (None,), {}), (slice(None),), ((0,),), ((2,), (1,)),
        ("x",), (live_var, live_var)]
SKIP = {"__new__", "__init__", "__init_subclass__", "__subclasshook__", "__class_getitem__", "__doc__",
        "__module__", "__dict__", "__weakref__", "__slots__", "__annotations__", "__pyx_vtable__",
        "__qualname__", "__abstractmethods__", "__parameters__", "__orig_bases__", "__firstlineno__",
        "__static_attributes__", "__match_args__", "__dataclass_fields__", "__dataclass_params__",
        "_pybind11_conduit_v1_"}
report = {"types": [], "cases": 0, "refused": [], "not_typeerror": [], "succeeded": []}
for qual, cls in sorted(classes.items()):
    strict = compiled(cls)
    try:
        cls.__new__(cls)
    except TypeError:  # a class that cannot be made half-built (a namedtuple): nothing to reach
        assert not strict, qual
        continue
    names = set()
    for k in cls.__mro__[:-1]:
        if (k.__module__ or "").startswith("tapegrad"):  # not what str, tuple or object give
            names |= set(vars(k))
    report["types"].append([qual, strict])
    for name in sorted(names - SKIP):
        raw = inspect.getattr_static(cls, name)
        if raw is None or not (callable(raw) or hasattr(raw, "__get__")):  # __hash__ = None, plain class data
            continue
        outcomes = []
        calls = [None] if isinstance(raw, property) or type(raw).__name__ in (
            "getset_descriptor", "member_descriptor") else ARGS
        if isinstance(raw, (staticmethod, classmethod)) or (inspect.isfunction(raw) is False and
                                                             type(raw).__name__ == "builtin_function_or_method"):
            continue  # not bound to an instance: nothing half-built to reach
        for args in calls:
            obj = cls.__new__(cls)
            print(f"{qual}.{name}{'' if args is None else args}", flush=True)
            report["cases"] += 1
            try:
                if args is None:
                    result = getattr(obj, name)
                else:
                    a = tuple(obj if x is None else (cls,) if x == "TYPES" else
                              tuple(obj if y is None else y for y in x) if type(x) is tuple else x for x in args)
                    result = getattr(obj, name)(*a)
                if hasattr(result, "__next__"):  # a generator: run it
                    result = list(result)
                outcomes.append("NotImplemented" if result is NotImplemented else "self" if result is obj else "ok")
            except TypeError as e:
                outcomes.append("initialised" if "not initialised" in str(e) else "TypeError")
            except Exception as e:
                outcomes.append(type(e).__name__)
        case = f"{qual}.{name}"
        public = not name.startswith("_") or name.startswith("__")
        if strict and public and "initialised" not in outcomes and "self" not in outcomes:
            report["refused" if "TypeError" in outcomes else "not_typeerror"].append([case, sorted(set(outcomes))])
        if "ok" in outcomes:
            report["succeeded"].append(case)
print("REPORT " + json.dumps(report))
'''

# Members that refuse every object, initialised or not, so that their
# TypeError need not mention initialisation. (Private members of compiled
# types need only raise; pure-Python classes need only not crash.)
REFUSE_ALWAYS = {"__setitem__", "__delitem__", "__reduce__", "__reduce_ex__", "__array__", "__getstate__"}


def test_objects_never_initialised_raise_typeerror_never_crash():
    p = run_child(WALK, timeout=300)
    assert p.returncode == 0, "the interpreter crashed on a half-built object:\n" + crash_report(p)
    report = json.loads(p.stdout.rsplit("REPORT ", 1)[1])
    kinds = dict(report["types"])
    # the introspection found the compiled types the issue names, and more
    for name in ("tapegrad._var.Var", "tapegrad._array.VarArray", "tapegrad._tape.Tape", "tapegrad._core.Tape",
                 "tapegrad._core.Program"):
        assert kinds.get(name) is True, name
    assert report["cases"] > 500
    assert report["not_typeerror"] == [], report["not_typeerror"]
    unexplained = [c for c, _ in report["refused"] if c.rsplit(".", 1)[1] not in REFUSE_ALWAYS]
    assert unexplained == [], unexplained
    # no member of a compiled type returned a result (returning the object
    # itself, as __enter__ does, or NotImplemented, touches nothing)
    strict = {n for n, s in report["types"] if s}
    assert not [c for c in report["succeeded"] if c.rsplit(".", 1)[0] in strict], report["succeeded"]


@pytest.mark.parametrize("expr", ["tg.Var.__new__(tg.Var).value", "repr(tg.VarArray.__new__(tg.VarArray))",
                                  "tg.Tape.__new__(tg.Tape).var(1.0)", "tg._core.Program.__new__(tg._core.Program).num_nodes",
                                  "tg.Var.__new__(tg.Var) + tg.Tape().var(1.0)",
                                  "tg.Tape().gradient(tg.Var.__new__(tg.Var), [])"])
def test_the_issue_reproducers_raise_typeerror(expr):
    p = run_child(f"""
        import tapegrad as tg
        try:
            {expr}
        except TypeError as e:
            assert "not initialised" in str(e) and "make it with" in str(e), e
            print("TypeError")
        """)
    assert p.returncode == 0 and p.stdout.strip() == "TypeError", crash_report(p)


# ---- fork() while replay threads exist ---------------------------------------------------

@pytest.mark.skipif(not LINUX, reason="fork() and /proc on Linux")
def test_fork_under_load_never_aborts_the_child():
    p = run_child("""
        import os, threading
        import numpy as np
        import tapegrad as tg

        def seed(x):
            a = x * x
            c = a + tg.exp(a)
            return tg.sqrt(c) + tg.cos(c)

        cf = tg.compile(seed, 0.5)
        X = np.random.default_rng(0).uniform(-1, 1, 20_000)
        want = cf.grad(X, threads=2)
        done = threading.Event()

        def load():  # a threaded replay running whenever the main thread forks
            while not done.is_set():
                cf.grad(X, threads=2)

        t = threading.Thread(target=load)
        t.start()
        bad = []
        for i in range(200):
            pid = os.fork()
            if pid == 0:  # the child uses the pool: a threaded replay
                ok = False
                try:
                    ok = bool(np.array_equal(cf.grad(X, threads=2), want))
                finally:
                    os._exit(0 if ok else 1)
            _, status = os.waitpid(pid, 0)
            if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
                bad.append((i, status))
        done.set()
        t.join()
        assert np.array_equal(cf.grad(X, threads=2), want)
        print("forks", 200, "bad", bad)
        """, timeout=300)
    assert p.returncode == 0, crash_report(p)
    assert "bad []" in p.stdout, p.stdout


# ---- daemon threads inside tapegrad when Python exits ----------------------------------

DAEMON = """
    import sys, threading, time
    import numpy as np
    import tapegrad as tg

    def seed(x):
        a = x * x
        c = a + tg.exp(a)
        return tg.sqrt(c) + tg.cos(c)

    cf = tg.compile(seed, 0.5)
    X = np.random.default_rng(0).uniform(-1, 1, 2_000_000)
    big = np.random.default_rng(1).uniform(-1, 1, 200_000)

    def work():
        while True:
            {call}

    for _ in range(2):
        threading.Thread(target=work, daemon=True).start()
    time.sleep(0.3)
    sys.exit(7)
"""


@pytest.mark.parametrize("call", ["cf(X)", "cf.grad(X, threads=2)",
                                  "tg.grad(lambda v: tg.sum(tg.sin(v) * v) + tg.sum(v[1:] * v[:-1]))(big)"])
def test_daemon_thread_inside_tapegrad_at_exit_keeps_pythons_status(call):
    for _ in range(3):  # the abort needs the exit to land inside a call: try a few times
        p = run_child(DAEMON.format(call=call), timeout=120)
        assert p.returncode == 7, crash_report(p)


# ---- thread and memory limits ------------------------------------------------------------

LIMITED = """
    import os, resource
    import numpy as np
    import tapegrad as tg

    def tasks():
        return len(os.listdir("/proc/self/task"))

    def vm_bytes():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024

    def limit(extra):  # address space: what the process has now plus `extra` bytes
        resource.setrlimit(resource.RLIMIT_AS, (vm_bytes() + extra, resource.RLIM_INFINITY))
"""


@pytest.mark.skipif(not LINUX, reason="RLIMIT_AS and /proc on Linux")
def test_threads_1024_under_a_memory_limit_fail_cleanly_and_leave_no_thread():
    p = run_child(textwrap.dedent(LIMITED) + textwrap.dedent("""
        cf = tg.compile(lambda x: tg.sin(x) * x + tg.exp(-x * x), 0.5)
        X = np.random.default_rng(0).uniform(-1, 1, 3_000_000)
        want = cf(X)
        cf(X, threads=2)  # the kept threads exist
        before = tasks()
        limit(600 << 20)  # room for a few dozen thread stacks, not 1024
        try:
            cf(X, threads=1024)
            raise SystemExit("threads=1024 ran: the limit was too loose for this test")
        except RuntimeError as e:
            message = str(e)
        assert "could not start thread" in message and "fewer threads" in message, message
        assert tasks() == before, (tasks(), before)
        assert np.array_equal(cf(X, threads=2), want)  # the pool still works
        assert tasks() == before
        print("OK", message)
        """))
    assert p.returncode == 0 and "OK" in p.stdout, crash_report(p)


@pytest.mark.skipif(not LINUX, reason="RLIMIT_AS on Linux")
def test_memory_error_says_how_much_and_what_to_do():
    p = run_child(textwrap.dedent(LIMITED) + textwrap.dedent("""
        import re
        x = np.zeros(40_000_000)  # 320 MB: fits; its tape (33 bytes a node) does not
        X = np.zeros((10_000_000, 3))  # 10**7 points: fit; their Hessian's 3 tangent rows each do not
        tape = tg.Tape()
        cf = tg.compile(lambda v: tg.sum(v * v), np.zeros(3))
        limit(600 << 20)
        messages = []
        try:
            tape.vars(x)
        except MemoryError as e:
            messages.append(str(e))
        try:
            cf.hessian(X)
        except MemoryError as e:
            messages.append(str(e))
        assert len(messages) == 2, messages
        for m in messages:
            assert re.search(r"\\d[\\d.]* ?[GMK]i?B", m), m  # how much
            assert "smaller" in m or "less" in m, m            # what to do
        # the tape is still usable after the failed allocation
        y = tape.var(3.0)
        assert tape.gradient(y * y, y) == 6.0
        print("OK", messages)
        """))
    assert p.returncode == 0 and "OK" in p.stdout, crash_report(p)
