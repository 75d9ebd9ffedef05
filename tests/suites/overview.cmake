# Model overview thresholds and flagged-layers table, activation clip ranges in the
# histograms (issue 8 views).
if(TARGET quantlens_widgets)
  quantlens_add_test(test_overview SOURCES test_overview.cpp runfixtures.h
    LIBS QuantLens::widgets TIMEOUT 300)
endif()
