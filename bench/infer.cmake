# Packed INT8/INT4 kernels (helper "qkernels", issue 11): decode GEMV against read bandwidth
# and float32 GEMV, prefill against float32 sgemm.
add_executable(bench_infer_kernels ${CMAKE_CURRENT_SOURCE_DIR}/bench_infer_kernels.cpp)
target_link_libraries(bench_infer_kernels PRIVATE QuantLens::infer QuantLens::quant torch
  quantlens_warnings)
# The decode step's fixed cost: parallel regions, 1-token ATen ops, group vs separate calls.
add_executable(bench_decode_overhead ${CMAKE_CURRENT_SOURCE_DIR}/bench_decode_overhead.cpp)
target_link_libraries(bench_decode_overhead PRIVATE QuantLens::infer QuantLens::quant QuantLens::base
  torch quantlens_warnings)
