# bitsandbytes NF4/FP4 and the method registry: codebooks, hand computations, bytes, recipes,
# and the method end to end on the shared models (perplexity ordering).
quantlens_add_test(test_nf4 SOURCES test_nf4.cpp
  LIBS QuantLens::run QuantLens::quant QuantLens::io TIMEOUT 900)
