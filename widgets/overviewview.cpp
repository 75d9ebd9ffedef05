#include "widgets/overviewview.h"

#include "widgets/flaggedlayersmodel.h"
#include "widgets/modeloverview.h"
#include "widgets/tableroles.h"
#include "widgets/tableview.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QVBoxLayout>

namespace ql {

OverviewView::OverviewView(QWidget* parent) : QSplitter(Qt::Horizontal, parent) {
    chart_ = new ModelOverview;
    table_ = new TableView;
    table_->setModel(chart_->flaggedModel());
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    // The value always in view: shown first, the long layer name last, taking what is left
    // and elided in the middle (block and kind say which it is). Only the view's order:
    // the model's columns (and the CSV) stay layer, block, kind, value.
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->horizontalHeader()->moveSection(FlaggedLayersModel::ColValue, 0);
    table_->horizontalHeader()->moveSection(
        table_->horizontalHeader()->visualIndex(FlaggedLayersModel::ColLayer), 3);
    table_->horizontalHeader()->setSectionResizeMode(FlaggedLayersModel::ColLayer,
                                                     QHeaderView::Stretch);
    table_->setTextElideMode(Qt::ElideMiddle);
    table_->verticalHeader()->setVisible(false);
    table_->setToolTip(
        "Flagged layers, worst first: click a row to select the layer; "
        "right click to copy or export CSV");
    label_ = new QLabel;
    auto* side = new QWidget;
    side->setMinimumWidth(340);  // layer (elided), block, kind and the value in view
    auto* layout = new QVBoxLayout(side);
    layout->setContentsMargins(4, 2, 2, 2);
    auto* top = new QHBoxLayout;
    top->addWidget(chart_->thresholdBox());  // beside the list it filters, not over the title
    top->addWidget(label_, 1);
    layout->addLayout(top);
    layout->addWidget(table_, 1);
    addWidget(chart_);
    addWidget(side);
    setStretchFactor(0, 3);
    setStretchFactor(1, 1);
    setSizes({700, 300});
    const auto relabel = [this] { label_->setText(chart_->flaggedSummary()); };
    connect(chart_->flaggedModel(), &QAbstractItemModel::modelReset, this, relabel);
    relabel();
    connect(table_, &QAbstractItemView::clicked, this, &OverviewView::onRowClicked);
    connect(table_, &QAbstractItemView::activated, this, &OverviewView::onRowClicked);
}

void OverviewView::onRowClicked(const QModelIndex& index) {
    chart_->selectLayer(index.data(LayerNameRole).toString().toStdString());
}

}  // namespace ql
