# Weights-only what-if (issue 13): bandwidth, fused kernels, sweep of a checkpoint.
add_executable(bench_whatif ${CMAKE_CURRENT_SOURCE_DIR}/bench_whatif.cpp)
target_link_libraries(bench_whatif PRIVATE QuantLens::run QuantLens::quant quantlens_warnings)
