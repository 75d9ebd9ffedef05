# The block-streamed run engine against the whole-model reference path.
quantlens_add_test(test_stream SOURCES test_stream.cpp LIBS QuantLens::run TIMEOUT 900)
