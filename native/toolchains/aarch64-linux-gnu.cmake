# CMake toolchain file for cross-building ONNX Runtime for aarch64 Linux on an x86-64 host
# (used by native/build-ort-qnn.sh --cross when no --toolchain-file is given).
#
# Compilers: ${EDGE_AARCH64_PREFIX}gcc / g++; the prefix defaults to "aarch64-linux-gnu-" (Debian/Ubuntu package
# g++-aarch64-linux-gnu). Sysroot: $EDGE_AARCH64_SYSROOT when set, e.g. a copy of the board's / taken with
# rsync, so the library links against the board's glibc and libstdc++ rather than the cross toolchain's.
# Both are read from the environment so that CMake's try_compile sub-projects see the same values.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(DEFINED ENV{EDGE_AARCH64_PREFIX} AND NOT "$ENV{EDGE_AARCH64_PREFIX}" STREQUAL "")
  set(_edge_prefix "$ENV{EDGE_AARCH64_PREFIX}")
else()
  set(_edge_prefix "aarch64-linux-gnu-")
endif()

set(CMAKE_C_COMPILER "${_edge_prefix}gcc")
set(CMAKE_CXX_COMPILER "${_edge_prefix}g++")
set(CMAKE_ASM_COMPILER "${_edge_prefix}gcc")

if(DEFINED ENV{EDGE_AARCH64_SYSROOT} AND NOT "$ENV{EDGE_AARCH64_SYSROOT}" STREQUAL "")
  set(CMAKE_SYSROOT "$ENV{EDGE_AARCH64_SYSROOT}")
endif()

# Host programs (python, protoc, git) from the host; headers and libraries from the target side only.
# With no sysroot set, CMake does not re-root anything and Debian's multiarch folders are searched as usual.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
