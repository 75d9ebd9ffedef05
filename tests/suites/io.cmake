# Suites of helper "io": safetensors / dtypes / config.json, and synthetic models.
quantlens_add_test(test_io SOURCES test_io.cpp LIBS QuantLens::io)
# synth.cpp and inspect.cpp are torch-free; compiled here directly so this suite does not
# depend on the rest of the model library.
quantlens_add_test(test_synth
  SOURCES test_synth.cpp ${CMAKE_SOURCE_DIR}/core/model/synth.cpp ${CMAKE_SOURCE_DIR}/core/model/inspect.cpp
  LIBS QuantLens::io nlohmann_json::nlohmann_json)
