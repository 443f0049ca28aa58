# Locates Apache Arrow C++ and Parquet and defines roadpulse::arrow, roadpulse::arrow_compute and
# roadpulse::parquet.
#
# A system/conda/vcpkg install (find_package) wins. Otherwise we use the C++ headers and shared
# libraries that ship inside the pinned pyarrow wheel in .venv: Debian 12 packages no Arrow, and the
# wheel is ABI-compatible with g++ 12 (proved by tests/unit/common/parquet_roundtrip_test.cc).
# The wheel's libraries carry only versioned names (libarrow.so.2600), so they are imported by
# full path; CMake then puts their directory into the build rpath, so binaries run without
# LD_LIBRARY_PATH.

find_package(Arrow CONFIG QUIET)
find_package(Parquet CONFIG QUIET)

if(Arrow_FOUND AND Parquet_FOUND)
  message(STATUS "Arrow ${Arrow_VERSION}: system install")
  add_library(roadpulse::arrow INTERFACE IMPORTED)
  target_link_libraries(roadpulse::arrow INTERFACE Arrow::arrow_shared)
  add_library(roadpulse::arrow_compute INTERFACE IMPORTED)
  if(TARGET ArrowCompute::arrow_compute_shared)
    target_link_libraries(roadpulse::arrow_compute INTERFACE ArrowCompute::arrow_compute_shared)
  else()
    target_link_libraries(roadpulse::arrow_compute INTERFACE Arrow::arrow_shared)
  endif()
  add_library(roadpulse::parquet INTERFACE IMPORTED)
  target_link_libraries(roadpulse::parquet INTERFACE Parquet::parquet_shared)
  return()
endif()

set(ROADPULSE_PYTHON "${CMAKE_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python whose pyarrow provides Arrow C++ when no system Arrow is found")
if(NOT EXISTS "${ROADPULSE_PYTHON}")
  message(FATAL_ERROR "Arrow C++ not found and ${ROADPULSE_PYTHON} does not exist. "
                      "Run scripts/setup (it creates .venv with the pinned pyarrow).")
endif()
execute_process(
  COMMAND "${ROADPULSE_PYTHON}" -c
          "import pyarrow as pa; print(pa.get_include()); print(pa.get_library_dirs()[0]); print(pa.__version__)"
  OUTPUT_VARIABLE _pa_out RESULT_VARIABLE _pa_rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _pa_rc EQUAL 0)
  message(FATAL_ERROR "Could not import pyarrow with ${ROADPULSE_PYTHON}; run scripts/setup.")
endif()
string(REPLACE "\n" ";" _pa_lines "${_pa_out}")
list(GET _pa_lines 0 PYARROW_INCLUDE_DIR)
list(GET _pa_lines 1 PYARROW_LIBRARY_DIR)
list(GET _pa_lines 2 PYARROW_VERSION)
message(STATUS "Arrow ${PYARROW_VERSION}: C++ libraries from the pyarrow wheel in ${PYARROW_LIBRARY_DIR}")

function(_roadpulse_import_wheel_lib target name)
  file(GLOB _candidates "${PYARROW_LIBRARY_DIR}/lib${name}.so.*")
  list(FILTER _candidates EXCLUDE REGEX "\\.so\\.[0-9]+\\.[0-9]+")
  if(NOT _candidates)
    message(FATAL_ERROR "lib${name}.so.* not found in ${PYARROW_LIBRARY_DIR}")
  endif()
  list(GET _candidates 0 _lib)
  add_library(${target} SHARED IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION "${_lib}"
                        IMPORTED_NO_SONAME OFF)
  target_include_directories(${target} SYSTEM INTERFACE "${PYARROW_INCLUDE_DIR}")
endfunction()

_roadpulse_import_wheel_lib(roadpulse::arrow arrow)
_roadpulse_import_wheel_lib(roadpulse::parquet parquet)
target_link_libraries(roadpulse::parquet INTERFACE roadpulse::arrow)
# Arrow >= 21 ships its compute kernels in a library of their own.
_roadpulse_import_wheel_lib(roadpulse::arrow_compute arrow_compute)
target_link_libraries(roadpulse::arrow_compute INTERFACE roadpulse::arrow)
