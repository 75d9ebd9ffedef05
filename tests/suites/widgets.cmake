# Charts and table views of widgets/ driven as a user would (helper "widgets"): like-with-like
# comparisons, labels, chart settings, column choice, compare view, CSV of chart data.
if(TARGET quantlens_widgets)
  quantlens_add_test(test_widgets SOURCES test_widgets.cpp LIBS QuantLens::widgets)
  # Fallbacks in the Sweep, Sensitivity and Plan views; text that fits small charts.
  quantlens_add_test(test_widgets_fit SOURCES test_widgets_fit.cpp LIBS QuantLens::widgets)
endif()
