# Fuzz smoke tests (fuzz_smoke_<name>) and their seed corpus fixture; see fuzz/README.md.
add_subdirectory(${CMAKE_SOURCE_DIR}/fuzz ${CMAKE_BINARY_DIR}/fuzz)
