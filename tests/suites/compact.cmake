# Compact after-weights (helper "ql-compact"): codes + grid, file form, bit-exact decode
# against quantizeLayers on the shared models (uses ATen directly, like test_methods).
quantlens_add_test(test_compact SOURCES test_compact.cpp
  LIBS QuantLens::methods QuantLens::model QuantLens::quant QuantLens::tokenizer torch TIMEOUT 900)
target_compile_definitions(test_compact PRIVATE QT_NO_KEYWORDS)
# Run folders with compact after-weights, and runs saved before with float32 ones.
quantlens_add_test(test_run_compact SOURCES test_run_compact.cpp LIBS QuantLens::run TIMEOUT 600)
