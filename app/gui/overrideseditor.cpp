#include "app/gui/overrideseditor.h"

#include "base/error.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QTableWidget>
#include <QVBoxLayout>

namespace ql {

namespace {
const char* kFallbackRecipe = "rtn:int8:channel:sym";
const QColor kBadRow(255, 205, 205);
}  // namespace

OverridesEditor::OverridesEditor(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    table_ = new QTableWidget(0, ColumnCount);
    table_->setHorizontalHeaderLabels({"Layer pattern", "Recipe"});
    table_->horizontalHeaderItem(ColPattern)
        ->setToolTip("Glob on layer names (* and ?), e.g. model.layers.*.mlp.down_proj");
    table_->horizontalHeaderItem(ColRecipe)->setToolTip(
        "Weight-only recipe, e.g. rtn:int8:channel:sym, fp16, nf4:b64");
    table_->horizontalHeader()->setSectionResizeMode(ColPattern, QHeaderView::Stretch);
    table_->horizontalHeader()->setSectionResizeMode(ColRecipe, QHeaderView::Stretch);
    table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 8);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setMinimumHeight(90);
    table_->setMaximumHeight(150);
    add_ = new QPushButton("Add");
    add_->setToolTip(
        "Add a row with the recipe of the editor above (weight-only), then type its layer "
        "pattern. The last row matching a layer gives its recipe.");
    remove_ = new QPushButton("Remove");
    error_ = new QLabel;
    error_->setWordWrap(true);
    error_->setStyleSheet("color: #b00020;");
    error_->hide();
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(add_);
    buttons->addWidget(remove_);
    buttons->addStretch(1);
    layout->addWidget(table_);
    layout->addLayout(buttons);
    layout->addWidget(error_);
    connect(add_, &QPushButton::clicked, this, [this] {
        addRow({}, defaultRecipe());
        table_->setCurrentCell(table_->rowCount() - 1, ColPattern);
        table_->editItem(table_->item(table_->rowCount() - 1, ColPattern));
    });
    connect(remove_, &QPushButton::clicked, this, [this] { removeRow(table_->currentRow()); });
    connect(table_, &QTableWidget::itemChanged, this, [this] {
        if (!validating_) validate();
    });
    validate();
}

QString OverridesEditor::defaultRecipe() const {
    const QString text = recipeSource_ ? recipeSource_() : QString();
    try {
        if (!text.isEmpty()) {
            checkOverride({"*", text.toStdString()});
            return text;
        }
    } catch (const Error&) {
        // A fitted method or an activation side: not an override recipe.
    }
    return kFallbackRecipe;
}

std::vector<RecipeOverride> OverridesEditor::overrides() const {
    std::vector<RecipeOverride> out;
    for (int r = 0; r < table_->rowCount(); ++r) {
        auto text = [&](int c) {
            const QTableWidgetItem* item = table_->item(r, c);
            return item ? item->text().trimmed().toStdString() : std::string();
        };
        out.push_back({text(ColPattern), text(ColRecipe)});
    }
    return out;
}

void OverridesEditor::setOverrides(const std::vector<RecipeOverride>& overrides) {
    validating_ = true;
    table_->setRowCount(0);
    for (const RecipeOverride& o : overrides) {
        const int r = table_->rowCount();
        table_->insertRow(r);
        table_->setItem(r, ColPattern, new QTableWidgetItem(QString::fromStdString(o.pattern)));
        table_->setItem(r, ColRecipe, new QTableWidgetItem(QString::fromStdString(o.recipe)));
    }
    validating_ = false;
    validate();
}

void OverridesEditor::addRow(const QString& pattern, const QString& recipe) {
    std::vector<RecipeOverride> rows = overrides();
    rows.push_back({pattern.trimmed().toStdString(), recipe.trimmed().toStdString()});
    setOverrides(rows);
}

void OverridesEditor::removeRow(int row) {
    if (row < 0 || row >= table_->rowCount()) return;
    table_->removeRow(row);
    validate();
}

int OverridesEditor::rowCount() const {
    return table_->rowCount();
}

void OverridesEditor::setLayerNames(std::vector<std::string> names) {
    layerNames_ = std::move(names);
    validate();
}

// As the run checks it (checkOverride), plus: the pattern matches a layer of the open model
// (the run would refuse it later, after loading the model; here it is said while typing).
QString OverridesEditor::rowProblem(int row) const {
    if (row < 0 || row >= table_->rowCount()) return {};
    const RecipeOverride o = overrides()[size_t(row)];
    try {
        checkOverride(o);
        if (!layerNames_.empty()) layerRecipes(layerNames_, Recipe::parse("fp16"), {o});
    } catch (const Error& e) {
        QString why = QString::fromUtf8(e.what());
        if (!layerNames_.empty() && why.contains("matches none"))
            why = QString("override '%1': the pattern matches none of the model's %2 layers")
                      .arg(QString::fromStdString(overrideText(o)))
                      .arg(layerNames_.size());
        return why;
    }
    return {};
}

void OverridesEditor::validate() {
    validating_ = true;
    problem_.clear();
    for (int r = 0; r < table_->rowCount(); ++r) {
        const QString why = rowProblem(r);
        if (!why.isEmpty() && problem_.isEmpty())
            problem_ = QString("Override row %1: %2").arg(r + 1).arg(why);
        for (int c = 0; c < ColumnCount; ++c) {
            QTableWidgetItem* item = table_->item(r, c);
            if (!item) table_->setItem(r, c, item = new QTableWidgetItem);
            item->setBackground(why.isEmpty() ? QBrush() : QBrush(kBadRow));
            item->setForeground(why.isEmpty() ? QBrush() : QBrush(Qt::black));  // dark theme
            item->setToolTip(why);
        }
    }
    validating_ = false;
    error_->setText(problem_);
    error_->setVisible(!problem_.isEmpty());
    remove_->setEnabled(table_->rowCount() > 0);
    emit changed();
}

}  // namespace ql
