// Model overview: every quantized layer of one run at once, as a blocks × projection kinds
// heat map (QCPColorMap) of a chosen metric — weight, output or activation SQNR, LLM.int8()'s
// outlier column fraction, kurtosis or absmax of the weights or of the inputs. A layer the
// run did not quantize (or a metric the run did not measure) is a transparent cell. Clicking
// a cell selects that layer; the selected one is framed.
#pragma once

#include "widgets/resultutils.h"

#include <qcustomplot.h>

class QComboBox;

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

    explicit ModelOverview(QWidget* parent = nullptr);
    void setRun(const RunPtr& run);
    void setMetric(Metric metric);
    Metric metric() const { return metric_; }
    void setSelectedLayer(const std::string& name);
    void applyPalette();

    QComboBox* metricBox() const { return metricBox_; }
    QCPColorMap* colorMap() const { return map_; }
    // The value drawn at (block, kind index 0..6: q k v o gate up down); NaN if none.
    double cellValue(int block, int kind) const;
    // The layer at a cell ("" if none), and what a click on that cell does.
    std::string layerAt(int block, int kind) const;
    void selectCell(int block, int kind);
    QString title() const;
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

    RunPtr run_;
    Metric metric_ = Metric::WeightSqnr;
    int blocks_ = 0;
    std::vector<std::string> layers_;  // [block * 7 + kind]
    QCPColorMap* map_ = nullptr;
    QCPColorScale* scale_ = nullptr;
    QCPTextElement* title_ = nullptr;
    QCPItemRect* frame_ = nullptr;
    QComboBox* metricBox_ = nullptr;
    std::string selected_;
};

}  // namespace ql
