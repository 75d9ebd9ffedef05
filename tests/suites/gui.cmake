# Workbench suites (need the GUI targets).
if(TARGET quantlens_widgets)
  quantlens_add_test(test_models SOURCES test_models.cpp LIBS QuantLens::widgets)
endif()
if(TARGET quantlens_gui)
  quantlens_add_test(test_gui SOURCES test_gui.cpp LIBS QuantLens::gui TIMEOUT 900)
  # The application itself, for the command-line checks (--help without a display).
  add_dependencies(test_gui quantlens)
  target_compile_definitions(test_gui PRIVATE QUANTLENS_GUI_EXE="$<TARGET_FILE:quantlens>")
endif()
