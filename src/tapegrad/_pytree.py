"""Pytrees: nested tuples, lists and dicts (and namedtuples) whose leaves are
numbers and arrays. grad, jacobian and vjp take and give them; a gradient has
the structure of its argument.

>>> leaves, tree = flatten({"w": [1.0, 2.0], "b": (3.0, None)})
>>> leaves
[1.0, 2.0, 3.0]
>>> unflatten(tree, [10, 20, 30])
{'w': [10, 20], 'b': (30, None)}
"""

from __future__ import annotations

from typing import Any, Callable

# A tree definition: None for a leaf, or (kind, node_type, keys, children)
# with kind "none", "list", "tuple", "namedtuple" or "dict".
TreeDef = Any


def flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of `tree` in order (dicts in their key order), and its structure."""
    leaves: list[Any] = []

    def walk(node: Any) -> TreeDef:
        if node is None:
            return ("none", None, None, ())
        if isinstance(node, dict):
            keys = list(node.keys())
            return ("dict", type(node), keys, tuple(walk(node[k]) for k in keys))
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            return ("namedtuple", type(node), None, tuple(walk(v) for v in node))
        if isinstance(node, (list, tuple)):
            return ("list" if isinstance(node, list) else "tuple", type(node), None, tuple(walk(v) for v in node))
        leaves.append(node)
        return None

    return leaves, walk(tree)


def unflatten(tree: TreeDef, leaves: list[Any]) -> Any:
    """Rebuild a tree of `tree`'s structure from leaves (as many as it has)."""
    it = iter(leaves)

    def build(node: TreeDef) -> Any:
        if node is None:
            return next(it)
        kind, node_type, keys, children = node
        if kind == "none":
            return None
        values = [build(c) for c in children]
        if kind == "dict":
            return node_type(zip(keys, values)) if node_type is not dict else dict(zip(keys, values))
        if kind == "namedtuple":
            return node_type(*values)
        return node_type(values)

    out = build(tree)
    if next(it, _END) is not _END:
        raise ValueError("more leaves than the tree has places for")
    return out


_END = object()


def map_leaves(fn: Callable[[Any], Any], tree: Any) -> Any:
    """The tree with every leaf replaced by fn(leaf)."""
    leaves, definition = flatten(tree)
    return unflatten(definition, [fn(x) for x in leaves])
