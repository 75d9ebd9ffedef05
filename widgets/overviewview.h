// The "Model overview" tab: the heat map (ModelOverview, with its metric and threshold
// boxes) and, beside it, the table of flagged layers (worst first; a click selects the
// layer as a click on its cell does; copy and CSV export from the table's context menu).
#pragma once

#include <QSplitter>

class QLabel;

namespace ql {

class ModelOverview;
class TableView;

class OverviewView : public QSplitter {
    Q_OBJECT
public:
    explicit OverviewView(QWidget* parent = nullptr);
    ModelOverview* chart() const { return chart_; }
    TableView* flaggedTable() const { return table_; }
    QLabel* flaggedLabel() const { return label_; }

private:
    void onRowClicked(const QModelIndex& index);

    ModelOverview* chart_ = nullptr;
    TableView* table_ = nullptr;
    QLabel* label_ = nullptr;
};

}  // namespace ql
