# Workbench suites (need the GUI targets).
if(TARGET quantlens_widgets)
  quantlens_add_test(test_models SOURCES test_models.cpp LIBS QuantLens::widgets)
endif()
if(TARGET quantlens_gui)
  quantlens_add_test(test_gui SOURCES test_gui.cpp LIBS QuantLens::gui TIMEOUT 900)
endif()
