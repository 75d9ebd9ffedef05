# The fused weights-only kernel against the reference path, in every vector path.
quantlens_add_test(test_whatif SOURCES test_whatif.cpp LIBS QuantLens::quant TIMEOUT 120)
# Sweeps and the fused run path on the shared models.
quantlens_add_test(test_sweep SOURCES test_sweep.cpp
  LIBS QuantLens::run QuantLens::io nlohmann_json::nlohmann_json TIMEOUT 300)
