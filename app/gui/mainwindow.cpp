#include "app/gui/mainwindow.h"

#include "app/gui/benchpanel.h"
#include "app/gui/exports.h"
#include "app/gui/generatepage.h"
#include "app/gui/layerbrowser.h"
#include "app/gui/modelexport.h"
#include "app/gui/planpage.h"
#include "app/gui/previewjob.h"
#include "app/gui/runpanel.h"
#include "app/gui/sensitivitypage.h"
#include "base/output_folder.h"
#include "widgets/channelranges.h"
#include "widgets/comparisonview.h"
#include "widgets/histogramview.h"
#include "widgets/inferbenchchart.h"
#include "widgets/layerchart.h"
#include "widgets/layertablemodel.h"
#include "widgets/memorytablemodel.h"
#include "widgets/modeloverview.h"
#include "widgets/overviewview.h"
#include "widgets/perplexitytablemodel.h"
#include "widgets/plotstyle.h"
#include "widgets/sensitivitychart.h"
#include "widgets/sensitivityview.h"
#include "widgets/summarycharts.h"
#include "widgets/sweepview.h"
#include "widgets/tableroles.h"
#include "widgets/tableview.h"
#include "widgets/tokenklchart.h"

#include <qcustomplot.h>
#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QDateTime>
#include <QDockWidget>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStandardPaths>
#include <QStatusBar>
#include <QStyleFactory>
#include <QTabWidget>
#include <QVBoxLayout>

#include <tuple>

namespace ql {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    job_ = new RunJob(this);
    preview_ = new PreviewJob(this);
    sweepWatcher_ = new QFutureWatcher<SweepOutcome>(this);
    connect(sweepWatcher_, &QFutureWatcher<SweepOutcome>::finished, this, &MainWindow::onSweepDone);
    layerModel_ = new LayerTableModel(this);
    memoryModel_ = new MemoryTableModel(this);
    pplModel_ = new PerplexityTableModel(this);
    modelWatcher_ = new QFutureWatcher<ModelOutcome>(this);
    connect(modelWatcher_, &QFutureWatcher<ModelOutcome>::finished, this,
            &MainWindow::onModelInspected);
    connect(job_, &RunJob::progress, this, &MainWindow::onRunProgress);
    connect(job_, &RunJob::finished, this, &MainWindow::onRunFinished);

    buildCentre();
    auto* dock = new QDockWidget("Runs", this);
    dock->setObjectName("runsDock");
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    dock->setWidget(buildRunsDock());
    addDockWidget(Qt::RightDockWidgetArea, dock);
    buildMenus();
    setAcceptDrops(true);
    resize(1400, 900);
    // The selected layer's numbers stay readable in the status bar at any window width.
    layerInfo_ = new QLabel;
    layerInfo_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layerInfo_->setMinimumWidth(120);  // a long run name never widens the window
    statusBar()->addPermanentWidget(layerInfo_);
    autosaveDir_ = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/autosave";
    showStatus("Open a model to begin.");
    updateTitle();
    runsChanged();
}

MainWindow::~MainWindow() {
    job_->cancel();
    preview_->cancel();
    cancelSweep();
    sweepWatcher_->waitForFinished();
    modelWatcher_->waitForFinished();
    if (restoreWatcher_) restoreWatcher_->waitForFinished();
    for (QFuture<QString>& f : autosaves_) f.waitForFinished();  // never a half-written run
}

