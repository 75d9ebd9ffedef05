# Measured sensitivity (issue 10) against independent runs.
quantlens_add_test(test_sensitivity SOURCES test_sensitivity.cpp LIBS QuantLens::run TIMEOUT 900)
# The mixed-precision knapsack against brute force (no shared data).
quantlens_add_test(test_plan SOURCES test_plan.cpp LIBS QuantLens::run TIMEOUT 60)
# The sensitivity proxies (output SQNR, Fisher, Hessian, kurtosis) against an independent
# computation; links torch for the whole-model forward/autograd of the reference.
quantlens_add_test(test_sensitivity_proxies SOURCES test_sensitivity_proxies.cpp
  LIBS QuantLens::run QuantLens::model QuantLens::quant QuantLens::tokenizer torch TIMEOUT 300)
target_compile_definitions(test_sensitivity_proxies PRIVATE QT_NO_KEYWORDS)
