# The fused weights-only kernel against the reference path, in every vector path.
quantlens_add_test(test_whatif SOURCES test_whatif.cpp LIBS QuantLens::quant TIMEOUT 120)
