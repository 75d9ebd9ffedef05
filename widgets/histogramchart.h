// One histogram chart: "before" and "after" counts on the same bins, drawn as two
// semi-transparent bar series with a legend; optional quantization levels as vertical
// lines; linear/log counts; wheel zoom and drag pan on x; a tooltip with bin range and
// counts. The owner re-bins on zoom by listening to xRangeChanged().
#pragma once

#include "quant/histogram.h"

#include <qcustomplot.h>

namespace ql {

class HistogramChart : public QCustomPlot {
    Q_OBJECT
public:
    explicit HistogramChart(QWidget* parent = nullptr);

    // `after` may be empty (single series). keepRange: leave the x view as is (re-binning).
    void setHistograms(const Histogram& before, const Histogram& after, const QString& beforeName,
                       const QString& afterName, bool keepRange = false);
    void clearHistograms(const QString& message);
    void setLogScale(bool log);
    bool logScale() const { return log_; }
    void setLevels(const std::vector<double>& xs);  // empty: none
    void setTitle(const QString& title);
    void setXLabel(const QString& label);
    void setColors(const QColor& before, const QColor& after);
    void resetView();  // x to the data range, y to fit

    QCPBars* beforeBars() const { return before_; }
    QCPBars* afterBars() const { return after_; }
    const Histogram& before() const { return hBefore_; }
    const Histogram& after() const { return hAfter_; }
    int levelCount() const { return int(levelLines_.size()); }
    // Tooltip text for plot x coordinate `key` (empty outside the data).
    QString binTooltip(double key) const;

signals:
    void xRangeChanged(double lo, double hi);

protected:
    void mouseMoveEvent(QMouseEvent* event) override;

private:
    static void fill(QCPBars* bars, const Histogram& h);
    void fitY();

    QCPBars* before_ = nullptr;
    QCPBars* after_ = nullptr;
    QCPTextElement* title_ = nullptr;
    std::vector<QCPItemStraightLine*> levelLines_;
    Histogram hBefore_, hAfter_;
    bool log_ = false;
    bool settingRange_ = false;
};

}  // namespace ql
