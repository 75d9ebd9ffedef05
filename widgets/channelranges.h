// Per-channel ranges of the selected layer (issue 8): per input channel, the absmax and the
// mean |x| of the layer's calibration inputs and the absmax of the weight's columns, by
// channel index or sorted (largest first), on a log scale, with the outlier threshold line
// (LLM.int8()'s T where the run used it, else 6, bitsandbytes' default) and — for a
// SmoothQuant run — before or after smoothing (inputs / s, weight columns · s). The data is
// what the run stored (LayerResult::channel*); runs without it show why.
#pragma once

#include "widgets/resultutils.h"

#include <qcustomplot.h>

class QCheckBox;

namespace ql {

class ChannelRangesChart : public QCustomPlot {
    Q_OBJECT
public:
    explicit ChannelRangesChart(QWidget* parent = nullptr);
    void setRun(const RunPtr& run);
    void setLayer(const std::string& name);
    void setSorted(bool sorted);
    void setSmoothed(bool smoothed);  // after smoothing (SmoothQuant runs only)
    void applyPalette();

    QCheckBox* sortedBox() const { return sorted_; }
    QCheckBox* smoothedBox() const { return smoothed_; }
    QCPGraph* inputAbsMaxGraph() const { return inputMax_; }
    QCPGraph* inputMeanGraph() const { return inputMean_; }
    QCPGraph* weightAbsMaxGraph() const { return weightMax_; }
    QCPItemStraightLine* thresholdLine() const { return threshold_; }
    double threshold() const { return thresholdValue_; }
    QString title() const;
    QString message() const { return message_; }        // why nothing is drawn ("" when data)
    QCPItemText* messageItem() const { return note_; }  // the message as drawn (wrapped)
    QString dataCsv() const;

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void rebuild();
    void fitTitle();
    void fitNote();
    void fill(QCPGraph* graph, std::vector<double> values) const;

    RunPtr run_;
    std::string layer_;
    QCheckBox* sorted_ = nullptr;
    QCheckBox* smoothed_ = nullptr;
    QCPGraph* inputMax_ = nullptr;
    QCPGraph* inputMean_ = nullptr;
    QCPGraph* weightMax_ = nullptr;
    QCPItemStraightLine* threshold_ = nullptr;
    QCPTextElement* title_ = nullptr;
    QCPItemText* note_ = nullptr;
    double thresholdValue_ = 6.0;
    QString message_;
};

}  // namespace ql
