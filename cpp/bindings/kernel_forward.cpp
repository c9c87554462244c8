// forward_entry_double (entries.hpp), the cloned forward kernel of every entry
// kind, compiled once for the whole package: recording (_core's bindings and
// the Cython _array module) and replay on doubles call this copy
// (TAPEGRAD_SHARED_KERNELS, config.hpp). Its two flattened copies are the
// longest single compile of the build.
#define TAPEGRAD_COMPILE_FORWARD_KERNEL
#include "tapegrad/entries.hpp"
