// The run panel's per-layer recipe overrides: a list of pattern → recipe rows, the GUI's
// repeated --override PATTERN=RECIPE (run/layer_overrides.h: the last matching row wins).
// Every row is checked as the run checks it (weight-only recipe, non-empty pattern) and,
// once a model is open, its pattern must match one of the model's layers; a bad row is
// tinted, its cell says why, and problem() names the first one so that the run panel can
// refuse to run with that reason.
#pragma once

#include "run/layer_overrides.h"

#include <QWidget>

#include <functional>
#include <string>
#include <vector>

class QLabel;
class QPushButton;
class QTableWidget;

namespace ql {

class OverridesEditor : public QWidget {
    Q_OBJECT
public:
    enum Column { ColPattern, ColRecipe, ColumnCount };

    explicit OverridesEditor(QWidget* parent = nullptr);

    // The rows as typed (trimmed), valid or not, in order.
    std::vector<RecipeOverride> overrides() const;
    void setOverrides(const std::vector<RecipeOverride>& overrides);
    void addRow(const QString& pattern, const QString& recipe);
    void removeRow(int row);
    int rowCount() const;

    // The layers a pattern must match (the open model's); empty: patterns are not matched.
    void setLayerNames(std::vector<std::string> names);
    // Where "Add" takes its recipe from (the panel's recipe editor); empty text or a recipe
    // an override cannot take falls back to INT8 per-channel.
    void setRecipeSource(std::function<QString()> source) { recipeSource_ = std::move(source); }

    // Empty when every row is valid, else the first problem: "Override row 2: ...".
    QString problem() const { return problem_; }
    QString rowProblem(int row) const;  // empty when the row is valid

    QTableWidget* table() const { return table_; }
    QPushButton* addButton() const { return add_; }
    QPushButton* removeButton() const { return remove_; }
    QLabel* errorLabel() const { return error_; }

signals:
    void changed();  // rows edited, added or removed (problem() is up to date)

private:
    void validate();
    QString defaultRecipe() const;

    QTableWidget* table_ = nullptr;
    QPushButton *add_ = nullptr, *remove_ = nullptr;
    QLabel* error_ = nullptr;
    std::vector<std::string> layerNames_;
    std::function<QString()> recipeSource_;
    QString problem_;
    bool validating_ = false;
};

}  // namespace ql
