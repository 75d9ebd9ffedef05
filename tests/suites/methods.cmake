# core/methods: RTN/GPTQ/AWQ layer-wise quantization (uses ATen directly for synthetic layers).
# Tokenization runs in a separate process (methods_tokenize, no libtorch): libtorch's
# libprotobuf 3.21 and libsentencepiece's exported protobuf-lite 3.14 abort when loaded
# into one process (static initializers bind to each other's symbols).
add_executable(methods_tokenize methods_tokenize.cpp)
target_link_libraries(methods_tokenize PRIVATE QuantLens::tokenizer quantlens_warnings)
quantlens_add_test(test_methods SOURCES test_methods.cpp
  LIBS QuantLens::methods QuantLens::model QuantLens::quant torch Qt6::Core)
add_dependencies(test_methods methods_tokenize)
target_compile_definitions(test_methods PRIVATE QT_NO_KEYWORDS
  METHODS_TOKENIZE_EXE="$<TARGET_FILE:methods_tokenize>")
