// Model overview: every quantized layer of one run at once, as a blocks × projection kinds
// heat map (QCPColorMap) of a chosen metric — weight, output or activation SQNR, LLM.int8()'s
// outlier column fraction, kurtosis or absmax of the weights or of the inputs. A layer the
// run did not quantize (or a metric the run did not measure) is a transparent cell. Clicking
// a cell selects that layer; the selected one is framed. A threshold per metric (spin box,
// in the metric's unit) flags layers: SQNR metrics below it, the others above it. Flagged
// cells carry a dashed inner frame and are listed worst first in flaggedModel() (shown
// beside the map by OverviewView).
#pragma once

#include "widgets/flaggedlayersmodel.h"
#include "widgets/resultutils.h"

#include <qcustomplot.h>

#include <array>

class QComboBox;
class QDoubleSpinBox;

namespace ql {

class ModelOverview : public QCustomPlot {
    Q_OBJECT
public:
    enum class Metric {
        WeightSqnr,
        OutputSqnr,
        ActivationSqnr,
        OutlierFraction,
        WeightKurtosis,
        ActivationKurtosis,
        WeightAbsMax,
        ActivationAbsMax,
    };
    static QStringList metricNames();  // in Metric order, as the box lists them
    // The metric of one layer; NaN where the run has none.
    static double metricValue(const LayerResult& layer, Metric metric);
    static constexpr int kMetricCount = 8;
    // Flagging rule: SQNR metrics flag values below the threshold, the others values above
    // it; NaN (not measured) and infinite SQNR (exact) are never flagged.
    static bool flagsBelow(Metric metric);
    static double defaultThreshold(Metric metric);
    static bool isFlagged(double value, Metric metric, double threshold);

    explicit ModelOverview(QWidget* parent = nullptr);
    void setRun(const RunPtr& run);
    void setMetric(Metric metric);
    Metric metric() const { return metric_; }
    void setSelectedLayer(const std::string& name);
    // Selects the layer as a click on its cell does (emits layerClicked).
    void selectLayer(const std::string& name);
    void applyPalette();
    // The current metric's threshold (each metric keeps its own).
    void setThreshold(double value);
    double threshold() const { return thresholds_[size_t(metric_)]; }
    const std::vector<FlaggedLayer>& flagged() const { return flaggedModel_->rows(); }
    FlaggedLayersModel* flaggedModel() const { return flaggedModel_; }
    QString flaggedSummary() const;  // "3 layers below 20 dB"
    int markedCellCount() const { return int(marks_.size()); }

    QComboBox* metricBox() const { return metricBox_; }
    // On the chart (top right) unless a host view moves it into its own layout.
    QDoubleSpinBox* thresholdBox() const { return thresholdBox_; }
    QCPColorMap* colorMap() const { return map_; }
    // The value drawn at (block, kind index 0..6: q k v o gate up down); NaN if none.
    double cellValue(int block, int kind) const;
    // The layer at a cell ("" if none), and what a click on that cell does.
    std::string layerAt(int block, int kind) const;
    void selectCell(int block, int kind);
    QString title() const;
    QCPTextElement* titleElement() const { return title_; }  // as drawn (fitted)
    QString dataCsv() const;  // block, kind, layer, metric value per quantized layer

signals:
    void layerClicked(const std::string& name);

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void rebuild();
    void onClick(QMouseEvent* event);
    void placeSelection();
    void fitTitle();
    void placeBoxes();
    bool thresholdOnChart() const;
    void configureThresholdBox();
    void markFlagged();

    RunPtr run_;
    Metric metric_ = Metric::WeightSqnr;
    int blocks_ = 0;
    std::vector<std::string> layers_;  // [block * 7 + kind]
    QCPColorMap* map_ = nullptr;
    QCPColorScale* scale_ = nullptr;
    QCPTextElement* title_ = nullptr;
    QCPItemRect* frame_ = nullptr;
    QComboBox* metricBox_ = nullptr;
    QDoubleSpinBox* thresholdBox_ = nullptr;
    FlaggedLayersModel* flaggedModel_ = nullptr;
    std::vector<QCPItemRect*> marks_;
    std::array<double, kMetricCount> thresholds_{};
    std::string selected_;
};

}  // namespace ql
