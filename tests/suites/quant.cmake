# Quantization kernels: recipes, RTN, packing, metrics (test_quant) and histograms.
quantlens_add_test(test_quant SOURCES test_quant.cpp
  LIBS QuantLens::quant QuantLens::io nlohmann_json::nlohmann_json)
quantlens_add_test(test_histogram SOURCES test_histogram.cpp LIBS QuantLens::quant)
