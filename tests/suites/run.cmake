# Runs (helper "run"): runQuantization, persistence, CSV, and the CLI end to end.
# test_run tokenizes through run_tokenize_tool, a torch-free process: libsentencepiece's
# bundled protobuf and libtorch's libprotobuf crash when loaded into one process.
add_executable(run_tokenize_tool run_tokenize_tool.cpp)
target_link_libraries(run_tokenize_tool PRIVATE QuantLens::tokenizer quantlens_warnings)
quantlens_add_test(test_run SOURCES test_run.cpp
  LIBS QuantLens::run nlohmann_json::nlohmann_json Qt6::Core TIMEOUT 900)
add_dependencies(test_run run_tokenize_tool)
target_compile_definitions(test_run PRIVATE RUN_TOKENIZE_TOOL="$<TARGET_FILE:run_tokenize_tool>")

