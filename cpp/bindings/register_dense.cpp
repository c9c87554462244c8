// The dense-layer kernel and the BLAS behind it, on ndarrays: how Python hands
// over the BLAS (see blas.hpp), and the kernel's forward and backward on
// plain arrays, which tests compare with numpy and benchmarks time. The tape
// entries run the same functions on the tape's own arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/typing.h>

#include <cstdint>
#include <optional>
#include <string>

#include "gil.hpp"
#include "register.hpp"
#include "tapegrad/dense.hpp"

namespace py = pybind11;

namespace tapegrad::bindings {

namespace {

using Array = py::array_t<double, py::array::forcecast>;

// A 2-D float64 view of `a` without copying when its strides are whole
// elements (anything numpy makes, transposes and slices included).
blas::ConstMatrix matrix_of(Array& a, const char* name) {
    if (a.ndim() != 2) throw py::value_error(std::string(name) + " must be 2-D, got " + std::to_string(a.ndim()) + "-D");
    if (a.strides(0) % sizeof(double) || a.strides(1) % sizeof(double))
        a = Array(py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a));
    return {a.data(), a.shape(0), a.shape(1), a.strides(0) / py::ssize_t(sizeof(double)),
            a.strides(1) / py::ssize_t(sizeof(double))};
}

std::string shape_str(const blas::ConstMatrix& m) {
    return "(" + std::to_string(m.rows) + ", " + std::to_string(m.cols) + ")";
}

py::array_t<double> new_matrix(std::int64_t rows, std::int64_t cols) {
    return py::array_t<double>({py::ssize_t(rows), py::ssize_t(cols)});
}

// Products from about a millisecond of work on are watched for Ctrl-C
// (2^24 multiply-adds: BLAS does ~16 per ns here); blas::gemm with a Poll
// cuts the large ones into pieces.
bool worth_watching(const blas::ConstMatrix& a, const blas::ConstMatrix& b) {
    return double(a.rows) * double(a.cols) * double(b.cols) >= double(watch_from) * 16;
}

py::array_t<double> gemm(Array a, Array b) {
    const auto am = matrix_of(a, "a"), bm = matrix_of(b, "b");
    if (am.cols != bm.rows)
        throw py::value_error("matmul: shapes " + shape_str(am) + " and " + shape_str(bm) + " do not align");
    auto c = new_matrix(am.rows, bm.cols);
    double* p = c.mutable_data();
    interruptible(  // BLAS only: no Python object is touched
        [&](const Interrupt* stop) {
            Poll poll(stop);
            blas::gemm(1.0, am, bm, 0.0, blas::dense_view(p, am.rows, bm.cols), poll);
            check(stop);
        },
        worth_watching(am, bm));
    return c;
}

py::array_t<double> forward(Array x, Array w, std::optional<Array> b, const std::string& act) {
    const auto xm = matrix_of(x, "X"), wm = matrix_of(w, "W");
    const auto kind = activation::from_name(act);
    dense::Vector<const double> bv;
    if (b) {
        if (b->ndim() != 1 || b->shape(0) != wm.cols || b->strides(0) % py::ssize_t(sizeof(double)))
            *b = Array(py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(*b));
        if (b->ndim() != 1 || b->shape(0) != wm.cols)
            throw py::value_error("b must have shape (" + std::to_string(wm.cols) + ",)");
        bv = {b->data(), b->strides(0) / py::ssize_t(sizeof(double))};
    }
    if (xm.cols != wm.rows)
        throw py::value_error("X of shape " + shape_str(xm) + " does not fit W of shape " + shape_str(wm));
    auto y = new_matrix(xm.rows, wm.cols);
    double* p = y.mutable_data();
    interruptible(
        [&](const Interrupt* stop) {
            Poll poll(stop);
            dense::forward(xm, wm, bv, kind, p, &poll);
            check(stop);
        },
        worth_watching(xm, wm));
    return y;
}

// (dX or None, dW, db) for the layer that gave y, with y's adjoint dy. (The
// py::typing result type only names it for the stubs.)
using Grads = py::typing::Tuple<py::typing::Optional<py::array_t<double>>, py::array_t<double>, py::array_t<double>>;

Grads backward(Array x, Array w, py::array_t<double, py::array::c_style | py::array::forcecast> y,
               py::array_t<double, py::array::c_style | py::array::forcecast> dy, const std::string& act, bool want_dx,
               bool assume_finite) {
    const auto xm = matrix_of(x, "X"), wm = matrix_of(w, "W");
    const auto kind = activation::from_name(act);
    if (xm.cols != wm.rows)
        throw py::value_error("X of shape " + shape_str(xm) + " does not fit W of shape " + shape_str(wm));
    const py::ssize_t n = py::ssize_t(xm.rows * wm.cols);
    if (y.size() != n || dy.size() != n) throw py::value_error("y and dy must have the layer's output shape");
    auto dw = new_matrix(wm.rows, wm.cols);
    py::array_t<double> db(py::ssize_t(wm.cols));
    std::optional<py::array_t<double>> dx;
    if (want_dx) dx = new_matrix(xm.rows, xm.cols);
    dense::Gradients g;
    g.dw = blas::dense_view(dw.mutable_data(), wm.rows, wm.cols);
    g.db = {db.mutable_data(), 1};
    if (dx) g.dx = blas::dense_view(dx->mutable_data(), xm.rows, xm.cols);
    const double *yp = y.data(), *dyp = dy.data();
    interruptible(
        [&](const Interrupt* stop) {  // (a restart begins from zeros)
            std::fill_n(g.dw.data, g.dw.size(), 0.0);
            std::fill_n(g.db.data, wm.cols, 0.0);
            if (g.dx.data) std::fill_n(g.dx.data, g.dx.size(), 0.0);
            Poll poll(stop);
            dense::backward(xm, wm, yp, dyp, kind, g, assume_finite, &poll);
            check(stop);
        },
        worth_watching(xm, wm));
    return py::make_tuple(dx ? py::object(*dx) : py::object(py::none()), dw, db);
}

// act(z) elementwise (a new array), and g * act'(from y): the kernel's own
// elementwise loops, for tests.
py::array_t<double> apply(py::array_t<double, py::array::c_style | py::array::forcecast> z, const std::string& act) {
    const auto kind = activation::from_name(act);
    py::array_t<double> y(z.request().shape);
    std::copy_n(z.data(), z.size(), y.mutable_data());
    double* p = y.mutable_data();
    const std::int64_t n = z.size();
    without_gil([&] { activation::apply(kind, p, n); });
    return y;
}

}  // namespace

