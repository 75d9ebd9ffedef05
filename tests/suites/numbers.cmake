# Issue 12 "numbers a user can trust" (helper ql-numbers): run-level checks in-process,
# and the CLI's resource limits as separate processes.
quantlens_add_test(test_numbers SOURCES test_numbers.cpp
  LIBS QuantLens::run QuantLens::tokenizer nlohmann_json::nlohmann_json TIMEOUT 900)
