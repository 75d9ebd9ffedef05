#include "widgets/tableview.h"

#include "widgets/exportutils.h"
#include "widgets/layertablemodel.h"

#include <QAbstractProxyModel>
#include <QApplication>
#include <QClipboard>
#include <QContextMenuEvent>
#include <QFileDialog>
#include <QHeaderView>
#include <QKeyEvent>
#include <QMenu>
#include <QMessageBox>

namespace ql {
namespace {

LayerTableModel* layerModelOf(QAbstractItemModel* model) {
    while (model) {
        if (auto* layers = qobject_cast<LayerTableModel*>(model)) return layers;
        auto* proxy = qobject_cast<QAbstractProxyModel*>(model);
        model = proxy ? proxy->sourceModel() : nullptr;
    }
    return nullptr;
}

}  // namespace

TableView::TableView(QWidget* parent) : QTableView(parent) {
    setSelectionBehavior(QAbstractItemView::SelectRows);
    setAlternatingRowColors(false);
    horizontalHeader()->setDefaultAlignment(Qt::AlignLeft | Qt::AlignVCenter);
    horizontalHeader()->setHighlightSections(false);
    verticalHeader()->setVisible(false);
    verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    setWordWrap(false);
    horizontalHeader()->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(horizontalHeader(), &QWidget::customContextMenuRequested, this,
            [this](const QPoint& pos) {
                QMenu menu(this);
                buildHeaderMenu(&menu);
                if (!menu.isEmpty()) menu.exec(horizontalHeader()->mapToGlobal(pos));
            });
}

void TableView::buildHeaderMenu(QMenu* menu) {
    LayerTableModel* layers = layerModelOf(model());
    if (!layers) return;
    menu->addSection("Runs shown (the first one tints the rows)");
    for (int r = 0; r < int(layers->runs().size()); ++r) {
        QAction* a = menu->addAction(runDisplayName(*layers->runs()[size_t(r)]));
        a->setCheckable(true);
        a->setChecked(layers->runShown(r));
        connect(a, &QAction::toggled, layers, [layers, r](bool on) { layers->setRunShown(r, on); });
    }
    menu->addSection("Metrics shown");
    for (int m = 0; m < LayerTableModel::MetricCount; ++m) {
        const auto metric = LayerTableModel::Metric(m);
        QAction* a = menu->addAction(LayerTableModel::metricName(metric));
        a->setCheckable(true);
        a->setChecked(layers->metricShown(metric));
        connect(a, &QAction::toggled, layers,
                [layers, metric](bool on) { layers->setMetricShown(metric, on); });
    }
}

QString TableView::selectionAsTsv() const {
    if (!model()) return {};
    return modelToTsv(*model(),
                      selectionModel() ? selectionModel()->selectedIndexes() : QModelIndexList());
}

void TableView::copySelection() {
    QApplication::clipboard()->setText(selectionAsTsv());
}

void TableView::exportCsv() {
    if (!model()) return;
    const QString path =
        QFileDialog::getSaveFileName(this, "Export table as CSV", "table.csv", "CSV files (*.csv)");
    if (path.isEmpty()) return;
    const ExportResult r = writeTextFile(path, modelToCsv(*model()));
    if (!r.ok) QMessageBox::warning(this, "Export failed", r.error);
}

void TableView::keyPressEvent(QKeyEvent* event) {
    if (event->matches(QKeySequence::Copy)) {
        copySelection();
        return;
    }
    QTableView::keyPressEvent(event);
}

void TableView::contextMenuEvent(QContextMenuEvent* event) {
    QMenu menu(this);
    menu.addAction("Copy (tab-separated)", this, &TableView::copySelection);
    menu.addAction("Select all", this, &QTableView::selectAll);
    menu.addSeparator();
    menu.addAction("Export CSV…", this, &TableView::exportCsv);
    menu.exec(event->globalPos());
}

}  // namespace ql
