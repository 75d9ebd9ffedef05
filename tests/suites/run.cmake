# Runs (helper "run"): runQuantization, persistence, CSV, and the CLI end to end.
quantlens_add_test(test_run SOURCES test_run.cpp
  LIBS QuantLens::run QuantLens::tokenizer nlohmann_json::nlohmann_json TIMEOUT 900)

# quantlens-cli end to end, run as separate processes.
quantlens_add_test(test_cli SOURCES test_cli.cpp LIBS Qt6::Core nlohmann_json::nlohmann_json TIMEOUT 900)
add_dependencies(test_cli quantlens-cli)
target_compile_definitions(test_cli PRIVATE QUANTLENS_CLI_PATH="$<TARGET_FILE:quantlens-cli>")
# What makes two runs not comparable (run/run_compare.h): the caveats compare prints.
quantlens_add_test(test_run_compare SOURCES test_run_compare.cpp LIBS QuantLens::run)
