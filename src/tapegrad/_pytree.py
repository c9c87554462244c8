"""Pytrees: nested containers whose leaves are numbers and arrays. grad,
jacobian, vjp and compile take and give them; a gradient has the structure of
its argument.

>>> leaves, tree = flatten({"w": [1.0, 2.0], "b": (3.0, None)})
>>> leaves
[1.0, 2.0, 3.0]
>>> unflatten(tree, [10, 20, 30])
{'w': [10, 20], 'b': (30, None)}

The containers are looked up by their exact type, as in JAX: ``dict``,
``collections.OrderedDict``, ``collections.defaultdict`` (its factory kept),
``list``, ``tuple``, every namedtuple class, ``None`` (a node with no leaves)
and the types given to :func:`register_pytree_node`. Anything else is a leaf,
so a subclass nobody registered (``collections.Counter``, a ``dict``
subclass of your own) is never taken apart and rebuilt wrongly: as a
differentiated argument it is refused with a message that says how to
register it.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from typing import Any, Callable, Iterable, NamedTuple


class _NodeKind(NamedTuple):
    """How one container type is taken apart and rebuilt."""

    flatten: Callable[[Any], tuple[Iterable[Any], Any]]  # node -> (children, aux data)
    unflatten: Callable[[Any, list[Any]], Any]  # (aux data, children) -> node


class TreeDef(NamedTuple):
    """The structure of a pytree: a container node (kind, aux data, children);
    a leaf is the TreeDef ``None``."""

    node_type: type
    aux: Any
    children: tuple[TreeDef | None, ...]


def _dict_items(d: dict[Any, Any]) -> tuple[list[Any], list[Any]]:
    keys = list(d.keys())  # insertion order, as the user wrote the dict
    return [d[k] for k in keys], keys


def _defaultdict_items(d: defaultdict[Any, Any]) -> tuple[list[Any], tuple[Any, list[Any]]]:
    values, keys = _dict_items(d)
    return values, (d.default_factory, keys)


_KINDS: dict[type, _NodeKind] = {
    type(None): _NodeKind(lambda _: ((), None), lambda _aux, _children: None),
    list: _NodeKind(lambda node: (node, None), lambda _aux, children: list(children)),
    tuple: _NodeKind(lambda node: (node, None), lambda _aux, children: tuple(children)),
    dict: _NodeKind(_dict_items, lambda keys, children: dict(zip(keys, children))),
    OrderedDict: _NodeKind(_dict_items, lambda keys, children: OrderedDict(zip(keys, children))),
    defaultdict: _NodeKind(_defaultdict_items, lambda aux, children: defaultdict(aux[0], zip(aux[1], children))),
}

_NAMEDTUPLE = _NodeKind(lambda node: (tuple(node), None), lambda _aux, children: None)  # rebuilt by type


def register_pytree_node(nodetype: type, flatten_func: Callable[[Any], tuple[Iterable[Any], Any]],
                         unflatten_func: Callable[[Any, Any], Any]) -> None:
    """Teach every transform to take ``nodetype`` apart and rebuild it (JAX's API).

    ``flatten_func(node)`` returns ``(children, aux_data)``: the children are
    pytrees themselves, ``aux_data`` is whatever else rebuilding needs (it must
    not hold numbers to differentiate). ``unflatten_func(aux_data, children)``
    returns the node.

    >>> import tapegrad as tg
    >>> class Pair:
    ...     def __init__(self, a, b):
    ...         self.a, self.b = a, b
    >>> tg.register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, children: Pair(*children))
    >>> g = tg.grad(lambda p: p.a ** 2 * p.b)(Pair(3.0, 2.0))
    >>> g.a, g.b
    (12.0, 9.0)
    """
    if not isinstance(nodetype, type):
        raise TypeError(f"register_pytree_node needs a type, not {nodetype!r}")
    if not (callable(flatten_func) and callable(unflatten_func)):
        raise TypeError("register_pytree_node needs two functions: flatten_func(node) -> (children, aux_data) and "
                        "unflatten_func(aux_data, children) -> node")
    if nodetype in _KINDS:
        raise ValueError(f"{nodetype.__name__} is already a pytree node type")
    _KINDS[nodetype] = _NodeKind(flatten_func, lambda aux, children: unflatten_func(aux, children))


def _kind_of(node: Any) -> _NodeKind | None:
    kind = _KINDS.get(type(node))
    if kind is None and isinstance(node, tuple) and hasattr(type(node), "_fields"):
        return _NAMEDTUPLE  # every namedtuple class, without registering each
    return kind


def flatten(tree: Any) -> tuple[list[Any], TreeDef | None]:
    """The leaves of `tree` in order (dicts in their key order), and its structure."""
    leaves: list[Any] = []

    def walk(node: Any) -> TreeDef | None:
        kind = _kind_of(node)
        if kind is None:
            leaves.append(node)
            return None
        children, aux = kind.flatten(node)
        return TreeDef(type(node), aux, tuple(walk(c) for c in children))

    return leaves, walk(tree)


def unflatten(tree: TreeDef | None, leaves: Iterable[Any]) -> Any:
    """Rebuild a tree of `tree`'s structure from leaves (as many as it has)."""
    it = iter(leaves)

    def build(node: TreeDef | None) -> Any:
        if node is None:
            return next(it)
        children = [build(c) for c in node.children]
        if node.node_type not in _KINDS:  # a namedtuple
            return node.node_type(*children)
        return _KINDS[node.node_type].unflatten(node.aux, children)

    try:
        out = build(tree)
    except StopIteration:
        raise ValueError("fewer leaves than the tree has places for") from None
    if next(it, _END) is not _END:
        raise ValueError("more leaves than the tree has places for")
    return out


_END = object()


def is_unregistered_container(x: Any) -> bool:
    """A subclass of dict, list or tuple that is no pytree node: a leaf that
    looks like a container (it would be rebuilt wrongly if taken apart)."""
    return isinstance(x, (dict, list, tuple)) and _kind_of(x) is None


def unregistered_container_error(x: Any, where: str) -> TypeError:
    """The error for an unregistered dict/list/tuple subclass found at `where`
    (e.g. "argument 0"): it names the type and how to register it."""
    base = next(t for t in (dict, list, tuple) if isinstance(x, t)).__name__
    return TypeError(f"{where} holds a {type(x).__name__}, a {base} subclass that tapegrad does not "
                     f"know how to rebuild: pass a plain {base}, or register the type with "
                     "tapegrad.register_pytree_node(type, flatten_func, unflatten_func)")


def map_leaves(fn: Callable[[Any], Any], tree: Any) -> Any:
    """The tree with every leaf replaced by fn(leaf)."""
    leaves, definition = flatten(tree)
    return unflatten(definition, [fn(x) for x in leaves])
