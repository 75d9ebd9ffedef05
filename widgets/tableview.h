// A table view with copy (Ctrl+C, context menu) as tab-separated text and CSV export.
// Over a layer table (directly or through proxies) the header's context menu chooses the
// runs and metrics shown.
#pragma once

#include <QTableView>

class QMenu;

namespace ql {

class TableView : public QTableView {
    Q_OBJECT
public:
    explicit TableView(QWidget* parent = nullptr);
    // Text the copy action puts on the clipboard (the selection, or everything).
    QString selectionAsTsv() const;
    void copySelection();
    void exportCsv();  // asks for a file name
    // Fills the header's context menu (what a right click on the header shows).
    void buildHeaderMenu(QMenu* menu);

protected:
    void keyPressEvent(QKeyEvent* event) override;
    void contextMenuEvent(QContextMenuEvent* event) override;
};

}  // namespace ql
