# Stands in for test_openmp when CMake found no OpenMP: fails under CI=true (the full check must
# run the OpenMP backend), otherwise prints the marker ctest reports as "skipped".
if("$ENV{CI}" STREQUAL "true")
  message(FATAL_ERROR "OpenMP not found, so test_openmp (the OpenMP backend of top_k, distances "
                      "and pairwise) was not built; CI=true requires it")
endif()
message("embedkit-test-skipped: OpenMP not found, test_openmp not built")
