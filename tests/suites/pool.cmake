# The tensor pool (core/model/tensor_pool): libtorch's large CPU tensors reused.
quantlens_add_test(test_tensor_pool SOURCES test_tensor_pool.cpp LIBS QuantLens::model torch)
