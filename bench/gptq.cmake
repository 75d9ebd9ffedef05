# GPTQ/AWQ vs RTN on the shared story models: perplexity, dampening, per-layer output error.
add_executable(bench_gptq_vs_rtn ${CMAKE_CURRENT_SOURCE_DIR}/bench_gptq_vs_rtn.cpp)
target_link_libraries(bench_gptq_vs_rtn PRIVATE QuantLens::methods QuantLens::model
  QuantLens::tokenizer torch quantlens_warnings)
