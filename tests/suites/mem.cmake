# Memory-saving paths of model-path runs (helper "mem").
quantlens_add_test(test_run_memory SOURCES test_run_memory.cpp
  LIBS QuantLens::run QuantLens::methods QuantLens::model TIMEOUT 600)
