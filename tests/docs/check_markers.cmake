# Fails when tests/docs found C++ blocks without a valid doc-test marker (LIST: one per line).
file(READ "${LIST}" _text)
string(STRIP "${_text}" _text)
if(NOT _text STREQUAL "")
  message(FATAL_ERROR "C++ blocks in the docs without a valid marker on the line before the fence "
    "(<!-- doc-test: run -->, <!-- doc-test: compile [reason] -->, "
    "<!-- doc-test: skip <reason> -->; see tests/docs/CMakeLists.txt):\n${_text}")
endif()
message(STATUS "every C++ block in the docs carries a doc-test marker")
