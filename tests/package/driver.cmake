# Runs one package test: builds and runs tests/package/consumer.cpp against embedkit in one of
# three ways with one compiler. Invoked by ctest (see CMakeLists.txt here):
#
#   cmake -DMODE=add_subdirectory|find_package|plain -DCOMPILER=g++|clang++
#         -DEMBEDKIT_SOURCE_DIR=<checkout> -DWORK_DIR=<scratch dir, wiped first>
#         -DEXPECT_VERSION=0.3.0 -DEXPECT_HAS_ZLIB=0|1 -DEXPECT_HAS_PNG=0|1
#         -DEIGEN_INCLUDE_DIR=<dir> [-DEigen3_DIR=<dir>] [-DGENERATOR=<cmake generator>]
#         [-DMAKE_PROGRAM=<path>] -P driver.cmake
#
# A compiler that is not installed skips the test (ctest matches the SKIPPED line below),
# except under CI=true, where it fails: CI must run every combination.
cmake_minimum_required(VERSION 3.22)

foreach(_var IN ITEMS MODE COMPILER EMBEDKIT_SOURCE_DIR WORK_DIR EXPECT_VERSION EXPECT_HAS_ZLIB
                      EXPECT_HAS_PNG EIGEN_INCLUDE_DIR)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "driver.cmake: -D${_var}=... is required")
  endif()
endforeach()
set(_package_dir "${CMAKE_CURRENT_LIST_DIR}")

find_program(_cxx NAMES "${COMPILER}" NO_CACHE)
if(NOT _cxx)
  if("$ENV{CI}" STREQUAL "true")
    message(FATAL_ERROR "${COMPILER} is not installed (required under CI=true)")
  endif()
  message(STATUS "EMBEDKIT_PACKAGE_TEST_SKIPPED: ${COMPILER} is not installed")
  return()
endif()

