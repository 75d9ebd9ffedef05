// The sensitivity view (issue 10): the ranked bar chart and the blocks × kinds heat map
// (two tabs) above the table of every unit. Sorting the table by a numeric column ranks the charts
// by it; clicking a bar, a cell or a row selects that unit here and its (first) layer in the rest
// of the workbench (layerSelected). CSV from the table's context menu, PNG from the charts' (as
// every table and chart of the workbench).
#pragma once

#include "widgets/sensitivitytablemodel.h"

#include <QWidget>

class QCustomPlot;
class QLabel;
class QTabWidget;
class QSortFilterProxyModel;

namespace ql {

class SensitivityBars;
class SensitivityHeatMap;
class TableView;

class SensitivityView : public QWidget {
    Q_OBJECT
public:
    explicit SensitivityView(QWidget* parent = nullptr);
    void setResult(SensitivityPtr result);
    const SensitivityPtr& result() const { return model_->result(); }
    // The workbench selected a layer: show its unit (no layerSelected back).
    void setSelectedLayer(const std::string& name);
    int selectedRow() const { return selected_; }  // model row, -1 when none
    // What clicking the unit in any of the three does.
    void selectRow(int row);

    SensitivityTableModel* model() const { return model_; }
    QSortFilterProxyModel* proxy() const { return proxy_; }
    TableView* table() const { return table_; }
    SensitivityBars* bars() const { return bars_; }
    SensitivityHeatMap* heatMap() const { return heatMap_; }
    QLabel* summaryLabel() const { return summary_; }
    // The chart of the tab shown (what Export chart writes), and switching tabs.
    QCustomPlot* currentChart() const;
    void showHeatMap(bool heatMap);
    void applyPalette();  // both charts, after the application palette changed (View → Theme)

signals:
    void layerSelected(const std::string& name);

private:
    void showRow(int row);
    void updateSummary();

    SensitivityTableModel* model_ = nullptr;
    QSortFilterProxyModel* proxy_ = nullptr;
    TableView* table_ = nullptr;
    SensitivityBars* bars_ = nullptr;
    SensitivityHeatMap* heatMap_ = nullptr;
    QTabWidget* charts_ = nullptr;
    QLabel* summary_ = nullptr;
    int selected_ = -1;
    bool showing_ = false;
};

}  // namespace ql
