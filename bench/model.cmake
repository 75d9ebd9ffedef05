# Forward-pass throughput (helper "model"). Uses the core-private Transformer, so it
# links torch itself.
add_executable(bench_forward ${CMAKE_CURRENT_SOURCE_DIR}/bench_forward.cpp)
target_link_libraries(bench_forward PRIVATE QuantLens::model torch quantlens_warnings)
# Decode-step paths A/B in one process (issue 11): ATen ops vs plain loops, group kernels.
add_executable(bench_decode_step ${CMAKE_CURRENT_SOURCE_DIR}/bench_decode_step.cpp)
target_link_libraries(bench_decode_step PRIVATE QuantLens::run QuantLens::model QuantLens::base
  torch quantlens_warnings)
