#include "app/gui/layerbrowser.h"

#include "io/dtype.h"
#include "widgets/layertablemodel.h"
#include "widgets/tableroles.h"
#include "widgets/tableview.h"

#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QTabWidget>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <map>

namespace ql {

namespace {
constexpr int kNameRole = Qt::UserRole + 10;
}

LayerBrowser::LayerBrowser(LayerTableModel* model, QWidget* parent)
    : QWidget(parent), model_(model) {
    summary_ = new QLabel;
    summary_->setWordWrap(true);
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    summary_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    filter_ = new QLineEdit;
    filter_->setPlaceholderText("Filter layers (e.g. mlp, 3.q_proj, down)");
    filter_->setClearButtonEnabled(true);

    tree_ = new QTreeWidget;
    tree_->setHeaderLabels({"Layer", "Shape"});
    tree_->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    tree_->header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    tree_->header()->setStretchLastSection(true);

    proxy_ = new QSortFilterProxyModel(this);
    proxy_->setSourceModel(model_);
    proxy_->setSortRole(SortRole);
    proxy_->setFilterKeyColumn(LayerTableModel::ColLayer);
    proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
    table_ = new TableView;
    table_->setModel(proxy_);
    table_->setSortingEnabled(true);
    table_->sortByColumn(-1, Qt::AscendingOrder);  // model order until the user sorts
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);

    tabs_ = new QTabWidget;
    tabs_->addTab(tree_, "Tree");
    tabs_->addTab(table_, "Table");

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(summary_);
    layout->addWidget(filter_);
    layout->addWidget(tabs_, 1);

    connect(filter_, &QLineEdit::textChanged, this, &LayerBrowser::setFilter);
    connect(tree_, &QTreeWidget::itemSelectionChanged, this, &LayerBrowser::onTreeSelection);
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            &LayerBrowser::onTableSelection);
    setSummary(nullptr);
}

QString LayerBrowser::summaryHtml(const ModelSummary& s) {
    std::map<std::string, int> dtypes;
    for (const TensorInfo& t : s.tensors) ++dtypes[dtypeName(t.dtype)];
    QStringList dt;
    for (const auto& [name, count] : dtypes)
        dt << QString("%1 ×%2").arg(QString::fromStdString(name)).arg(count);
    const ModelConfig& c = s.config;
    QString html =
        QString("<b>%1</b><br>").arg(QString(s.folder.c_str()).section('/', -1).toHtmlEscaped());
    html += "<table cellspacing=0 cellpadding=1>";
    auto row = [&](const QString& k, const QString& v) {
        html += QString("<tr><td>%1&nbsp;&nbsp;</td><td>%2</td></tr>").arg(k, v.toHtmlEscaped());
    };
    row("Architecture", QString::fromStdString(c.architectureName));
    row("Blocks", QString("%1 (hidden %2, MLP %3)")
                      .arg(c.numLayers)
                      .arg(c.hiddenSize)
                      .arg(c.intermediateSize));
    row("Heads",
        QString("%1 / %2 KV, head dim %3").arg(c.numHeads).arg(c.numKvHeads).arg(c.headDim));
    row("Vocabulary", QString::number(c.vocabSize));
    row("Parameters", formatCount(double(s.parameters)));
    row("Linear layers", QString::number(s.linears.size()));
    row("Dtypes", dt.join(", "));
    row("On disk", formatBytes(double(s.bytesOnDisk)));
    row("In memory", formatBytes(double(s.bytesInMemory)) + " (float32)");
    return html + "</table>";
}

void LayerBrowser::setSummary(const ModelSummary* summary) {
    summary_->setText(summary ? summaryHtml(*summary)
                              : QString("<i>No model open.</i><br>File → Open model…, drop a model "
                                        "folder here, or pass it on the command line."));
    rebuildTree(summary);
}

void LayerBrowser::rebuildTree(const ModelSummary* summary) {
    tree_->clear();
    if (!summary) return;
    std::map<int, QTreeWidgetItem*> blocks;
    for (const LinearLayerInfo& l : summary->linears) {
        QTreeWidgetItem*& block = blocks[l.block];
        if (!block) {
            block = new QTreeWidgetItem(tree_, {QString("Decoder block %1").arg(l.block)});
            block->setFlags(Qt::ItemIsEnabled);
        }
        auto* item =
            new QTreeWidgetItem(block, {QString::fromStdString(projKindName(l.kind)),
                                        QString("%1×%2").arg(l.outFeatures).arg(l.inFeatures)});
        item->setData(0, kNameRole, QString::fromStdString(l.name));
        item->setToolTip(0, QString::fromStdString(l.name));
    }
    tree_->expandAll();
}

void LayerBrowser::setFilter(const QString& text) {
    if (filter_->text() != text) filter_->setText(text);
    proxy_->setFilterFixedString(text);
    QTreeWidgetItemIterator it(tree_);
    for (; *it; ++it) {
        const QString name = (*it)->data(0, kNameRole).toString();
        if (!name.isEmpty())
            (*it)->setHidden(!name.contains(text, Qt::CaseInsensitive) &&
                             !(*it)->text(0).contains(text, Qt::CaseInsensitive));
    }
}

void LayerBrowser::selectLayer(const std::string& name) {
    if (selecting_) return;
    selecting_ = true;
    const QString qname = QString::fromStdString(name);
    QTreeWidgetItemIterator it(tree_);
    for (; *it; ++it)
        if ((*it)->data(0, kNameRole).toString() == qname) {
            tree_->setCurrentItem(*it);
            break;
        }
    const int row = model_->rowOfLayer(name);
    if (row >= 0) {
        const QModelIndex index = proxy_->mapFromSource(model_->index(row, 0));
        if (index.isValid()) {
            table_->setCurrentIndex(index);
            table_->scrollTo(index);
        }
    }
    selecting_ = false;
}

void LayerBrowser::onTreeSelection() {
    if (selecting_ || !tree_->currentItem()) return;
    const QString name = tree_->currentItem()->data(0, kNameRole).toString();
    if (!name.isEmpty()) emit layerSelected(name.toStdString());
}

void LayerBrowser::onTableSelection() {
    if (selecting_) return;
    const QString name = table_->currentIndex().data(LayerNameRole).toString();
    if (!name.isEmpty()) emit layerSelected(name.toStdString());
}

}  // namespace ql
