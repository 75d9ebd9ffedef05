# core/methods: RTN/GPTQ/AWQ layer-wise quantization (uses ATen directly for synthetic layers).
quantlens_add_test(test_methods SOURCES test_methods.cpp
  LIBS QuantLens::methods QuantLens::model QuantLens::quant QuantLens::tokenizer torch)
target_compile_definitions(test_methods PRIVATE QT_NO_KEYWORDS)
