#include "widgets/sensitivityview.h"

#include "widgets/sensitivitychart.h"
#include "widgets/tableroles.h"
#include "widgets/tableview.h"

#include <QHeaderView>
#include <QLabel>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTabWidget>
#include <QVBoxLayout>

namespace ql {

SensitivityView::SensitivityView(QWidget* parent) : QWidget(parent) {
    model_ = new SensitivityTableModel(this);
    proxy_ = new QSortFilterProxyModel(this);
    proxy_->setSourceModel(model_);
    proxy_->setSortRole(SortRole);
    table_ = new TableView;
    table_->setModel(proxy_);
    table_->setSortingEnabled(true);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->sortByColumn(SensitivityTableModel::defaultRankColumn(), Qt::DescendingOrder);
    bars_ = new SensitivityBars(model_);
    heatMap_ = new SensitivityHeatMap(model_);
    summary_ = new QLabel;
    summary_->setWordWrap(true);
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    // The two charts share one tab widget: side by side, a 1280×720 window left the heat map
    // a sliver; as tabs each gets the whole width. The table stays below, on a splitter.
    charts_ = new QTabWidget;
    charts_->setDocumentMode(true);
    charts_->addTab(bars_, "Ranked units");
    charts_->addTab(heatMap_, "Blocks × kinds");
    charts_->setTabToolTip(1, "Layer units only: a cell per block and projection kind");
    charts_->setMinimumHeight(220);
    table_->setMinimumHeight(110);
    auto* split = new QSplitter(Qt::Vertical);
    split->setChildrenCollapsible(false);
    split->addWidget(charts_);
    split->addWidget(table_);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(summary_);
    layout->addWidget(split, 1);

    // Sorting by a numeric column ranks the charts by it (the unit column keeps the rank).
    connect(table_->horizontalHeader(), &QHeaderView::sortIndicatorChanged, this,
            [this](int column, Qt::SortOrder) {
                if (column < SensitivityTableModel::FirstNumericColumn ||
                    column >= SensitivityTableModel::fallbackColumn())
                    return;  // the unit's name and its fallback rank nothing
                bars_->setRankColumn(column);
                heatMap_->setRankColumn(column);
            });
    connect(bars_, &SensitivityBars::rowClicked, this, &SensitivityView::selectRow);
    connect(heatMap_, &SensitivityHeatMap::rowClicked, this, &SensitivityView::selectRow);
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex& i) {
                if (!showing_ && i.isValid()) selectRow(proxy_->mapToSource(i).row());
            });
    updateSummary();
}

QCustomPlot* SensitivityView::currentChart() const {
    return charts_->currentWidget() == heatMap_ ? static_cast<QCustomPlot*>(heatMap_)
                                                : static_cast<QCustomPlot*>(bars_);
}

void SensitivityView::showHeatMap(bool heatMap) {
    charts_->setCurrentWidget(heatMap ? static_cast<QWidget*>(heatMap_) : bars_);
}

void SensitivityView::setResult(SensitivityPtr result) {
    selected_ = -1;
    model_->setResult(std::move(result));
    bars_->rebuild();
    heatMap_->rebuild();
    updateSummary();
}

void SensitivityView::applyPalette() {
    bars_->applyPalette();
    heatMap_->applyPalette();
}

void SensitivityView::updateSummary() {
    const SensitivityPtr& r = model_->result();
    if (!r) {
        summary_->setText("No sensitivity measured yet: choose the settings and press Measure.");
        return;
    }
    QString text = "<b>" + sensitivityCaption(*model_) + "</b> — float perplexity " +
                   QString::number(r->pplFp, 'f', 4);
    if (r->config.mode == SensitivityMode::LeaveOneOut && r->fullyQuantized.valid)
        text += QString(", fully quantized %1 (KL %2)")
                    .arg(r->fullyQuantized.pplQ, 0, 'f', 4)
                    .arg(r->fullyQuantized.klMean, 0, 'g', 4);
    text += QString(" · %1 block passes (%2 without the cached float states), %3 s")
                .arg(r->blockPasses)
                .arg(r->blockPassesFull)
                .arg(r->seconds, 0, 'f', 1);
    summary_->setText(text);
}

void SensitivityView::selectRow(int row) {
    if (row < 0 || row >= model_->rowCount()) return;
    showRow(row);
    const UnitSensitivity& u = model_->unitAt(row);
    if (!u.layers.empty()) emit layerSelected(u.layers.front());
}

void SensitivityView::setSelectedLayer(const std::string& name) {
    const int row = model_->rowOfLayer(name);
    if (row >= 0 && row != selected_) showRow(row);
}

// Marks the row in the table and the bar, without emitting anything.
void SensitivityView::showRow(int row) {
    selected_ = row;
    showing_ = true;
    const QModelIndex i = proxy_->mapFromSource(model_->index(row, 0));
    table_->selectionModel()->setCurrentIndex(
        i, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    table_->scrollTo(i);
    showing_ = false;
    bars_->setSelectedRow(row);
}

}  // namespace ql
