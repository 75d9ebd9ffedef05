# Charts and table views of widgets/ driven as a user would (helper "widgets"): like-with-like
# comparisons, labels, chart settings, column choice, compare view, CSV of chart data.
if(TARGET quantlens_widgets)
  quantlens_add_test(test_widgets SOURCES test_widgets.cpp LIBS QuantLens::widgets)
endif()
