# The run reader (loadRun) against hostile run folders; no shared data needed.
quantlens_add_test(test_run_reader SOURCES test_run_reader.cpp
  LIBS QuantLens::run nlohmann_json::nlohmann_json TIMEOUT 120)