void MainWindow::buildCentre() {
    browser_ = new LayerBrowser(layerModel_);
    histograms_ = new HistogramView;
    layerChart_ = new LayerChart;
    summaryCharts_ = new SummaryCharts;
    comparison_ = new ComparisonView;
    chartTabs_ = new QTabWidget;
    chartTabs_->addTab(histograms_, "Histograms");
    chartTabs_->addTab(layerChart_, "SQNR per layer");
    chartTabs_->addTab(summaryCharts_, "Summary");
    chartTabs_->addTab(comparison_, "Compare runs");
    auto* overview = new OverviewView;
    overview_ = overview->chart();
    chartTabs_->addTab(overview, "Model overview");
    channels_ = new ChannelRangesChart;
    chartTabs_->addTab(channels_, "Per-channel ranges");
    buildSensitivity();
    chartTabs_->addTab(sensitivityPage_, "Sensitivity");
    buildPlan();
    chartTabs_->addTab(planPage_, "Plan");
    sweep_ = new SweepView;
    chartTabs_->addTab(sweep_, "Sweep");
    generatePage_ = new GeneratePage;
    chartTabs_->addTab(generatePage_, "Generate");

    auto makeTable = [](QAbstractItemModel* model, bool sortable) {
        auto* view = new TableView;
        if (sortable) {
            auto* proxy = new QSortFilterProxyModel(view);
            proxy->setSourceModel(model);
            proxy->setSortRole(SortRole);
            view->setModel(proxy);
            view->setSortingEnabled(true);
            view->sortByColumn(-1, Qt::AscendingOrder);
        } else {
            view->setModel(model);
        }
        view->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
        return view;
    };
    sqnrTable_ = makeTable(layerModel_, true);
    memoryTable_ = makeTable(memoryModel_, false);
    pplTable_ = makeTable(pplModel_, false);
    tableTabs_ = new QTabWidget;
    tableTabs_->addTab(sqnrTable_, "SQNR");
    tableTabs_->addTab(memoryTable_, "Memory");
    tableTabs_->addTab(pplTable_, "Perplexity");

    // The preview marker sits above the charts so that no preview number is read as a run's.
    auto* top = new QWidget;
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    topLayout->setSpacing(2);
    topLayout->addWidget(buildPreviewMarker());
    topLayout->addWidget(chartTabs_, 1);
    auto* centre = new QSplitter(Qt::Vertical);
    centre->addWidget(top);
    centre->addWidget(tableTabs_);
    centre->setStretchFactor(0, 3);
    centre->setStretchFactor(1, 2);
    browser_->setMinimumWidth(260);
    auto* main = new QSplitter(Qt::Horizontal);
    main->addWidget(browser_);
    main->addWidget(centre);
    main->setStretchFactor(0, 0);
    main->setStretchFactor(1, 1);
    main->setSizes({280, 1120});
    setCentralWidget(main);

    // Right click on any chart: export it (PNG with size/DPI, PDF or SVG).
    for (QCustomPlot* plot : chartTabs_->findChildren<QCustomPlot*>()) {
        plot->setContextMenuPolicy(Qt::CustomContextMenu);
        connect(plot, &QWidget::customContextMenuRequested, this, [this, plot](const QPoint& pos) {
            QMenu menu;
            menu.addAction("Export chart…", this, [this, plot] { exportChart(plot); });
            menu.exec(plot->mapToGlobal(pos));
        });
    }
    connect(browser_, &LayerBrowser::layerSelected, this, &MainWindow::selectLayer);
    connect(layerChart_, &LayerChart::layerClicked, this, &MainWindow::selectLayer);
    connect(overview_, &ModelOverview::layerClicked, this, &MainWindow::selectLayer);
    connect(sweep_, &SweepView::layerClicked, this, &MainWindow::selectLayer);
    connect(sweep_, &SweepView::sweepRequested, this, &MainWindow::startSweep);
    connect(sweep_, &SweepView::cancelRequested, this, &MainWindow::cancelSweep);
    connect(sweep_, &SweepView::exportRequested, this, &MainWindow::exportChart);
    connect(comparison_, &ComparisonView::layerSelected, this, &MainWindow::selectLayer);
    connect(histograms_, &HistogramView::statusMessage, this, [this](const QString& m) { log(m); });
    connect(comparison_, &ComparisonView::statusMessage, this,
            [this](const QString& m) { log(m); });
    for (TableView* t : {sqnrTable_, memoryTable_})
        connect(t->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
                [this](const QModelIndex& i) {
                    const QString name = i.data(LayerNameRole).toString();
                    if (!name.isEmpty()) selectLayer(name.toStdString());
                });
}

