# Suites of helper "io": safetensors / dtypes / config.json, and synthetic models.
quantlens_add_test(test_io SOURCES test_io.cpp LIBS QuantLens::io)
