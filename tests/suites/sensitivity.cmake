# Measured sensitivity (issue 10) against independent runs.
quantlens_add_test(test_sensitivity SOURCES test_sensitivity.cpp LIBS QuantLens::run TIMEOUT 900)
# The mixed-precision knapsack against brute force (no shared data).
quantlens_add_test(test_plan SOURCES test_plan.cpp LIBS QuantLens::run TIMEOUT 60)
