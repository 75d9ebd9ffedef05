# End-to-end run (helper "run"): RTN of every projection of a synthetic Qwen2.5-1.5B,
# weights-only path (no tokenizer, no forward pass).
add_executable(bench_run ${CMAKE_CURRENT_SOURCE_DIR}/bench_run.cpp)
target_link_libraries(bench_run PRIVATE QuantLens::run QuantLens::model quantlens_warnings)
