// The QuantLens workbench window: layer browser (left), charts (centre top), tables
// (centre bottom), runs and the run panel (right dock). Models open and runs execute off
// the GUI thread; everything the views show is an immutable RunResult.
#pragma once

#include "app/gui/htmlreport.h"
#include "app/gui/measurejob.h"
#include "app/gui/runjob.h"
#include "model/model.h"
#include "run/sensitivity.h"
#include "run/sweep.h"
#include "widgets/resultutils.h"

#include <QFutureWatcher>
#include <QHash>
#include <QMainWindow>
#include <QSet>

#include <atomic>
#include <functional>
#include <memory>

class QAction;
class QLabel;
class QListWidget;
class QMenu;
class QPlainTextEdit;
class QTabWidget;
class QCustomPlot;

namespace ql {

class ComparisonView;
class GeneratePage;
class PreviewJob;
class SweepView;
class HistogramView;
class LayerBrowser;
class LayerChart;
class LayerTableModel;
class ChannelRangesChart;
class ModelOverview;
class MemoryTableModel;
class PerplexityTableModel;
class RunPanel;
class PlanPage;
class SensitivityPage;
class SummaryCharts;
class TableView;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    enum ChartTab {
        HistogramsTab,
        SqnrTab,
        SummaryTab,
        CompareTab,
        OverviewTab,
        ChannelsTab,
        SensitivityTab,
        PlanTab,
        SweepTab,
        GenerateTab
    };
    enum TableTab { SqnrTableTab, MemoryTableTab, PerplexityTableTab };

    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Model: inspected off the GUI thread; modelOpened(ok) tells the outcome.
    void openModel(const QString& folder);
    bool isOpeningModel() const;
    const ModelSummary* summary() const { return summary_.get(); }

    // Runs
    bool startRun(const RunConfig& config);  // modelDir defaults to the open model
    void cancelRun();
    bool isRunning() const;
    void addRun(RunPtr run);
    void removeRun(int index);
    // Saves run `index` into `folder`; a run already there is replaced only if confirm()
    // says so, anything else there never (false, *error says why).
    bool saveRunTo(int index, const QString& folder, QString* error = nullptr);
    bool openRunFrom(const QString& folder, QString* error = nullptr);
    const RunList& runs() const { return runs_; }
    int currentRunIndex() const { return currentRun_; }
    void setCurrentRun(int index);

    // Sensitivity (mainwindow_sensitivity.cpp): the page's settings plus the open model,
    // the run panel's texts, calibration and layer selection; sensitivityFinished(ok).
    bool startSensitivity();
    void cancelSensitivity();
    bool isMeasuringSensitivity() const;
    SensitivityPage* sensitivityPage() const { return sensitivityPage_; }
    MeasureJob* sensitivityJob() const { return sensitivityJob_; }
    // What startSensitivity measures (throws nothing; empty modelDir without a model).
    SensitivityConfig sensitivityConfig() const;

    // Plan (mainwindow_sensitivity.cpp): measure the page's candidates on a background
    // thread (planFinished(ok)); runSelectedPlan() puts the selected plan into the run panel
    // and starts it (false when there is none or a run is going).
    bool startPlan();
    void cancelPlan();
    bool isPlanning() const;
    bool runSelectedPlan();
    PlanPage* planPage() const { return planPage_; }
    // Live weights-only preview (mainwindow_preview.cpp): while the open model has no run,
    // every recipe edit re-runs the weights-only analysis in the background (debounced,
    // the previous one cancelled) and the SQNR chart, layer table, histograms, overview and
    // memory table show it under a "weights-only preview" marker. A run's results are
    // never replaced by a preview: with any run present, previews stop.
    PreviewJob* previewJob() const { return preview_; }
    RunPtr previewRun() const { return previewRun_; }  // null when none is shown
    QLabel* previewMarker() const { return previewMarker_; }
    void requestPreview();
    // Weight sweep tab: sweepWeights of the recipes in the background (the run panel's layer
    // selection and bins); sweepFinished(ok) when it ends. False if one is running already.
    bool startSweep(const QStringList& recipes);
    void cancelSweep();
    bool isSweeping() const;
    SweepView* sweepView() const { return sweep_; }
    // Generate tab: the open model and the runs, text side by side (the page runs its job).
    GeneratePage* generatePage() const { return generatePage_; }