# run(<description> <command>...): runs a command; on failure prints its output and stops.
function(run what)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  if(NOT _rc EQUAL 0)
    string(REPLACE ";" " " _cmd "${ARGN}")
    message(FATAL_ERROR "${what} failed (${_rc}):\n  ${_cmd}\n${_out}")
  endif()
  message(STATUS "${what}: ok")
  set(run_output "${_out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Arguments for every nested configure: same generator as the outer build, the compiler
# under test, no leakage of the outer build's flags.
set(_configure_args -DCMAKE_CXX_COMPILER=${_cxx} -DCMAKE_BUILD_TYPE=Release)
if(GENERATOR)
  list(APPEND _configure_args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
  list(APPEND _configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(Eigen3_DIR)
  list(APPEND _configure_args -DEigen3_DIR=${Eigen3_DIR})
endif()
set(_expect_args
  -DEMBEDKIT_EXPECT_VERSION=${EXPECT_VERSION}
  -DEMBEDKIT_EXPECT_HAS_ZLIB=${EXPECT_HAS_ZLIB}
  -DEMBEDKIT_EXPECT_HAS_PNG=${EXPECT_HAS_PNG})

if(MODE STREQUAL "add_subdirectory")
  run("configure consumer (add_subdirectory)"
    "${CMAKE_COMMAND}" -S "${_package_dir}/add_subdirectory" -B "${WORK_DIR}/build"
    ${_configure_args} ${_expect_args} "-DEMBEDKIT_SOURCE_DIR=${EMBEDKIT_SOURCE_DIR}")
  run("build consumer" "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
  set(_exe "${WORK_DIR}/build/consumer")

elseif(MODE STREQUAL "find_package")
  # README's find_package lines name the version this build installs: with SameMinorVersion
  # for 0.x a stale "find_package(embedkit 0.2)" would fail for every reader.
  string(REGEX MATCH "^[0-9]+\\.[0-9]+" _major_minor "${EXPECT_VERSION}")
  file(STRINGS "${EMBEDKIT_SOURCE_DIR}/README.md" _readme_lines REGEX "find_package\\(embedkit ")
  if(NOT _readme_lines)
    message(FATAL_ERROR "README.md has no find_package(embedkit ...) line")
  endif()
  foreach(_line IN LISTS _readme_lines)
    if(NOT _line MATCHES "find_package\\(embedkit ${_major_minor}[ )]")
      message(FATAL_ERROR "README.md asks for another version than ${_major_minor}: ${_line}")
    endif()
  endforeach()

  set(_prefix "${WORK_DIR}/prefix")
  # A fresh top-level configure of embedkit itself, building nothing but the install rules.
  run("configure embedkit for install"
    "${CMAKE_COMMAND}" -S "${EMBEDKIT_SOURCE_DIR}" -B "${WORK_DIR}/embedkit-build"
    ${_configure_args} "-DCMAKE_INSTALL_PREFIX=${_prefix}"
    -DEMBEDKIT_BUILD_TESTS=OFF -DEMBEDKIT_BUILD_EXAMPLES=OFF -DEMBEDKIT_BUILD_BENCHMARKS=OFF)
  run("build embedkit" "${CMAKE_COMMAND}" --build "${WORK_DIR}/embedkit-build")
  run("install embedkit" "${CMAKE_COMMAND}" --install "${WORK_DIR}/embedkit-build")

  # The installed tree: every public header, the three CMake package files, and no path
  # back into the source or build tree.
  file(GLOB_RECURSE _src_headers RELATIVE "${EMBEDKIT_SOURCE_DIR}/include"
    "${EMBEDKIT_SOURCE_DIR}/include/embedkit/*.hpp")
  file(GLOB_RECURSE _inst_headers RELATIVE "${_prefix}/include"
    "${_prefix}/include/embedkit/*.hpp")
  list(SORT _src_headers)
  list(SORT _inst_headers)
  if(NOT _src_headers OR NOT _src_headers STREQUAL _inst_headers)
    message(FATAL_ERROR "installed headers differ from include/:\n"
                        "  source:    ${_src_headers}\n  installed: ${_inst_headers}")
  endif()
  set(_cmake_dir "${_prefix}/share/cmake/embedkit")
  foreach(_f IN ITEMS embedkitConfig.cmake embedkitConfigVersion.cmake embedkitTargets.cmake)
    if(NOT EXISTS "${_cmake_dir}/${_f}")
      message(FATAL_ERROR "install lacks share/cmake/embedkit/${_f}")
    endif()
  endforeach()
  file(GLOB _installed_cmake "${_cmake_dir}/*.cmake")
  foreach(_f IN LISTS _installed_cmake)
    file(READ "${_f}" _text)
    foreach(_tree IN ITEMS "${EMBEDKIT_SOURCE_DIR}" "${WORK_DIR}/embedkit-build")
      string(FIND "${_text}" "${_tree}" _pos)
      if(NOT _pos EQUAL -1)
        message(FATAL_ERROR "${_f} refers to ${_tree}")
      endif()
    endforeach()
  endforeach()
  list(LENGTH _inst_headers _n_headers)
  message(STATUS "installed tree: ${_n_headers} headers and the CMake package files")

  run("configure consumer (find_package)"
    "${CMAKE_COMMAND}" -S "${_package_dir}/find_package" -B "${WORK_DIR}/build"
    ${_configure_args} ${_expect_args}
    "-DCMAKE_PREFIX_PATH=${_prefix}" "-DEMBEDKIT_EXPECT_PREFIX=${_prefix}")
  run("build consumer" "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
  set(_exe "${WORK_DIR}/build/consumer")

elseif(MODE STREQUAL "plain")
  # What a user without CMake does: compile against the include/ directory. No CMake means
  # no feature macros, so zlib and libpng are off. Eigen is a system include, as CMake makes
  # it for the other two modes: Eigen 3.4 itself is not clean under -Wsign-conversion.
  # -pthread for the std::threads of top_k, distances and pairwise (glibc before 2.34 needs
  # it to link).
  string(REPLACE "." ";" _v "${EXPECT_VERSION}")
  list(GET _v 0 _major)
  list(GET _v 1 _minor)
  list(GET _v 2 _patch)
  set(_exe "${WORK_DIR}/consumer")
  # clang's warnings all come from its front end, so -O0 sees the same ones at a quarter of the
  # compile time; GCC needs its optimiser for -Wmaybe-uninitialized and friends (-O1 took as
  # long as -O2 here, so it stays at -O2).
  if(COMPILER STREQUAL "clang++")
    set(_plain_opt -O0)
  else()
    set(_plain_opt -O2)
  endif()
  run("compile and link consumer (plain -I include)"
    "${_cxx}" -std=c++17 ${_plain_opt} -pthread -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Werror
    "-I${EMBEDKIT_SOURCE_DIR}/include" -isystem "${EIGEN_INCLUDE_DIR}"
    -DEMBEDKIT_EXPECT_VERSION_MAJOR=${_major} -DEMBEDKIT_EXPECT_VERSION_MINOR=${_minor}
    -DEMBEDKIT_EXPECT_VERSION_PATCH=${_patch}
    -DEMBEDKIT_EXPECT_HAS_ZLIB=0 -DEMBEDKIT_EXPECT_HAS_PNG=0 -DEMBEDKIT_CONSUMER_TEMPLATES=1
    "${_package_dir}/consumer.cpp" "${_package_dir}/consumer_helper.cpp" -o "${_exe}")

else()
  message(FATAL_ERROR "driver.cmake: unknown MODE '${MODE}' (add_subdirectory, find_package, plain)")
endif()

# The consumer writes its scratch files (.npy, model files, pictures) into the work folder.
run("run consumer" "${CMAKE_COMMAND}" -E env "EMBEDKIT_CONSUMER_SCRATCH=${WORK_DIR}" "${_exe}")
message("${run_output}")
