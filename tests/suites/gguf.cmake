# llama.cpp formats (helper "gguf"): the GGUF reader against the shared reference files and
# hand-made corrupt files; the ggml quantizers byte for byte against llama-quantize's output.
quantlens_add_test(test_gguf SOURCES test_gguf.cpp gguf_builder.h LIBS QuantLens::io TIMEOUT 120)
quantlens_add_test(test_ggml_quants SOURCES test_ggml_quants.cpp
  LIBS QuantLens::quant QuantLens::io TIMEOUT 120)
# llama.cpp formats as recipes: grammar, bytes, fallbacks, runs end to end.
quantlens_add_test(test_ggml_recipes SOURCES test_ggml_recipes.cpp cli_runner.h
  LIBS QuantLens::run QuantLens::quant QuantLens::io TIMEOUT 300)
add_dependencies(test_ggml_recipes quantlens-cli)
target_compile_definitions(test_ggml_recipes PRIVATE QUANTLENS_CLI_PATH="$<TARGET_FILE:quantlens-cli>")
# llama-quantize's mixes (q4_k_m, ...) as recipes: per-layer types against the reference files.
quantlens_add_test(test_ggml_mixes SOURCES test_ggml_mixes.cpp
  LIBS QuantLens::run QuantLens::quant QuantLens::io TIMEOUT 300)
# GGUF export against convert_hf_to_gguf.py's and llama-quantize's files, byte for byte.
quantlens_add_test(test_gguf_export SOURCES test_gguf_export.cpp
  LIBS QuantLens::run QuantLens::io TIMEOUT 300)
# "Compare a quantized file with its original": a GGUF checkpoint as a run's quantized side.
quantlens_add_test(test_gguf_compare SOURCES test_gguf_compare.cpp cli_runner.h
  LIBS QuantLens::run QuantLens::io TIMEOUT 300)
add_dependencies(test_gguf_compare quantlens-cli)
target_compile_definitions(test_gguf_compare PRIVATE QUANTLENS_CLI_PATH="$<TARGET_FILE:quantlens-cli>")
# A .gguf file as a model on its own: config, weights, tokenizer, perplexity of exported runs.
quantlens_add_test(test_gguf_model SOURCES test_gguf_model.cpp cli_runner.h
  LIBS QuantLens::run QuantLens::io QuantLens::tokenizer nlohmann_json::nlohmann_json TIMEOUT 300)
add_dependencies(test_gguf_model quantlens-cli)
target_compile_definitions(test_gguf_model PRIVATE QUANTLENS_CLI_PATH="$<TARGET_FILE:quantlens-cli>")
