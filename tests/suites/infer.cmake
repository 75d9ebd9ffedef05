# Packed INT8/INT4 kernels (helper "qkernels"): every format x shape class x dispatch path
# against a double-precision reference; packed sizes; refused formats.
quantlens_add_test(test_infer_kernels SOURCES test_infer_kernels.cpp
  LIBS QuantLens::infer QuantLens::quant TIMEOUT 120)
# installPackedKernels on the shared stories260k model: packed logits equal the simulated
# model's for RTN INT8/INT4, GPTQ and AWQ runs; released float weights.
quantlens_add_test(test_infer_install SOURCES test_infer_install.cpp
  LIBS QuantLens::run QuantLens::model QuantLens::io torch TIMEOUT 300)
target_compile_definitions(test_infer_install PRIVATE QT_NO_KEYWORDS)
