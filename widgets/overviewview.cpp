#include "widgets/overviewview.h"

#include "widgets/modeloverview.h"
#include "widgets/tableroles.h"
#include "widgets/tableview.h"

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
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->verticalHeader()->setVisible(false);
    table_->setToolTip(
        "Flagged layers, worst first: click a row to select the layer; "
        "right click to copy or export CSV");
    label_ = new QLabel;
    auto* side = new QWidget;
    auto* layout = new QVBoxLayout(side);
    layout->setContentsMargins(4, 2, 2, 2);
    layout->addWidget(label_);
    layout->addWidget(table_, 1);
    addWidget(chart_);
    addWidget(side);
    setStretchFactor(0, 3);
    setStretchFactor(1, 2);
    const auto relabel = [this] { label_->setText("Flagged: " + chart_->flaggedSummary()); };
    connect(chart_->flaggedModel(), &QAbstractItemModel::modelReset, this, relabel);
    relabel();
    connect(table_, &QAbstractItemView::clicked, this, &OverviewView::onRowClicked);
    connect(table_, &QAbstractItemView::activated, this, &OverviewView::onRowClicked);
}

void OverviewView::onRowClicked(const QModelIndex& index) {
    chart_->selectLayer(index.data(LayerNameRole).toString().toStdString());
}

}  // namespace ql
