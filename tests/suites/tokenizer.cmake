quantlens_add_test(test_tokenizer SOURCES test_tokenizer.cpp
  LIBS QuantLens::tokenizer nlohmann_json::nlohmann_json)
