# GPTQ timing: synthetic Qwen2.5-1.5B-shaped block and the shared story models.
# libprotobuf first: see tests/suites/methods.cmake (sentencepiece/protobuf symbol clash).
add_executable(bench_gptq ${CMAKE_CURRENT_SOURCE_DIR}/bench_gptq.cpp)
target_link_libraries(bench_gptq PRIVATE "-Wl,--no-as-needed,-lprotobuf,--as-needed" QuantLens::methods QuantLens::model
  QuantLens::tokenizer torch quantlens_warnings)
