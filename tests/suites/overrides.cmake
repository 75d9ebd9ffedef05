# Per-layer recipe overrides (issue 10).
quantlens_add_test(test_overrides SOURCES test_overrides.cpp LIBS QuantLens::run TIMEOUT 300)
