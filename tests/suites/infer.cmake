# Packed INT8/INT4 kernels (helper "qkernels"): every format x shape class x dispatch path
# against a double-precision reference; packed sizes; refused formats.
quantlens_add_test(test_infer_kernels SOURCES test_infer_kernels.cpp
  LIBS QuantLens::infer QuantLens::quant TIMEOUT 120)
