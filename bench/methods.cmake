# GPTQ timing: synthetic Qwen2.5-1.5B-shaped block and the shared story models.
add_executable(bench_gptq ${CMAKE_CURRENT_SOURCE_DIR}/bench_gptq.cpp)
target_link_libraries(bench_gptq PRIVATE QuantLens::methods QuantLens::model QuantLens::tokenizer
  torch lapack quantlens_warnings)
