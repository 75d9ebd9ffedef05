#include "widgets/tableview.h"

#include "widgets/exportutils.h"

#include <QApplication>
#include <QClipboard>
#include <QContextMenuEvent>
#include <QFileDialog>
#include <QHeaderView>
#include <QKeyEvent>
#include <QMenu>
#include <QMessageBox>

namespace ql {

TableView::TableView(QWidget* parent) : QTableView(parent) {
    setSelectionBehavior(QAbstractItemView::SelectRows);
    setAlternatingRowColors(false);
    horizontalHeader()->setDefaultAlignment(Qt::AlignLeft | Qt::AlignVCenter);
    horizontalHeader()->setHighlightSections(false);
    verticalHeader()->setVisible(false);
    verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    setWordWrap(false);
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
