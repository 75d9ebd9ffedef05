# Packed INT8/INT4 kernels (helper "qkernels"): every format x shape class x dispatch path
# against a double-precision reference; packed sizes; refused formats.
quantlens_add_test(test_infer_kernels SOURCES test_infer_kernels.cpp
  LIBS QuantLens::infer QuantLens::quant TIMEOUT 120)
# installPackedKernels on the shared stories260k model: packed logits equal the simulated
# model's for RTN INT8/INT4, GPTQ and AWQ runs; released float weights.
quantlens_add_test(test_infer_install SOURCES test_infer_install.cpp
  LIBS QuantLens::run QuantLens::model QuantLens::io torch TIMEOUT 300)
target_compile_definitions(test_infer_install PRIVATE QT_NO_KEYWORDS)
# installQuantizedHead: the quantized output head's logits against the head dequantized by
# the test's own RTN (decode and prefill paths); its KL next to the INT8 run's; refusals.
quantlens_add_test(test_infer_head SOURCES test_infer_head.cpp
  LIBS QuantLens::run QuantLens::model QuantLens::io torch TIMEOUT 300)
target_compile_definitions(test_infer_head PRIVATE QT_NO_KEYWORDS)
# bench-infer --activations and --head end to end (options, JSON fields, refusals).
quantlens_add_test(test_infer_cli SOURCES test_infer_cli.cpp cli_runner.h
  LIBS Qt6::Core nlohmann_json::nlohmann_json TIMEOUT 600)
add_dependencies(test_infer_cli quantlens-cli)
target_compile_definitions(test_infer_cli PRIVATE QUANTLENS_CLI_PATH="$<TARGET_FILE:quantlens-cli>")
# The decode path's team of threads (base/spin_team.h): tasks once each on their threads, errors
# rethrown, nested and concurrent calls, thread-count changes.
quantlens_add_test(test_spin_team SOURCES test_spin_team.cpp LIBS QuantLens::base TIMEOUT 120)
