# Cross build for aarch64 (NEON kernels) with Debian's g++-aarch64-linux-gnu; tests run
# under qemu-aarch64 (Debian qemu-user). Used by the `neon` preset.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Debian's cross toolchain keeps the target's libc and libstdc++ under this prefix.
set(EMBEDKIT_AARCH64_PREFIX /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH "${EMBEDKIT_AARCH64_PREFIX}")

# ctest and doctest_discover_tests (which runs each test binary to list its cases) start the
# aarch64 executables through qemu; -L points its loader at the target's libraries.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L "${EMBEDKIT_AARCH64_PREFIX}")

# Programs (qemu, git) are host programs. Libraries and headers must be the target's: a host
# x86-64 libz or /usr/include would break the link or the compile, so optional dependencies
# without an aarch64 build are simply not found. Package configs may come from the host:
# Eigen and doctest are header-only, and their configs work for any target (tests/CMakeLists.txt
# keeps doctest's /usr/include off the include path when cross compiling).
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
