add_executable(bench_tokenizer ${CMAKE_CURRENT_SOURCE_DIR}/bench_tokenizer.cpp)
target_link_libraries(bench_tokenizer PRIVATE QuantLens::tokenizer quantlens_warnings)
target_compile_definitions(bench_tokenizer PRIVATE QUANTLENS_TEST_DATA_DEFAULT="${QUANTLENS_TEST_DATA}")