QWidget* MainWindow::buildRunsDock() {
    auto* panel = new QWidget;
    panel->setMinimumWidth(320);
    auto* layout = new QVBoxLayout(panel);
    layout->setContentsMargins(4, 4, 4, 4);
    runList_ = new QListWidget;
    runList_->setMinimumHeight(60);
    runList_->setMaximumHeight(130);
    auto* openBtn = new QPushButton("Open…");
    auto* saveBtn = new QPushButton("Save…");
    auto* removeBtn = new QPushButton("Remove");
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(openBtn);
    buttons->addWidget(saveBtn);
    buttons->addWidget(removeBtn);
    runPanel_ = new RunPanel;
    log_ = new QPlainTextEdit;
    log_->setReadOnly(true);
    log_->setMaximumBlockCount(2000);
    log_->setPlaceholderText("Log");
    log_->setMinimumHeight(70);
    layout->addWidget(new QLabel("<b>Runs of this model</b>"));
    layout->addWidget(runList_);
    layout->addLayout(buttons);
    layout->addWidget(runPanel_, 3);
    layout->addWidget(log_, 1);
    connect(runList_, &QListWidget::currentRowChanged, this, &MainWindow::setCurrentRun);
    connect(openBtn, &QPushButton::clicked, this, &MainWindow::openRunInteractive);
    connect(saveBtn, &QPushButton::clicked, this, &MainWindow::saveRunInteractive);
    connect(removeBtn, &QPushButton::clicked, this, [this] { removeRun(runList_->currentRow()); });
    connect(runPanel_, &RunPanel::runRequested, this, &MainWindow::onRunRequested);
    connect(runPanel_, &RunPanel::cancelRequested, this, &MainWindow::cancelRun);
    connect(runPanel_, &RunPanel::recipeEdited, this, &MainWindow::requestPreview);
    return panel;
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu("&File");
    file->addAction("&Open model…", QKeySequence::Open, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, "Open model folder");
        if (!dir.isEmpty()) openModel(dir);
    });
    // A GGUF file is a whole model (config and tokenizer in its metadata): a file, not a folder.
    file->addAction("Open &GGUF file…", this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, "Open GGUF model file", QString(),
                                                          "GGUF models (*.gguf);;All files (*)");
        if (!path.isEmpty()) openModel(path);
    });
    recentMenu_ = file->addMenu("Open &recent");
    rebuildRecentMenu();
    file->addSeparator();
    file->addAction("Open run…", this, &MainWindow::openRunInteractive);
    file->addAction("&Save run…", QKeySequence::Save, this, &MainWindow::saveRunInteractive);
    file->addSeparator();
    file->addAction("&Export chart…", QKeySequence("Ctrl+E"), this,
                    &MainWindow::exportCurrentChart);
    file->addAction("Export &report…", QKeySequence("Ctrl+Shift+E"), this,
                    &MainWindow::exportReportInteractive);
    file->addAction("Export &model…", this, [this] {
        const bool valid = currentRun_ >= 0 && currentRun_ < int(runs_.size());
        exportModelInteractive(this, valid ? runs_[size_t(currentRun_)] : RunPtr(),
                               [this](const QString& line) { log(line); });
    });
    file->addSeparator();
    file->addAction("&Quit", QKeySequence::Quit, this, &QWidget::close);

    QMenu* view = menuBar()->addMenu("&View");
    QMenu* theme = view->addMenu("&Theme");
    auto* group = new QActionGroup(this);
    QAction* light = theme->addAction("Light", this, [this] { setDarkTheme(false); });
    QAction* dark = theme->addAction("Dark", this, [this] { setDarkTheme(true); });
    for (QAction* a : {light, dark}) {
        a->setCheckable(true);
        group->addAction(a);
    }
    light->setChecked(true);
    lightAction_ = light;
    darkAction_ = dark;
    QAction* logScale = view->addAction("&Log counts");
    logScale->setCheckable(true);
    // One setting for every histogram on screen: the per-layer ones and the comparison;
    // each view's own checkbox moves the action (and so the other view) too.
    connect(logScale, &QAction::toggled, histograms_, &HistogramView::setLogScale);
    connect(logScale, &QAction::toggled, comparison_, &ComparisonView::setLogScale);
    connect(histograms_, &HistogramView::logScaleChanged, logScale, &QAction::setChecked);
    connect(comparison_->logScaleBox(), &QCheckBox::toggled, logScale, &QAction::setChecked);
    logScaleAction_ = logScale;

    QMenu* help = menuBar()->addMenu("&Help");
    help->addAction("&About QuantLens", this, [this] {
        QMessageBox::about(this, "About QuantLens",
                           "<b>QuantLens</b><br>A workbench for quantizing language models and "
                           "seeing what quantization does to every layer.");
    });
}

