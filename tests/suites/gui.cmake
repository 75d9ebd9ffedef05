# Workbench suites (need the GUI targets).
if(TARGET quantlens_widgets)
  quantlens_add_test(test_models SOURCES test_models.cpp LIBS QuantLens::widgets)
  # The bench chart's label placement on made-up points (no widgets).
  quantlens_add_test(test_label_placement SOURCES test_label_placement.cpp
    LIBS QuantLens::widgets)
endif()
if(TARGET quantlens_gui)
  # The main window by page: runs and tables (test_gui), charts and exports
  # (test_gui_charts), quitting, autosave and restore (test_gui_session).
  quantlens_add_test(test_gui SOURCES test_gui.cpp gui_helpers.h LIBS QuantLens::gui TIMEOUT 900)
  quantlens_add_test(test_gui_charts SOURCES test_gui_charts.cpp gui_helpers.h
    LIBS QuantLens::gui TIMEOUT 900)
  quantlens_add_test(test_gui_session SOURCES test_gui_session.cpp gui_helpers.h
    LIBS QuantLens::gui TIMEOUT 900)
  # The run panel's recipe editor from the method registry, presets, an NF4 run (issue 8).
  quantlens_add_test(test_gui_nf4 SOURCES test_gui_nf4.cpp gui_helpers.h
    LIBS QuantLens::gui TIMEOUT 900)
  # The application itself, for the command-line checks (--help without a display).
  add_dependencies(test_gui quantlens)
  target_compile_definitions(test_gui PRIVATE QUANTLENS_GUI_EXE="$<TARGET_FILE:quantlens>")
endif()
if(TARGET quantlens_gui)
  # SmoothQuant's run panel box and preset, a W8A8 SmoothQuant run, the model overview heat map.
  quantlens_add_test(test_gui_smooth SOURCES test_gui_smooth.cpp gui_helpers.h
    LIBS QuantLens::gui TIMEOUT 900)
endif()
if(TARGET quantlens_gui)
  # The run panel's per-layer overrides: rows → the run's overrides, tables show each
  # layer's recipe, bad rows refused (issue 10).
  quantlens_add_test(test_gui_overrides SOURCES test_gui_overrides.cpp gui_helpers.h
    LIBS QuantLens::gui TIMEOUT 600)
endif()
if(TARGET quantlens_gui)
  # The Sensitivity tab: table model, measurement on the background thread against the
  # engine, ranked bars and heat map selecting layers, export, cancel (issue 10).
  quantlens_add_test(test_gui_sensitivity SOURCES test_gui_sensitivity.cpp gui_helpers.h
    LIBS QuantLens::gui TIMEOUT 600)
endif()
if(TARGET quantlens_gui)
  # The Plan tab: candidates measured in the background, Pareto chart against the plan
  # inputs, "Run this plan" fills the run panel with the plan's overrides (issue 10).
  quantlens_add_test(test_gui_plan SOURCES test_gui_plan.cpp gui_helpers.h
    LIBS QuantLens::gui TIMEOUT 600)
endif()
if(TARGET quantlens_gui)
  # The live weights-only preview: debounce, cancellation, numbers equal to sweep's, the
  # GUI thread's longest stall, runs never replaced (issue 13).
  quantlens_add_test(test_gui_preview SOURCES test_gui_preview.cpp gui_helpers.h
    LIBS QuantLens::gui TIMEOUT 300)
endif()
if(TARGET quantlens_gui)
  # The Generate tab: streaming columns equal to compareGeneration, tooltips, KL chart,
  # cancel, a run of another model (issue 11).
  quantlens_add_test(test_gui_generate SOURCES test_gui_generate.cpp gui_helpers.h
    LIBS QuantLens::gui TIMEOUT 300)
endif()
