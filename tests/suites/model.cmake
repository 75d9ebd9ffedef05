# Forward pass, Model facade and perplexity (helper "model"). test_model links torch
# because the observer / step-wise / gradient tests use the core-private Transformer.
#
# Token ids of the stories come from model_tokenize_tool, a separate torch-free process:
# libsentencepiece.so exports its bundled protobuf-lite 3.14 symbols, which clash with
# libprotobuf 3.21 pulled in by libtorch (crash in libprotobuf's static initializers, or
# with libprotobuf linked first, sentencepiece's version check aborts).
add_executable(model_tokenize_tool model_tokenize_tool.cpp)
target_link_libraries(model_tokenize_tool PRIVATE QuantLens::tokenizer quantlens_warnings)

quantlens_add_test(test_model SOURCES test_model.cpp
  LIBS QuantLens::model torch nlohmann_json::nlohmann_json Qt6::Core)
target_compile_definitions(test_model PRIVATE QT_NO_KEYWORDS
  MODEL_TOKENIZE_TOOL="$<TARGET_FILE:model_tokenize_tool>")
add_dependencies(test_model model_tokenize_tool)
