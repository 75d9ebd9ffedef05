# Quantization kernels (helper "quant"): histograms and fused RTN vs plain libtorch ops.
add_executable(bench_quant ${CMAKE_CURRENT_SOURCE_DIR}/bench_quant.cpp)
target_link_libraries(bench_quant PRIVATE QuantLens::quant torch quantlens_warnings)
