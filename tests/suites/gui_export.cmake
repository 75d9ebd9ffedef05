if(TARGET quantlens_gui)
  # File → Export model: the format dialog (GGUF offered or disabled with the reason), the
  # background GGUF export equal to the CLI's, runs of a .gguf model (issue 9).
  quantlens_add_test(test_gui_export SOURCES test_gui_export.cpp cli_runner.h
    LIBS QuantLens::gui TIMEOUT 300)
  add_dependencies(test_gui_export quantlens-cli)
  target_compile_definitions(test_gui_export PRIVATE
    QUANTLENS_CLI_PATH="$<TARGET_FILE:quantlens-cli>")
endif()
