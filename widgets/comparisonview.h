// Side-by-side comparison of two runs (typically INT8 and INT4): the same layer in both,
// histograms next to each other with synchronised axes and common bins (or overlaid),
// and a metric table with a column per run and a delta column (sortable). Titles name the
// layer; the overlay draws both quantized runs over the float reference; a run without
// captured activations/gradients says so instead of showing blank axes. The summary line
// compares perplexity only between runs evaluated the same way.
#pragma once

#include "widgets/comparisontablemodel.h"
#include "widgets/histogramchart.h"

#include <QFutureWatcher>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QSortFilterProxyModel;
class QStackedWidget;

namespace ql {

class TableView;

class ComparisonView : public QWidget {
    Q_OBJECT
public:
    enum Kind { Weights, Activations, Gradients };
    explicit ComparisonView(QWidget* parent = nullptr);
    ~ComparisonView() override;

    void setRuns(const RunList& runs);
    void setPair(int a, int b);
    void setLayer(const std::string& name);
    void setKind(Kind kind);
    void setOverlay(bool overlay);
    void setLogScale(bool log);
    void applyPalette();

    RunPtr runA() const;
    RunPtr runB() const;
    HistogramChart* chartA() const { return chartA_; }
    HistogramChart* chartB() const { return chartB_; }
    HistogramChart* overlayChart() const { return overlay_; }
    // The chart on screen, for the main window's Export chart (Ctrl+E): the overlay when
    // it is shown, else chart A of the side-by-side pair.
    QCustomPlot* currentExportWidget() const;
    QString summaryText() const;
    QCheckBox* logScaleBox() const { return log_; }
    ComparisonTableModel* tableModel() const { return model_; }
    QSortFilterProxyModel* sortModel() const { return proxy_; }
    TableView* table() const { return table_; }
    bool rebinPending() const { return inFlight_; }

signals:
    void layerSelected(const std::string& name);
    void statusMessage(const QString& text);

private:
    struct Common {
        int generation = 0;
        Histogram beforeA, afterA, beforeB, afterB;
        bool ok = false;
        QString error;
    };
    void refresh();
    void showHistograms(const Histogram& bA, const Histogram& aA, const Histogram& bB,
                        const Histogram& aB);
    void showMissingCaptures(const LayerResult& la, const LayerResult& lb);
    bool captured(const LayerResult& l) const;
    QString layerTitle() const;
    void exportInteractive();
    void startCommonBins();
    void syncAxes(HistogramChart* from, HistogramChart* to);

    RunList runs_;
    std::string layer_;
    Kind kind_ = Weights;
    QComboBox *comboA_ = nullptr, *comboB_ = nullptr, *kindCombo_ = nullptr;
    QCheckBox* overlayBox_ = nullptr;
    QCheckBox* log_ = nullptr;
    QSortFilterProxyModel* proxy_ = nullptr;
    QLabel* summary_ = nullptr;
    QStackedWidget* stack_ = nullptr;
    HistogramChart *chartA_ = nullptr, *chartB_ = nullptr, *overlay_ = nullptr;
    ComparisonTableModel* model_ = nullptr;
    TableView* table_ = nullptr;
    QFutureWatcher<Common>* watcher_ = nullptr;
    int generation_ = 0;
    bool syncing_ = false;
    bool inFlight_ = false;  // a re-binning runs or its result is not applied yet
};

}  // namespace ql
