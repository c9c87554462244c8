// The op table as Python data, expanded from ops.def: tests iterate over it and
// the documentation lists it, so neither keeps a list of its own.
#include <pybind11/pybind11.h>
#include <pybind11/typing.h>

#include "register.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace tapegrad::bindings {

// Typed so that the generated stub says list[dict[str, Any]].
static py::typing::List<py::typing::Dict<py::str, py::object>> op_table() {
    py::typing::List<py::typing::Dict<py::str, py::object>> rows;
#define TG_UNARY(name, py_, value, partial, lo, hi, doc)                                             \
    rows.append(py::dict("name"_a = #name, "py"_a = py_, "arity"_a = 1, "value"_a = #value,          \
                         "partials"_a = py::make_tuple(#partial),                                  \
                         "domain"_a = py::make_tuple(py::make_tuple(lo, hi)), "doc"_a = doc));
#define TG_BINARY(name, py_, value, pa, pb, alo, ahi, blo, bhi, doc)                                  \
    rows.append(py::dict("name"_a = #name, "py"_a = py_, "arity"_a = 2, "value"_a = #value,          \
                         "partials"_a = py::make_tuple(#pa, #pb),                                   \
                         "domain"_a = py::make_tuple(py::make_tuple(alo, ahi), py::make_tuple(blo, bhi)), \
                         "doc"_a = doc));
#include "tapegrad/ops.def"
    return rows;
}

void register_ops(py::module_& m) {
    m.def("op_table", &op_table,
          "Every row of the op table (ops.def) as a dict: name, py (special method or ''), arity, "
          "value and partials (the C++ formulas), domain (test intervals per operand), doc.\n\n"
          ">>> import tapegrad as tg\n"
          ">>> [(r['name'], r['arity'], r['partials']) for r in tg.op_table()][:2]\n"
          "[('add', 2, ('1', '1')), ('subtract', 2, ('1', '-1'))]");
}

}  // namespace tapegrad::bindings
