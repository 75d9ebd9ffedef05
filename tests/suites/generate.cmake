# KV-cached decoding, generation and sampling (issue 11). Links torch: compares the
# decoder with the core-private Transformer's full forward pass.
quantlens_add_test(test_generate SOURCES test_generate.cpp
  LIBS QuantLens::model QuantLens::tokenizer torch TIMEOUT 300)
target_compile_definitions(test_generate PRIVATE QT_NO_KEYWORDS)
# quantlens-cli generate end to end (runs of stories260k made by quantize).
quantlens_add_test(test_generate_cli SOURCES test_generate_cli.cpp cli_runner.h
  LIBS QuantLens::run QuantLens::model nlohmann_json::nlohmann_json TIMEOUT 300)
add_dependencies(test_generate_cli quantlens-cli)
target_compile_definitions(test_generate_cli PRIVATE QUANTLENS_CLI_PATH="$<TARGET_FILE:quantlens-cli>")
# The decode step's non-projection loops, portable and AVX-512, against double references.
quantlens_add_test(test_step_kernels SOURCES test_step_kernels.cpp LIBS QuantLens::model TIMEOUT 120)
