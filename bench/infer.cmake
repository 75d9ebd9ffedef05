# Packed INT8/INT4 kernels (helper "qkernels", issue 11): decode GEMV against read bandwidth
# and float32 GEMV, prefill against float32 sgemm.
add_executable(bench_infer_kernels ${CMAKE_CURRENT_SOURCE_DIR}/bench_infer_kernels.cpp)
target_link_libraries(bench_infer_kernels PRIVATE QuantLens::infer QuantLens::quant torch
  quantlens_warnings)
