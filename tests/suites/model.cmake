# Forward pass, Model facade and perplexity (helper "model"). test_model links torch
# because the observer / step-wise / gradient tests use the core-private Transformer.
quantlens_add_test(test_model SOURCES test_model.cpp
  LIBS QuantLens::model QuantLens::tokenizer torch nlohmann_json::nlohmann_json)
target_compile_definitions(test_model PRIVATE QT_NO_KEYWORDS)
