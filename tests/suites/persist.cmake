# Data safety (helper "ql-data"): what saves may replace, crash-safe writes (the CLI killed
# at every step), write errors, recovery of interrupted saves, checked run.json numbers.
quantlens_add_test(test_persist SOURCES test_persist.cpp
  LIBS QuantLens::run nlohmann_json::nlohmann_json Qt6::Core TIMEOUT 900)
add_dependencies(test_persist quantlens-cli)
target_compile_definitions(test_persist PRIVATE QUANTLENS_CLI_PATH="$<TARGET_FILE:quantlens-cli>")
