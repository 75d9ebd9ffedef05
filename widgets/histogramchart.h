// One histogram chart: "before" and "after" counts on the same bins, drawn as two
// semi-transparent bar series with a legend; an optional reference outline (e.g. the
// float model in an overlay of two quantized runs); optional quantization levels as
// vertical lines, drawn only while they are resolvable (a note otherwise); linear/log
// counts; wheel zoom and drag pan on x; a tooltip with bin range and counts; the data as
// CSV; an optional clipping range of quantized inputs (two dashed lines). The owner re-bins on zoom
// by listening to xRangeChanged().
#pragma once

#include "quant/histogram.h"

#include <qcustomplot.h>

#include <array>

namespace ql {

class FittedTitle;

class HistogramChart : public QCustomPlot {
    Q_OBJECT
public:
    explicit HistogramChart(QWidget* parent = nullptr);

    // `after` may be empty (single series). keepRange: leave the x view as is (re-binning).
    void setHistograms(const Histogram& before, const Histogram& after, const QString& beforeName,
                       const QString& afterName, bool keepRange = false);
    void clearHistograms(const QString& message);
    // An outline drawn over the bars (empty: none).
    void setReference(const Histogram& reference, const QString& name);
    const Histogram& reference() const { return hReference_; }
    QCPGraph* referenceGraph() const { return reference_; }
    void setLogScale(bool log);
    bool logScale() const { return log_; }
    // Quantization levels; only those in the visible x range are drawn, and none (with a
    // note instead) when more than kMaxDrawnLevels are visible: 255 INT8 levels would
    // merge into a grey band.
    void setLevels(const std::vector<double>& xs);  // empty: none
    static constexpr int kMaxDrawnLevels = 40;
    // The clipping range of quantized inputs as two dashed vertical lines with a legend
    // entry `name`; a non-finite lo/hi draws none and shows `note` (may be empty) instead.
    void setClipRange(double lo, double hi, const QString& name, const QString& note = {});
    bool hasClipRange() const { return clipLines_[0]->visible(); }
    double clipLine(int i) const { return clipLines_[size_t(i)]->point1->coords().x(); }
    QString clipNote() const { return clipNote_->visible() ? clipNote_->text() : QString(); }
    QCPGraph* clipLegendGraph() const { return clipLegend_; }
    // A title too wide for the chart breaks after its subject ("Weights — layer · run")
    // and is elided in the middle, so that neither end is cut off; title() is the whole.
    void setTitle(const QString& title);
    QString shownTitle() const;
    void setXLabel(const QString& label);
    void setColors(const QColor& before, const QColor& after);
    void resetView();  // x to the data range, y to fit

    QCPBars* beforeBars() const { return before_; }
    QCPBars* afterBars() const { return after_; }
    const Histogram& before() const { return hBefore_; }
    const Histogram& after() const { return hAfter_; }
    int levelCount() const { return int(levels_.size()); }           // levels set
    int drawnLevelCount() const { return int(levelLines_.size()); }  // lines on screen
    QString levelNote() const;  // empty while the levels are drawn
    QString title() const;
    // The plotted data: one row per bin (bin_lo, bin_hi, a column per series).
    QString dataCsv() const;
    // Tooltip text for plot x coordinate `key` (empty outside the data).
    QString binTooltip(double key) const;

signals:
    void xRangeChanged(double lo, double hi);

protected:
    void mouseMoveEvent(QMouseEvent* event) override;

private:
    static void fill(QCPBars* bars, const Histogram& h);
    void fitY();
    void drawLevels();

    QCPBars* before_ = nullptr;
    QCPBars* after_ = nullptr;
    QCPGraph* reference_ = nullptr;
    QCPTextElement* title_ = nullptr;
    FittedTitle* fittedTitle_ = nullptr;
    std::vector<double> levels_;
    std::vector<QCPItemStraightLine*> levelLines_;
    QCPItemText* levelNote_ = nullptr;
    std::array<QCPItemStraightLine*, 2> clipLines_{};
    QCPGraph* clipLegend_ = nullptr;  // no data: the legend entry of the clip lines
    QCPItemText* clipNote_ = nullptr;
    Histogram hBefore_, hAfter_, hReference_;
    bool log_ = false;
    bool settingRange_ = false;
};

}  // namespace ql
