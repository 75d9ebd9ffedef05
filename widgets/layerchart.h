// SQNR across layers: one series per run (weight SQNR solid, output SQNR dashed),
// labelled reference lines (10, 20 and 30 dB by default, adjustable from the small
// "dB lines" button on the chart); clicking a point selects that layer.
#pragma once

#include "widgets/resultutils.h"

#include <qcustomplot.h>

class QDoubleSpinBox;
class QToolButton;

namespace ql {

class LayerChart : public QCustomPlot {
    Q_OBJECT
public:
    explicit LayerChart(QWidget* parent = nullptr);
    void setRuns(const RunList& runs);
    void setSelectedLayer(const std::string& name);
    void setShowOutputSqnr(bool show);
    void applyPalette();

    // Reference lines in dB: critical below the first, warning below the second, good from
    // the third. Sorted on set; the defaults are 10, 20 and 30 dB.
    void setThresholds(std::vector<double> db);
    const std::vector<double>& thresholds() const { return thresholdDb_; }
    const std::vector<QCPItemStraightLine*>& thresholdLines() const { return thresholds_; }
    const std::vector<QCPItemText*>& thresholdLabels() const { return thresholdLabels_; }
    QToolButton* thresholdButton() const { return thresholdButton_; }
    const std::vector<QDoubleSpinBox*>& thresholdEditors() const { return thresholdEditors_; }

    QString title() const;
    // Per layer (full name) a weight and an output SQNR column per run.
    QString dataCsv() const;
    const std::vector<std::string>& layerOrder() const { return order_; }
    // The weight-SQNR graph of run i (tests read its data).
    QCPGraph* weightGraph(int run) const;
    // Selects the layer at x index (what a click on a point does).
    void selectIndex(int index);

signals:
    void layerClicked(const std::string& name);

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void rebuild();
    void buildThresholdButton();
    void addThresholdLines();
    QSharedPointer<QCPAxisTickerText> sparseTicker(const QSharedPointer<QCPAxisTickerText>& all);
    void onClick(QCPAbstractPlottable* plottable, int dataIndex, QMouseEvent* event);

    RunList runs_;
    std::vector<std::string> order_;
    std::vector<QCPGraph*> weightGraphs_;
    std::vector<QCPItemStraightLine*> thresholds_;
    std::vector<QCPItemText*> thresholdLabels_;
    std::vector<double> thresholdDb_ = {10, 20, 30};
    QCPTextElement* title_ = nullptr;
    QToolButton* thresholdButton_ = nullptr;
    std::vector<QDoubleSpinBox*> thresholdEditors_;
    QCPItemStraightLine* cursor_ = nullptr;
    std::string selected_;
    bool showOutput_ = true;
};

}  // namespace ql
