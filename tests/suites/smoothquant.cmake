# SmoothQuant ("+sq[:ALPHA]"): scale formula, grammar, smoothed float model equivalence,
# W8A8 with and without smoothing on a model with planted activation outliers.
quantlens_add_test(test_smoothquant SOURCES test_smoothquant.cpp
  LIBS QuantLens::run QuantLens::methods QuantLens::quant QuantLens::io QuantLens::model torch
  TIMEOUT 300)
target_compile_definitions(test_smoothquant PRIVATE QT_NO_KEYWORDS)
