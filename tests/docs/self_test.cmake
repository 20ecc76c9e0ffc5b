# Checks the doc-block extraction itself on a fixture (cmake -DWORK_DIR=<dir> -P self_test.cmake):
# each kind of marker, the problems it must report, and code with ';' and brackets intact.
include("${CMAKE_CURRENT_LIST_DIR}/extract_blocks.cmake")

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(_fence "```")
file(WRITE "${WORK_DIR}/fixture.md" "# Fixture

<!-- doc-test: run -->
${_fence}cpp
#include <vector>
std::vector<int> v{1, 2}; int x = v[1];
${_fence}

<!-- doc-test: compile needs data -->

${_fence}c++
int y = 0;
${_fence}

<!-- doc-test: skip pseudo-code -->
${_fence}cpp
this is not C++
${_fence}

Unmarked:
${_fence}cpp
int unmarked = 1;
${_fence}

<!-- doc-test: skip -->
${_fence}cpp
int no_reason = 1;
${_fence}

<!-- doc-test: runs -->
${_fence}cpp
int typo = 1;
${_fence}

${_fence}sh
${_fence}cpp is not a fence inside a shell block
${_fence}
")

embedkit_doc_blocks(SOURCE_DIR "${WORK_DIR}" FILES "${WORK_DIR}/fixture.md"
  OUTPUT "${WORK_DIR}/out.cpp" RUN_VAR _run UNMARKED_VAR _unmarked)
file(READ "${WORK_DIR}/out.cpp" _cpp)

set(_failures "")
# expect_in(<haystack> <needle> <1|0> <what>): <needle> must (1) or must not (0) occur.
function(expect_in haystack needle want what)
  string(FIND "${haystack}" "${needle}" _pos)
  if((want AND _pos EQUAL -1) OR (NOT want AND NOT _pos EQUAL -1))
    set(_failures "${_failures}  ${what}\n" PARENT_SCOPE)
  endif()
endfunction()

if(NOT _run STREQUAL "0|fixture.md:4")
  string(APPEND _failures "  run list is '${_run}', want '0|fixture.md:4'\n")
endif()
list(LENGTH _unmarked _n)
if(NOT _n EQUAL 3)
  string(APPEND _failures "  3 problems expected, got ${_n}: ${_unmarked}\n")
endif()
expect_in("${_unmarked}" "fixture.md:21: no doc-test marker" 1 "the unmarked block is reported")
expect_in("${_unmarked}" "fixture.md:26: 'skip' needs a reason" 1 "a skip without a reason is reported")
expect_in("${_unmarked}" "fixture.md:31: malformed marker" 1 "a malformed marker is reported")
expect_in("${_cpp}" "std::vector<int> v{1, 2}; int x = v[1];" 1 "the run block's code is copied intact")
expect_in("${_cpp}" "#line 5 \"fixture.md\"\n#include <vector>" 1 "the #include is hoisted with its #line")
expect_in("${_cpp}" "void block_0() {\n#line 5 \"fixture.md\"\n\nstd::vector" 1
  "the body starts at the block's first line, the hoisted #include left blank")
expect_in("${_cpp}" "int y = 0;" 1 "the compile block is in the program")
expect_in("${_cpp}" "if (id == \"1\")" 1 "the compile block has an id")
expect_in("${_cpp}" "if (id == \"2\")" 0 "only two blocks are compiled")
foreach(_absent IN ITEMS "this is not C++" "int unmarked" "int no_reason" "int typo" "is not a fence")
  expect_in("${_cpp}" "${_absent}" 0 "'${_absent}' must not be in the program")
endforeach()

if(_failures)
  message(FATAL_ERROR "doc-block extraction:\n${_failures}")
endif()
message(STATUS "doc-block extraction: all checks passed")
