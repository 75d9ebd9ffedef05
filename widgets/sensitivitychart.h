// Sensitivity charts (issue 10), fed by SensitivityTableModel:
// - SensitivityBars: the units ranked by one column of the table (ΔKL mean by default, any
//   numeric column when the table is sorted by it), most sensitive first; clicking a bar
//   selects its unit (the selected one is drawn in the accent colour).
// - SensitivityHeatMap: for layer units, blocks × projection kinds of the same column;
//   clicking a cell selects that layer.
// The title says what was measured (recipe, mode, windows), so that two charts are only
// compared like with like.
#pragma once

#include <qcustomplot.h>

#include <string>
#include <vector>

namespace ql {

class FittedTitle;
class SensitivityTableModel;

// "rtn:int4:g128:asym · one-in · 4 × 256 tokens (gptq)", the recipe with the run names'
// fallback note ("→ channel ×35") when layers fell back; empty without a result.
QString sensitivityCaption(const SensitivityTableModel& model);

class SensitivityBars : public QCustomPlot {
    Q_OBJECT
public:
    explicit SensitivityBars(const SensitivityTableModel* model, QWidget* parent = nullptr);
    void setRankColumn(int column);  // a numeric column of the model
    int rankColumn() const { return column_; }
    void rebuild();       // after the model changed
    void applyPalette();  // after the application palette changed (View → Theme)
    void setSelectedRow(int row);
    // Model rows in the order drawn (left to right: largest value first, NaN last).
    const std::vector<int>& order() const { return order_; }
    QCPBars* bars() const { return bars_; }
    QString title() const;
    void selectBar(int index);  // what a click on bar `index` does (emits rowClicked)

    // Every how many bars a unit name is written (names of 35+ bars would overlap).
    int labelStep() const { return labelStep_; }

signals:
    void rowClicked(int row);

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void onClick(QCPAbstractPlottable* plottable, int dataIndex, QMouseEvent* event);
    void updateTicks();

    const SensitivityTableModel* model_;
    int column_;
    int selected_ = -1;
    int labelStep_ = 1;
    std::vector<int> order_;
    QCPBars* bars_ = nullptr;
    QCPBars* selectedBar_ = nullptr;
    FittedTitle* title_ = nullptr;
};

class SensitivityHeatMap : public QCustomPlot {
    Q_OBJECT
public:
    explicit SensitivityHeatMap(const SensitivityTableModel* model, QWidget* parent = nullptr);
    void setRankColumn(int column);
    void rebuild();
    void applyPalette();
    bool hasCells() const { return blocks_ > 0; }  // false unless the units are layers
    double cellValue(int block, int kind) const;   // NaN: no such layer unit
    QColor cellColor(int block, int kind) const;   // as drawn; invalid: no such layer unit
    int rowAt(int block, int kind) const;          // model row, -1 if none
    void selectCell(int block, int kind);          // what a click does (emits rowClicked)
    QCPColorMap* colorMap() const { return map_; }

signals:
    void rowClicked(int row);

private:
    void onClick(QMouseEvent* event);

    const SensitivityTableModel* model_;
    int column_;
    int blocks_ = 0;
    std::vector<int> rows_;  // [block * kinds + kind] -> model row or -1
    QCPColorMap* map_ = nullptr;
    QCPColorScale* scale_ = nullptr;
    QCPTextElement* title_ = nullptr;
};

}  // namespace ql
