# KV-cached decoding, generation and sampling (issue 11). Links torch: compares the
# decoder with the core-private Transformer's full forward pass.
quantlens_add_test(test_generate SOURCES test_generate.cpp
  LIBS QuantLens::model QuantLens::tokenizer torch TIMEOUT 300)
target_compile_definitions(test_generate PRIVATE QT_NO_KEYWORDS)
