# Shared by the two CMake consumer projects: the consumer executable with the warnings the
# package test demands, and the expectations the driver passes in.
#
# Inputs (cache variables set by driver.cmake): EMBEDKIT_EXPECT_VERSION (e.g. 0.3.0),
# EMBEDKIT_EXPECT_HAS_ZLIB and EMBEDKIT_EXPECT_HAS_PNG (0 or 1).
foreach(_var IN ITEMS EMBEDKIT_EXPECT_VERSION EMBEDKIT_EXPECT_HAS_ZLIB EMBEDKIT_EXPECT_HAS_PNG)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "package consumer: pass -D${_var}=... (driver.cmake does)")
  endif()
endforeach()

if(NOT TARGET embedkit::embedkit)
  message(FATAL_ERROR "package consumer: target embedkit::embedkit does not exist")
endif()

# The library forces no flags on its users (STYLE.md section 9): no -march, -O, warnings.
get_target_property(_opts embedkit::embedkit INTERFACE_COMPILE_OPTIONS)
if(_opts)
  message(FATAL_ERROR "package consumer: embedkit::embedkit carries compile options: ${_opts}")
endif()

string(REPLACE "." ";" _version_parts "${EMBEDKIT_EXPECT_VERSION}")
list(GET _version_parts 0 _major)
list(GET _version_parts 1 _minor)
list(GET _version_parts 2 _patch)

get_filename_component(_package_dir "${CMAKE_CURRENT_LIST_DIR}" ABSOLUTE)
add_executable(consumer "${_package_dir}/consumer.cpp" "${_package_dir}/consumer_helper.cpp")
target_link_libraries(consumer PRIVATE embedkit::embedkit)
# The flags a careful user builds with: the headers (templates included, consumer.cpp
# instantiates them) must be clean under all of them (issue 12). Eigen arrives through its
# imported target, i.e. as a system include, so its own conversions do not count.
target_compile_options(consumer PRIVATE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Werror)
target_compile_definitions(consumer PRIVATE
  EMBEDKIT_EXPECT_VERSION_MAJOR=${_major}
  EMBEDKIT_EXPECT_VERSION_MINOR=${_minor}
  EMBEDKIT_EXPECT_VERSION_PATCH=${_patch}
  EMBEDKIT_EXPECT_HAS_ZLIB=${EMBEDKIT_EXPECT_HAS_ZLIB}
  EMBEDKIT_EXPECT_HAS_PNG=${EMBEDKIT_EXPECT_HAS_PNG}
  EMBEDKIT_CONSUMER_TEMPLATES=0)  # the plain -I build instantiates the templates (driver.cmake)
