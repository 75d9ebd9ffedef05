# Forward-pass throughput (helper "model"). Uses the core-private Transformer, so it
# links torch itself.
add_executable(bench_forward ${CMAKE_CURRENT_SOURCE_DIR}/bench_forward.cpp)
target_link_libraries(bench_forward PRIVATE QuantLens::model torch quantlens_warnings)