    // Selection and views
    void selectLayer(const std::string& name);
    const std::string& currentLayer() const { return layer_; }
    void setChartTab(ChartTab tab);
    void setTableTab(TableTab tab);
    void setDarkTheme(bool dark);
    bool darkTheme() const { return dark_; }
    QStringList exportReportTo(const QString& folder);
    QCustomPlot* currentChart() const;  // the chart the Export chart action exports
    // Default export file stem and caption of a chart: by chart, layer and run.
    struct ChartName {
        QString stem;
        QString caption;    // chart · layer · run (report figure captions)
        QString titleLine;  // layer · run, added under the chart's own title when exported
    };
    ChartName chartName(QCustomPlot* plot) const;

    RunPanel* runPanel() const { return runPanel_; }
    RunJob* runJob() const { return job_; }
    LayerBrowser* layerBrowser() const { return browser_; }
    LayerTableModel* layerModel() const { return layerModel_; }
    MemoryTableModel* memoryModel() const { return memoryModel_; }
    PerplexityTableModel* perplexityModel() const { return pplModel_; }
    TableView* sqnrTable() const { return sqnrTable_; }
    TableView* memoryTable() const { return memoryTable_; }
    TableView* perplexityTable() const { return pplTable_; }
    HistogramView* histogramView() const { return histograms_; }
    LayerChart* layerChart() const { return layerChart_; }
    ModelOverview* modelOverview() const { return overview_; }
    ChannelRangesChart* channelRanges() const { return channels_; }
    SummaryCharts* summaryCharts() const { return summaryCharts_; }
    ComparisonView* comparisonView() const { return comparison_; }
    QListWidget* runList() const { return runList_; }
    QPlainTextEdit* logView() const { return log_; }
    QLabel* layerInfo() const { return layerInfo_; }             // status bar: the selected layer
    QAction* logScaleAction() const { return logScaleAction_; }  // View → Log counts
    QString logText() const;
    void log(const QString& line);
    // false: problems only go to the log, never to a modal message box (tests, scripts).
    void setInteractive(bool interactive) { interactive_ = interactive; }
    void showStatus(const QString& text);  // the latest outcome, replacing older ones

    // Autosave: every finished run is saved (off the GUI thread) into autosaveDir()/<id>
    // and restoreAutosavedRuns() brings them back at the next start; removing a run
    // removes its autosave. Default: QStandardPaths::AppDataLocation/autosave; empty = off.
    void setAutosaveDir(const QString& dir) { autosaveDir_ = dir; }
    // Autosaves stop at `bytes` in total (default 2 GiB): a run that would pass it is not
    // autosaved, and the log says so. autosaveBytes(): the estimated size of a run folder.
    void setAutosaveLimit(qint64 bytes) { autosaveLimit_ = bytes; }
    static qint64 autosaveBytes(const RunResult& run);
    QString autosaveDir() const { return autosaveDir_; }
    void restoreAutosavedRuns();  // asynchronous: autosaveRestored(count) when done
    bool isAutosaving() const;
    QString autosaveFolderOf(int index) const;  // empty when the run has no autosave

    // Unsaved runs: finished in this or an earlier session, never saved by the user.
    int unsavedRunCount() const;
    void markRunSaved(int index);

