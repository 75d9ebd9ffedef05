// The QuantLens workbench window: layer browser (left), charts (centre top), tables
// (centre bottom), runs and the run panel (right dock). Models open and runs execute off
// the GUI thread; everything the views show is an immutable RunResult.
#pragma once

#include "app/gui/runjob.h"
#include "model/model.h"
#include "widgets/resultutils.h"

#include <QFutureWatcher>
#include <QMainWindow>

#include <functional>
#include <memory>

class QAction;
class QListWidget;
class QMenu;
class QPlainTextEdit;
class QTabWidget;
class QCustomPlot;

namespace ql {

class ComparisonView;
class HistogramView;
class LayerBrowser;
class LayerChart;
class LayerTableModel;
class MemoryTableModel;
class PerplexityTableModel;
class RunPanel;
class SummaryCharts;
class TableView;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    enum ChartTab { HistogramsTab, SqnrTab, SummaryTab, CompareTab };
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

    // Selection and views
    void selectLayer(const std::string& name);
    const std::string& currentLayer() const { return layer_; }
    void setChartTab(ChartTab tab);
    void setTableTab(TableTab tab);
    void setDarkTheme(bool dark);
    bool darkTheme() const { return dark_; }
    QStringList exportReportTo(const QString& folder);
    QCustomPlot* currentChart() const;  // the chart the Export chart action exports

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
    SummaryCharts* summaryCharts() const { return summaryCharts_; }
    ComparisonView* comparisonView() const { return comparison_; }
    QListWidget* runList() const { return runList_; }
    QString logText() const;
    void log(const QString& line);
    // false: problems only go to the log, never to a modal message box (tests, scripts).
    void setInteractive(bool interactive) { interactive_ = interactive; }
    // Asked before a saved run or report is replaced; true replaces it. Default: a
    // QMessageBox question (false when not interactive). Tests install their own answer.
    using ConfirmHook = std::function<bool(const QString& title, const QString& question)>;
    void setConfirmHook(ConfirmHook hook) { confirmHook_ = std::move(hook); }

signals:
    void modelOpened(bool ok);
    void runFinished(bool ok);

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
    void warn(const QString& title, const QString& text);
    bool confirm(const QString& title, const QString& question);
    void exportCurrentChart();
    void exportReportInteractive();
    void saveRunInteractive();
    void openRunInteractive();

    std::shared_ptr<const ModelSummary> summary_;
    QFutureWatcher<ModelOutcome>* modelWatcher_ = nullptr;
    RunList runs_;
    int currentRun_ = -1;
    std::string layer_;
    bool dark_ = false;
    bool interactive_ = true;
    ConfirmHook confirmHook_;
    QString lastPhase_;

    RunJob* job_ = nullptr;
    LayerTableModel* layerModel_ = nullptr;
    MemoryTableModel* memoryModel_ = nullptr;
    PerplexityTableModel* pplModel_ = nullptr;
    LayerBrowser* browser_ = nullptr;
    QTabWidget* chartTabs_ = nullptr;
    QTabWidget* tableTabs_ = nullptr;
    HistogramView* histograms_ = nullptr;
    LayerChart* layerChart_ = nullptr;
    SummaryCharts* summaryCharts_ = nullptr;
    ComparisonView* comparison_ = nullptr;
    TableView *sqnrTable_ = nullptr, *memoryTable_ = nullptr, *pplTable_ = nullptr;
    RunPanel* runPanel_ = nullptr;
    QListWidget* runList_ = nullptr;
    QPlainTextEdit* log_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QAction *lightAction_ = nullptr, *darkAction_ = nullptr;
};

}  // namespace ql