void MainWindow::rebuildRecentMenu() {
    recentMenu_->clear();
    const QStringList recent = QSettings().value("recentModels").toStringList();
    for (const QString& folder : recent)
        recentMenu_->addAction(folder, this, [this, folder] { openModel(folder); });
    recentMenu_->setEnabled(!recent.isEmpty());
}

void MainWindow::rememberRecent(const QString& folder) {
    QStringList recent = QSettings().value("recentModels").toStringList();
    recent.removeAll(folder);
    recent.prepend(folder);
    while (recent.size() > 8) recent.removeLast();
    QSettings().setValue("recentModels", recent);
    rebuildRecentMenu();
}

void MainWindow::setDarkTheme(bool dark) {
    dark_ = dark;
    qApp->setStyle(QStyleFactory::create("Fusion"));
    QPalette p = qApp->style()->standardPalette();
    if (dark) {
        p.setColor(QPalette::Window, QColor(45, 45, 48));
        p.setColor(QPalette::WindowText, QColor(225, 225, 225));
        p.setColor(QPalette::Base, QColor(30, 30, 32));
        p.setColor(QPalette::AlternateBase, QColor(50, 50, 54));
        p.setColor(QPalette::Text, QColor(225, 225, 225));
        p.setColor(QPalette::Button, QColor(55, 55, 60));
        p.setColor(QPalette::ButtonText, QColor(225, 225, 225));
        p.setColor(QPalette::ToolTipBase, QColor(60, 60, 64));
        p.setColor(QPalette::ToolTipText, QColor(230, 230, 230));
        p.setColor(QPalette::Highlight, QColor(60, 120, 200));
        p.setColor(QPalette::HighlightedText, Qt::white);
        p.setColor(QPalette::Link, QColor(110, 170, 255));
        p.setColor(QPalette::PlaceholderText, QColor(140, 140, 140));
        p.setColor(QPalette::Mid, QColor(90, 90, 95));
        p.setColor(QPalette::Disabled, QPalette::Text, QColor(120, 120, 120));
        p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(120, 120, 120));
        p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(120, 120, 120));
    }
    qApp->setPalette(p);
    if (darkAction_) {
        darkAction_->setChecked(dark);
        lightAction_->setChecked(!dark);
    }
    layerModel_->setDarkPalette(dark);
    histograms_->applyPalette();
    layerChart_->applyPalette();
    overview_->applyPalette();
    channels_->applyPalette();
    sweep_->applyPalette();
    generatePage_->applyPalette();
    summaryCharts_->applyPalette();
    comparison_->applyPalette();
    sensitivityPage_->view()->applyPalette();
    planPage_->chart()->applyPalette();
}

QCustomPlot* MainWindow::currentChart() const {
    switch (chartTabs_->currentIndex()) {
        case HistogramsTab: {
            const int tab = histograms_->tabs()->currentIndex();
            return tab == 0   ? histograms_->weightChart()
                   : tab == 1 ? static_cast<QCustomPlot*>(histograms_->activationChart())
                              : histograms_->gradientChart();
        }
        case SqnrTab:
            return layerChart_;
        case SummaryTab:
            return summaryCharts_->memoryChart();
        case OverviewTab:
            return overview_;
        case ChannelsTab:
            return channels_;
        case SensitivityTab:
            return sensitivityPage_->view()->currentChart();
        case PlanTab:
            return planPage_->chart();
        case SweepTab:
            return sweep_->chart();
        case GenerateTab:  // the chart of the section on screen
            return generatePage_->sections()->currentIndex() == 1
                       ? static_cast<QCustomPlot*>(generatePage_->benchPanel()->chart())
                       : generatePage_->klChart();
        default:  // what is on screen, as the comparison itself exports it
            return comparison_->currentExportWidget();
    }
}

