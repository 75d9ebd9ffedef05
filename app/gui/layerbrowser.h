// Left panel: the model summary and its layers, as a tree (decoder block -> projection)
// and as a sortable, filterable table whose columns are each run's metrics.
#pragma once

#include "model/model.h"

#include <QWidget>

class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTabWidget;
class QTreeWidget;
class QTreeWidgetItem;

namespace ql {

class LayerTableModel;
class TableView;

class LayerBrowser : public QWidget {
    Q_OBJECT
public:
    LayerBrowser(LayerTableModel* model, QWidget* parent = nullptr);

    void setSummary(const ModelSummary* summary);  // nullptr: no model
    void selectLayer(const std::string& name);
    void setFilter(const QString& text);
    QTreeWidget* tree() const { return tree_; }
    TableView* table() const { return table_; }
    QSortFilterProxyModel* proxy() const { return proxy_; }

    static QString summaryHtml(const ModelSummary& s);

signals:
    void layerSelected(const std::string& name);

private:
    void rebuildTree(const ModelSummary* summary);
    void onTreeSelection();
    void onTableSelection();

    LayerTableModel* model_ = nullptr;
    QLabel* summary_ = nullptr;
    QLineEdit* filter_ = nullptr;
    QTabWidget* tabs_ = nullptr;
    QTreeWidget* tree_ = nullptr;
    TableView* table_ = nullptr;
    QSortFilterProxyModel* proxy_ = nullptr;
    bool selecting_ = false;
};

}  // namespace ql
