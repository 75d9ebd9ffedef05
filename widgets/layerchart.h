// SQNR across layers: one series per run (weight SQNR solid, output SQNR dashed),
// threshold lines at 10, 20 and 30 dB; clicking a point selects that layer.
#pragma once

#include "widgets/resultutils.h"

#include <qcustomplot.h>

namespace ql {

class LayerChart : public QCustomPlot {
    Q_OBJECT
public:
    explicit LayerChart(QWidget* parent = nullptr);
    void setRuns(const RunList& runs);
    void setSelectedLayer(const std::string& name);
    void setShowOutputSqnr(bool show);
    void applyPalette();

    const std::vector<std::string>& layerOrder() const { return order_; }
    // The weight-SQNR graph of run i (tests read its data).
    QCPGraph* weightGraph(int run) const;
    // Selects the layer at x index (what a click on a point does).
    void selectIndex(int index);

signals:
    void layerClicked(const std::string& name);

private:
    void rebuild();
    void onClick(QCPAbstractPlottable* plottable, int dataIndex, QMouseEvent* event);

    RunList runs_;
    std::vector<std::string> order_;
    std::vector<QCPGraph*> weightGraphs_;
    std::vector<QCPItemStraightLine*> thresholds_;
    QCPItemStraightLine* cursor_ = nullptr;
    std::string selected_;
    bool showOutput_ = true;
};

}  // namespace ql