// Names by what a chart shows: "<chart>_<layer>_<run>" for one layer of one run,
// "<chart>" for charts of all runs, so exports of different tabs never collide.
MainWindow::ChartName MainWindow::chartName(QCustomPlot* plot) const {
    const QString layer = QString::fromStdString(layer_);
    const RunPtr shown = histograms_->run();
    const QString run = shown ? runDisplayName(*shown) : QString();
    const QList<std::tuple<QCustomPlot*, QString, QString>> perRun = {
        {histograms_->weightChart(), "weights", "Weights"},
        {histograms_->errorChart(), "weight_error", "Weight error"},
        {histograms_->activationChart(), "activations", "Input activations"},
        {histograms_->outputChart(), "outputs", "Output activations"},
        {histograms_->gradientChart(), "gradients", "Weight gradients"},
        {channels_, "channel_ranges", "Per-channel ranges"}};
    for (const auto& [p, stem, what] : perRun)
        if (p == plot)
            return {fileStem(QStringList{stem, layer, run}.join('_')),
                    QStringList{what, layer, run}.join(" · "), layer + " · " + run};
    const QList<std::tuple<QCustomPlot*, QString, QString>> allRuns = {
        {layerChart_, "sqnr_per_layer", "SQNR per layer, all runs"},
        {summaryCharts_->memoryChart(), "memory_per_layer", "Memory per layer"},
        {summaryCharts_->perplexityChart(), "perplexity", "Perplexity, all runs"},
        {summaryCharts_->agreementChart(), "kl_top1", "KL divergence and top-1 agreement"},
        {overview_, "model_overview", "Model overview"},
        {sensitivityPage_->view()->bars(), "sensitivity", "Sensitivity per unit"},
        {sensitivityPage_->view()->heatMap(), "sensitivity_heatmap", "Sensitivity, blocks × kinds"},
        {planPage_->chart(), "plan_pareto", "Plan: memory vs KL"},

        {sweep_->chart(), "weight_sweep", "Weight SQNR sweep"},
        {generatePage_->klChart(), "generation_kl", "KL per generated token"},
        {generatePage_->benchPanel()->chart(), "inference_speed_memory",
         "Decode speed vs weight memory vs perplexity"}};
    for (const auto& [p, stem, what] : allRuns)
        if (p == plot) return {stem, what, QString()};
    return {fileStem("compare_" + layer), "Comparison · " + layer, layer};
}

void MainWindow::exportChart(QCustomPlot* plot) {
    const ChartName name = chartName(plot);
    const ChartCaption caption(plot, name.titleLine);
    exportChartInteractive(plot, name.stem, this);
}

void MainWindow::exportCurrentChart() {
    exportChart(currentChart());
}

// Histograms of the current layer for every run, then the charts of all runs.
QList<ReportImage> MainWindow::renderReportImages(QSize size) {
    QList<ReportImage> images;
    const RunPtr shown = histograms_->run();
    for (const RunPtr& run : runs_) {
        histograms_->setRun(run);
        histograms_->setLayer(layer_);
        for (HistogramChart* chart : histograms_->charts()) {
            const ChartName n = chartName(chart);
            images.append({n.stem, n.caption, renderChartPng(chart, size, n.titleLine)});
        }
    }
    histograms_->setRun(shown);
    histograms_->setLayer(layer_);
    for (QCustomPlot* plot :
         {static_cast<QCustomPlot*>(layerChart_), summaryCharts_->memoryChart(),
          summaryCharts_->perplexityChart(), summaryCharts_->agreementChart()}) {
        const ChartName n = chartName(plot);
        images.append({n.stem, n.caption, renderChartPng(plot, size, QString())});
    }
    return images;
}

