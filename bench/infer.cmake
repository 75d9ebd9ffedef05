# Packed INT8/INT4 kernels (helper "qkernels", issue 11): decode GEMV against read bandwidth
# and float32 GEMV, prefill against float32 sgemm.
add_executable(bench_infer_kernels ${CMAKE_CURRENT_SOURCE_DIR}/bench_infer_kernels.cpp)
target_link_libraries(bench_infer_kernels PRIVATE QuantLens::infer QuantLens::quant torch
  quantlens_warnings)
# The decode step's fixed cost: parallel regions, 1-token ATen ops, group vs separate calls.
add_executable(bench_decode_overhead ${CMAKE_CURRENT_SOURCE_DIR}/bench_decode_overhead.cpp)
target_link_libraries(bench_decode_overhead PRIVATE QuantLens::infer QuantLens::quant QuantLens::base
  torch quantlens_warnings)
# The int8-activation kernels' compute rate in L2 against VPDPBUSD's rate and the read
# bandwidth: what a layer read from memory can reach with and without overlap.
add_executable(bench_a8_compute ${CMAKE_CURRENT_SOURCE_DIR}/bench_a8_compute.cpp)
target_link_libraries(bench_a8_compute PRIVATE QuantLens::infer QuantLens::quant QuantLens::base
  torch quantlens_warnings)
