# Installs the C++ core (headers) and a CMake package config exporting
# tapegrad::tape. In a wheel (SKBUILD) both go inside the Python package, as
# pybind11 does, so `python -m tapegrad --cmakedir` can point at them:
#   tapegrad/include/tapegrad/*.hpp, ops.def
#   tapegrad/share/cmake/tapegrad/tapegradConfig.cmake (+ Version, Targets)
# A plain `cmake --install` uses the usual include/ and share/cmake/ places.
include(CMakePackageConfigHelpers)

if(SKBUILD)
  set(TAPEGRAD_INSTALL_PREFIX tapegrad/)
  # The directory holding the tapegrad package: Cython's include path for
  # `cimport tapegrad.tape` (tape.pxd, record.pxd, _var.pxd).
  set(TAPEGRAD_INSTALL_CYTHONDIR .)
else()
  set(TAPEGRAD_INSTALL_PREFIX "")
  set(TAPEGRAD_INSTALL_CYTHONDIR "")  # the .pxd files ship with the Python package only
endif()
set(TAPEGRAD_INSTALL_INCLUDEDIR ${TAPEGRAD_INSTALL_PREFIX}include)
set(TAPEGRAD_INSTALL_CMAKEDIR ${TAPEGRAD_INSTALL_PREFIX}share/cmake/tapegrad)

# The exported name is tapegrad::tape, like the in-tree alias.
set_target_properties(tapegrad_tape PROPERTIES EXPORT_NAME tape)
install(TARGETS tapegrad_tape EXPORT tapegradTargets INCLUDES DESTINATION ${TAPEGRAD_INSTALL_INCLUDEDIR})
install(DIRECTORY cpp/include/tapegrad DESTINATION ${TAPEGRAD_INSTALL_INCLUDEDIR})
install(EXPORT tapegradTargets NAMESPACE tapegrad:: DESTINATION ${TAPEGRAD_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tapegradConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/tapegradConfig.cmake
  INSTALL_DESTINATION ${TAPEGRAD_INSTALL_CMAKEDIR}
  PATH_VARS TAPEGRAD_INSTALL_INCLUDEDIR TAPEGRAD_INSTALL_CYTHONDIR)
# Header-only: one package serves every architecture; 0.x minors may break.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/tapegradConfigVersion.cmake
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tapegradConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/tapegradConfigVersion.cmake
  DESTINATION ${TAPEGRAD_INSTALL_CMAKEDIR})
