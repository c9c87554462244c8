// Bound objects that were never initialised (Type.__new__(Type) without
// __init__) raise TypeError instead of handing C++ code uninitialised memory:
// pybind11 allocates the object's storage lazily on first use and would run
// the method on it. The casters below check that the C++ object was
// constructed before any binding sees it, for every class tapegrad binds.
#pragma once
#include <pybind11/pybind11.h>

#include <string>
#include <typeinfo>

#include "tape_handle.hpp"
#include "tapegrad/program.hpp"

namespace tapegrad {
namespace bindings {

// Raise TypeError if `src` is an instance of the bound type T whose C++
// object was never constructed. `how` says how to make one.
template <class T>
void require_initialised(pybind11::handle src, const char* how) {
    namespace d = pybind11::detail;
    static const d::type_info* info = nullptr;  // looked up once, not per call (the GIL is held here)
    if (!info) info = d::get_type_info(typeid(T));
    if (!info || !src || !PyObject_TypeCheck(src.ptr(), info->type)) return;  // not ours: the caster refuses it
    auto v_h = reinterpret_cast<d::instance*>(src.ptr())->get_value_and_holder(info, false);
    if (v_h && v_h.holder_constructed()) return;
    throw pybind11::type_error(std::string("this ") + Py_TYPE(src.ptr())->tp_name +
                               " was not initialised (it was made by __new__ without __init__): make it with " +
                               how);
}

}  // namespace bindings
}  // namespace tapegrad

namespace pybind11::detail {

template <>
class type_caster<tapegrad::bindings::TapeHandle> : public type_caster_base<tapegrad::bindings::TapeHandle> {
public:
    bool load(handle src, bool convert) {
        tapegrad::bindings::require_initialised<tapegrad::bindings::TapeHandle>(src, "tapegrad.Tape()");
        return type_caster_base<tapegrad::bindings::TapeHandle>::load(src, convert);
    }
};

template <>
class type_caster<tapegrad::Program> : public type_caster_base<tapegrad::Program> {
public:
    bool load(handle src, bool convert) {
        tapegrad::bindings::require_initialised<tapegrad::Program>(
            src, "tapegrad.compile(f, *args), tapegrad.load or CompiledFunction.from_bytes");
        return type_caster_base<tapegrad::Program>::load(src, convert);
    }
};

}  // namespace pybind11::detail