QStringList MainWindow::exportReportTo(const QString& folder) {
    ReportContent c;
    c.run = currentRun_ >= 0 ? runs_[size_t(currentRun_)] : nullptr;
    c.runs = runs_;
    c.layer = QString::fromStdString(layer_);
    c.title = summary_
                  ? "QuantLens report: " + QString::fromStdString(summary_->folder).section('/', -1)
                  : QString("QuantLens report");
    c.tables = {{"layers", layerModel_}, {"memory", memoryModel_}, {"perplexity", pplModel_}};
    if (runs_.size() >= 2) c.tables.append({"comparison", comparison_->tableModel()});
    c.images = renderReportImages(QSize(1200, 800));
    bool replace = false;
    try {
        if (checkOutputFolder(folder.toStdString()) == OutputFolder::Ours) {
            if (!confirm("Replace report", folder + " already holds a report. Replace it?")) {
                log("Report not written: kept the report already in " + folder);
                return {"Not exported: the report already in " + folder + " was kept."};
            }
            replace = true;
        }
    } catch (const std::exception& e) {
        log(QString("Report not written: %1").arg(e.what()));
        return {QString::fromUtf8(e.what())};
    }
    const QStringList problems = exportReport(c, folder, replace);
    log(problems.isEmpty() ? "Report written to " + folder
                           : "Report incomplete: " + problems.join("; "));
    showStatus(problems.isEmpty() ? "Report written to " + folder : "Report incomplete.");
    return problems;
}

void MainWindow::exportReportInteractive() {
    const QString dir = QFileDialog::getExistingDirectory(this, "Export report into folder");
    if (dir.isEmpty()) return;
    const QStringList problems = exportReportTo(dir);
    if (!problems.isEmpty()) QMessageBox::warning(this, "Export report", problems.join("\n"));
}

void MainWindow::setChartTab(ChartTab tab) {
    chartTabs_->setCurrentIndex(int(tab));
}
void MainWindow::setTableTab(TableTab tab) {
    tableTabs_->setCurrentIndex(int(tab));
}

QString MainWindow::logText() const {
    return log_->toPlainText();
}

void MainWindow::showStatus(const QString& text) {
    statusBar()->showMessage(text);
}

void MainWindow::log(const QString& line) {
    log_->appendPlainText(QDateTime::currentDateTime().toString("HH:mm:ss  ") + line);
}

void MainWindow::updateLayerInfo() {
    const QString name = QString::fromStdString(layer_);
    const RunPtr run = currentRun_ >= 0 ? runs_[size_t(currentRun_)] : previewRun_;
    const LayerResult* l = run ? findLayer(*run, layer_) : nullptr;
    QString text = name;
    if (l) {
        text +=
            QString("  ·  %1×%2  ·  W SQNR %3 dB  ·  out %4 dB  ·  %5")
                .arg(l->rows)
                .arg(l->cols)
                .arg(formatDb(l->weightSqnrDb), formatDb(l->outputSqnrDb), runDisplayName(*run));
    } else if (summary_) {
        for (const LinearLayerInfo& info : summary_->linears)
            if (info.name == layer_)
                text += QString("  ·  %1×%2").arg(info.outFeatures).arg(info.inFeatures);
    }
    layerInfo_->setText(text);
    layerInfo_->setToolTip(text);
}

void MainWindow::updateTitle() {
    const QString model = summary_ ? QString::fromStdString(summary_->folder).section('/', -1) : "";
    setWindowTitle(model.isEmpty() ? "QuantLens" : model + " — QuantLens");
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls() && event->mimeData()->urls().first().isLocalFile())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QString path = event->mimeData()->urls().first().toLocalFile();
    if (QFileInfo::exists(path + "/run.json")) {
        QString error;
        if (!openRunFrom(path, &error)) warn("Open run", error);
    } else {
        openModel(path);
    }
    event->acceptProposedAction();
}

}  // namespace ql
