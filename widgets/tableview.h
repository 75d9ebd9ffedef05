// A table view with copy (Ctrl+C, context menu) as tab-separated text and CSV export.
#pragma once

#include <QTableView>

namespace ql {

class TableView : public QTableView {
    Q_OBJECT
public:
    explicit TableView(QWidget* parent = nullptr);
    // Text the copy action puts on the clipboard (the selection, or everything).
    QString selectionAsTsv() const;
    void copySelection();
    void exportCsv();  // asks for a file name

protected:
    void keyPressEvent(QKeyEvent* event) override;
    void contextMenuEvent(QContextMenuEvent* event) override;
};

}  // namespace ql
