# Compile checks of search_column_major.cpp, run by ctest as a script:
#   cmake -DCXX=<compiler> -DSTD=<-std flag> -DINCLUDES=<dir|dir|...> -DSOURCE=<file>
#         -DCASE=<n> -DEXPECT=<row_major|stored_data|compiles> -P search_check.cmake
# EXPECT=compiles (CASE 0, the positive control): the RowMatrix calls must compile.
# Otherwise the case must fail to compile AND its diagnostics must contain the library's
# static_assert text, which names RowMatrix.
foreach(_var CXX STD INCLUDES SOURCE CASE EXPECT)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "search_check.cmake: -D${_var}=... is required")
  endif()
endforeach()

string(REPLACE "|" ";" _dirs "${INCLUDES}")
set(_flags "")
foreach(_d IN LISTS _dirs)
  list(APPEND _flags "-I${_d}")
endforeach()

if(EXPECT STREQUAL "compiles")
  set(_bad 0)
else()
  set(_bad 1)
endif()
execute_process(
  COMMAND "${CXX}" ${STD} -fsyntax-only ${_flags} -DEK_BAD=${_bad} -DEK_CASE=${CASE} "${SOURCE}"
  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)

if(EXPECT STREQUAL "compiles")
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "the positive control (RowMatrix arguments) does not compile:\n${_out}")
  endif()
  message(STATUS "the RowMatrix calls of every case compile")
  return()
endif()

if(EXPECT STREQUAL "row_major")
  set(_needle "embedding sets must be row-major: use embedkit::RowMatrix")
elseif(EXPECT STREQUAL "stored_data")
  set(_needle "embedding sets must be stored data (embedkit::RowMatrix")
else()
  message(FATAL_ERROR "search_check.cmake: unknown EXPECT '${EXPECT}'")
endif()
if(_rc EQUAL 0)
  message(FATAL_ERROR "case ${CASE}: the wrong kind of set COMPILED; it must not")
endif()
string(FIND "${_out}" "${_needle}" _at)
if(_at EQUAL -1)
  message(FATAL_ERROR "case ${CASE}: the compile failed, but without the message "
                      "'${_needle}':\n${_out}")
endif()
message(STATUS "case ${CASE}: rejected with \"${_needle}...\"")