    // Closing with unsaved runs or during a run asks first. The prompt is replaceable so
    // that tests (and scripts) answer without a modal dialog.
    // Keep: quit and leave unsaved runs in the autosave (unattended sessions only).
    enum class CloseChoice { SaveAll, Discard, Cancel, Keep };
    struct CloseAnswer {
        CloseChoice choice = CloseChoice::Cancel;
        QString folder;  // SaveAll: each unsaved run goes to <folder>/<run id>
    };
    using ClosePrompt = std::function<CloseAnswer(int unsavedRuns, bool running)>;
    void setClosePrompt(ClosePrompt prompt) { closePrompt_ = std::move(prompt); }
    // Asked before a saved run or report is replaced; true replaces it. Default: a
    // QMessageBox question (false when not interactive). Tests install their own answer.
    using ConfirmHook = std::function<bool(const QString& title, const QString& question)>;
    void setConfirmHook(ConfirmHook hook) { confirmHook_ = std::move(hook); }

signals:
    void modelOpened(bool ok);
    void runFinished(bool ok);
    void sensitivityFinished(bool ok);
    void planFinished(bool ok);
    void autosaveRestored(int runs);
    void autosaveWritten(const QString& folder, bool ok);
    void previewShown(const ql::RunPtr& preview);  // a preview result reached the views
    void sweepFinished(bool ok);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    struct ModelOutcome {
        std::shared_ptr<const ModelSummary> summary;
        QString error;
        QString folder;
    };
    void buildCentre();
    void buildSensitivity();  // the page and its job, wired to the window
    void onSensitivityProgress(double fraction);
    void onSensitivityFinished(const MeasureOutcome& outcome);
    void buildPlan();
    void onPlanFinished(const MeasureOutcome& outcome);
    QWidget* buildRunsDock();
    void buildMenus();
    void rebuildRecentMenu();
    void rememberRecent(const QString& folder);
    void onModelInspected();
    void onRunRequested();
    void onRunProgress(const QString& phase, double fraction, const QString& message);
    void onRunFinished(const RunOutcome& outcome);
    void runsChanged();
    void refreshRunList();
    void updateTitle();
    void updateLayerInfo();
    void warn(const QString& title, const QString& text);
    bool confirm(const QString& title, const QString& question);
    void exportCurrentChart();
    void exportChart(QCustomPlot* plot);
    QList<ReportImage> renderReportImages(QSize size);
    void exportReportInteractive();
    void saveRunInteractive();
    void openRunInteractive();
    // mainwindow_preview.cpp
    QWidget* buildPreviewMarker();
    void onPreviewFinished(const RunPtr& preview);
    void dropPreview();
    void updatePreviewMarker(const QString& state);
    void onSweepDone();
    struct SweepOutcome {
        std::shared_ptr<const SweepResult> result;
        QString error;
        bool cancelled = false;
    };
    // mainwindow_session.cpp
    void autosave(const RunPtr& run);
    void removeAutosave(const RunResult* run);
    void onAutosavesLoaded();
    void showRunsOfModel(const QString& folder);
    bool isSaved(const RunResult* run) const;
    CloseAnswer askClose(int unsaved, bool running);
    bool saveAllThenClose(const QString& folder);
    void onSaveAllDone(const QString& error);
    void closeWhenIdle();
    void markSaved(const RunResult* run);
    void discardUnsaved();
    RunPtr withUniqueLabel(RunPtr run) const;

    std::shared_ptr<const ModelSummary> summary_;
    QFutureWatcher<ModelOutcome>* modelWatcher_ = nullptr;
    RunList runs_;
    int currentRun_ = -1;
    std::string layer_;
    bool dark_ = false;
    bool interactive_ = true;
    ConfirmHook confirmHook_;
    QString lastPhase_;
    RunList parked_;  // runs of other models, back when their model is opened again
    QSet<const RunResult*> saved_;
    QHash<const RunResult*, QString> autosaveFolder_;
    QString autosaveDir_;
    qint64 autosaveLimit_ = qint64(2) << 30;
    QList<QFuture<QString>> autosaves_;
    struct Restored {
        QList<QPair<QString, RunPtr>> runs;  // autosave folder, run
        QStringList errors;
    };
    QFutureWatcher<Restored>* restoreWatcher_ = nullptr;
    ClosePrompt closePrompt_;
    // The user chose to quit: close once the cancelled run and the "Save all" writes end.
    bool quitting_ = false;
    int pendingSaves_ = 0;
    QStringList saveErrors_;

    RunJob* job_ = nullptr;
    MeasureJob* sensitivityJob_ = nullptr;
    SensitivityPage* sensitivityPage_ = nullptr;
    MeasureJob* planJob_ = nullptr;
    PlanPage* planPage_ = nullptr;
    PreviewJob* preview_ = nullptr;
    RunPtr previewRun_;
    QLabel* previewMarker_ = nullptr;
    SweepView* sweep_ = nullptr;
    GeneratePage* generatePage_ = nullptr;
    QFutureWatcher<SweepOutcome>* sweepWatcher_ = nullptr;
    std::shared_ptr<std::atomic<bool>> sweepCancel_;
    LayerTableModel* layerModel_ = nullptr;
    MemoryTableModel* memoryModel_ = nullptr;
    PerplexityTableModel* pplModel_ = nullptr;
    LayerBrowser* browser_ = nullptr;
    QTabWidget* chartTabs_ = nullptr;
    QTabWidget* tableTabs_ = nullptr;
    HistogramView* histograms_ = nullptr;
    LayerChart* layerChart_ = nullptr;
    ModelOverview* overview_ = nullptr;
    ChannelRangesChart* channels_ = nullptr;
    SummaryCharts* summaryCharts_ = nullptr;
    ComparisonView* comparison_ = nullptr;
    TableView *sqnrTable_ = nullptr, *memoryTable_ = nullptr, *pplTable_ = nullptr;
    RunPanel* runPanel_ = nullptr;
    QListWidget* runList_ = nullptr;
    QPlainTextEdit* log_ = nullptr;
    QLabel* layerInfo_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QAction *lightAction_ = nullptr, *darkAction_ = nullptr;
    QAction* logScaleAction_ = nullptr;
};

}  // namespace ql
