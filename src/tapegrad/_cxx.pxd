# The C++ enums and constants that the Cython front end (_var.pyx, _array.pyx)
# needs, declared once, each from the header that defines it. No C++ number is
# typed again in Cython or in Python: the Python layers read the few they need
# from the compiled modules (_var.FIRST_NODE, _var.LESS, ..., _array.REDUCERS).
#
# Scoped C++ enums cross as ints (the static_casts), so that Cython can compare
# and store them without a conversion of its own.

cdef extern from "tapegrad/strided.hpp":
    enum:
        MAX_DIMS "tapegrad::max_dims"  # axes of an array entry, at most

cdef extern from "tapegrad/tape.hpp":
    enum:
        FIRST_NODE "tapegrad::first_node"  # slots below it are sinks
        # Tape::Compare: the kinds of recorded comparisons (guards)
        COMPARE_LT "static_cast<int>(tapegrad::Compare::lt)"
        COMPARE_LE "static_cast<int>(tapegrad::Compare::le)"
        COMPARE_GT "static_cast<int>(tapegrad::Compare::gt)"
        COMPARE_GE "static_cast<int>(tapegrad::Compare::ge)"
        COMPARE_EQ "static_cast<int>(tapegrad::Compare::eq)"
        COMPARE_NE "static_cast<int>(tapegrad::Compare::ne)"

cdef extern from "tapegrad/ops.hpp":
    enum:
        OP_COUNT "static_cast<int>(tapegrad::Op::count)"
        ARITY_UNARY "static_cast<int>(tapegrad::Arity::unary)"
        ARITY_BINARY "static_cast<int>(tapegrad::Arity::binary)"

cdef extern from "tapegrad/entries/entry.hpp":
    enum:
        REDUCE_SUM "static_cast<int>(tapegrad::Reducer::sum)"
        REDUCE_PROD "static_cast<int>(tapegrad::Reducer::prod)"
        REDUCE_MAX "static_cast<int>(tapegrad::Reducer::max)"
        REDUCE_MIN "static_cast<int>(tapegrad::Reducer::min)"
        REDUCE_LOGSUMEXP "static_cast<int>(tapegrad::Reducer::logsumexp)"
        REDUCE_NORM "static_cast<int>(tapegrad::Reducer::norm)"

cdef extern from "tapegrad/entries/fused.hpp":
    enum:
        FUSE_MAX_LEAVES "tapegrad::entries::fused::max_leaves"
        FUSE_MAX_INSTRUCTIONS "tapegrad::entries::fused::max_instructions"
        LEAF_SLOTS "tapegrad::entries::fused::slots"
        LEAF_CONSTANT "tapegrad::entries::fused::constant"