void register_dense(py::module_& m) {
    m.def(
        "_set_dgemm", [](std::uintptr_t address) { blas::set_dgemm(reinterpret_cast<blas::dgemm_fn>(address)); },
        py::arg("address"), "Use the CBLAS dgemm at this address for every matrix product (tapegrad._blas does this).");
    py::list names;
    for (const char* name : activation::names) names.append(name);
    m.attr_with_type_hint<py::typing::Tuple<py::str, py::ellipsis>>("dense_activations") = py::tuple(names);
    m.def("_gemm", &gemm, py::arg("a"), py::arg("b"), "a @ b for 2-D float64 arrays on tapegrad's BLAS (GIL released).");
    m.def("_dense_forward", &forward, py::arg("x"), py::arg("w"), py::arg("b"), py::arg("activation"),
          "act(x @ w + b) by the dense kernel, on ndarrays.");
    m.def("_dense_backward", &backward, py::arg("x"), py::arg("w"), py::arg("y"), py::arg("dy"), py::arg("activation"),
          py::arg("want_dx"), py::arg("assume_finite") = false,
          "(dx or None, dw, db) of the dense layer whose output y has adjoint dy. assume_finite: what the "
          "forward learnt (x @ w + b finite); False always works.");
    m.def("_activation", &apply, py::arg("z"), py::arg("activation"), "act(z) by the kernel's elementwise loop.");
}

}  // namespace tapegrad::bindings
