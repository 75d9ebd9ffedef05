# GPTQ checkpoints (helper "gptqckpt"): packing against hand-packed words, export of RTN and
# GPTQ runs of the shared model read back as a model, refusals.
quantlens_add_test(test_gptq_checkpoint SOURCES test_gptq_checkpoint.cpp cli_runner.h
  LIBS QuantLens::run QuantLens::model QuantLens::io QuantLens::tokenizer nlohmann_json::nlohmann_json
  TIMEOUT 300)
add_dependencies(test_gptq_checkpoint quantlens-cli)
target_compile_definitions(test_gptq_checkpoint PRIVATE QUANTLENS_CLI_PATH="$<TARGET_FILE:quantlens-cli>")
