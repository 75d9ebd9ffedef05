# Activation quantization (recipe "+aB..." side): fake-quant op vs a scalar computation,
# grammar, activation SQNR recomputed for one layer, perplexity with quantized activations.
quantlens_add_test(test_actquant SOURCES test_actquant.cpp
  LIBS QuantLens::run QuantLens::methods QuantLens::quant QuantLens::io QuantLens::tokenizer torch
  TIMEOUT 600)
target_compile_definitions(test_actquant PRIVATE QT_NO_KEYWORDS)
