# Issue 12 "numbers a user can trust" (helper ql-numbers): run-level checks in-process,
# and the CLI's resource limits as separate processes.
quantlens_add_test(test_numbers SOURCES test_numbers.cpp
  LIBS QuantLens::run QuantLens::tokenizer nlohmann_json::nlohmann_json TIMEOUT 900)

quantlens_add_test(test_cli_limits SOURCES test_cli_limits.cpp LIBS Qt6::Core TIMEOUT 900)
add_dependencies(test_cli_limits quantlens-cli)
target_compile_definitions(test_cli_limits PRIVATE QUANTLENS_CLI_PATH="$<TARGET_FILE:quantlens-cli>")
