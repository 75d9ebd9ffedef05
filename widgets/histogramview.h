// Histograms of the selected layer in three tabs: weights (before/after, error w - ŵ,
// quantization levels of one row/group), activations (layer input and output, float vs
// quantized model) and weight gradients. Zooming the weight charts re-bins the real
// weights on the visible range (ql::rebinWeights, debounced, off the GUI thread).
#pragma once

#include "widgets/histogramchart.h"
#include "widgets/resultutils.h"

#include <QFutureWatcher>
#include <QWidget>

class QCheckBox;
class QLabel;
class QSpinBox;
class QTabWidget;
class QTimer;

namespace ql {

class HistogramView : public QWidget {
    Q_OBJECT
public:
    enum Tab { WeightsTab, ActivationsTab, GradientsTab };
    explicit HistogramView(QWidget* parent = nullptr);
    ~HistogramView() override;

    void setRun(RunPtr run);
    void setLayer(const std::string& name);
    const std::string& layer() const { return layer_; }
    const RunPtr& run() const { return run_; }

    void setLogScale(bool log);
    void setBinCount(int bins);
    int binCount() const;
    void setLevelGroup(int row, int group);
    void setCurrentTab(Tab tab);
    void applyPalette();

    HistogramChart* weightChart() const { return weights_; }
    HistogramChart* errorChart() const { return error_; }
    HistogramChart* activationChart() const { return activations_; }
    HistogramChart* outputChart() const { return outputs_; }
    HistogramChart* gradientChart() const { return gradients_; }
    QList<HistogramChart*> charts() const;
    QTabWidget* tabs() const { return tabs_; }
    QSpinBox* binsBox() const { return bins_; }
    // Shown when more bins are asked than activations/gradients were stored with.
    QLabel* binsNote() const { return binsNote_; }
    bool rebinPending() const;
    // The quantization levels drawn for the selected row/group (empty if none apply).
    std::vector<double> levels() const;

    // NF4/FP4: codebook values times a per-block absmax, no uniform grid (no level lines).
    static bool isCodebookLayer(const LayerResult& l);

    // Stored bins merged down to about `bins` (activations/gradients have no raw data).
    static Histogram mergeBins(const Histogram& h, int bins);

signals:
    void statusMessage(const QString& text);
    void logScaleChanged(bool log);

private:
    struct Rebinned {
        int generation = 0;
        Histogram before, after, error;
        QString errorMessage;
    };
    QWidget* buildControls();
    void refresh();
    void refreshWeights(const LayerResult& l);
    void refreshActivations(const LayerResult& l);
    void showClipRange(const LayerResult& l);
    void refreshGradients(const LayerResult& l);
    void refreshLevels();
    void updateBinsNote(const LayerResult* l);
    QString titleSuffix(const LayerResult& l) const;
    void scheduleRebin();
    void startRebin();
    void rebinFinished();
    void rebinActivations();

    RunPtr run_;
    std::string layer_;
    QTabWidget* tabs_ = nullptr;
    HistogramChart *weights_ = nullptr, *error_ = nullptr, *activations_ = nullptr,
                   *outputs_ = nullptr, *gradients_ = nullptr;
    QCheckBox* log_ = nullptr;
    QCheckBox* showLevels_ = nullptr;
    QSpinBox* bins_ = nullptr;
    QSpinBox* row_ = nullptr;
    QSpinBox* group_ = nullptr;
    QLabel* info_ = nullptr;
    QLabel* binsNote_ = nullptr;
    QTimer* rebinTimer_ = nullptr;
    QTimer* activationTimer_ = nullptr;
    QFutureWatcher<Rebinned>* watcher_ = nullptr;
    int generation_ = 0;
    bool rebinQueued_ = false;
    bool inFlight_ = false;  // a re-binning runs or its result is not applied yet
};

}  // namespace ql
