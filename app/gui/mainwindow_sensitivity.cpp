// The window's Sensitivity and Plan tabs: measurements (run/sensitivity.h,
// run/plan_inputs.h) of the open model on background threads, with the run panel's texts and
// layer selection. Sensitivity results go to the tab's view (clicking a unit selects its
// layer everywhere); plan inputs to the Plan tab, whose selected plan runs in one click.
#include "app/gui/mainwindow.h"
#include "app/gui/planpage.h"
#include "app/gui/runpanel.h"
#include "app/gui/sensitivitypage.h"
#include "widgets/sensitivityview.h"

#include <QProgressBar>

namespace ql {

void MainWindow::buildSensitivity() {
    sensitivityJob_ = new MeasureJob(this);
    sensitivityPage_ = new SensitivityPage;
    connect(sensitivityPage_, &SensitivityPage::measureRequested, this,
            &MainWindow::startSensitivity);
    connect(sensitivityPage_, &SensitivityPage::cancelRequested, this,
            &MainWindow::cancelSensitivity);
    connect(sensitivityPage_, &SensitivityPage::recipeFromPanelRequested, this, [this] {
        SensitivityConfig c = sensitivityPage_->settings();
        c.recipe = runPanel_->recipeText().toStdString();
        sensitivityPage_->setSettings(c);
    });
    connect(sensitivityPage_->view(), &SensitivityView::layerSelected, this,
            &MainWindow::selectLayer);
    connect(sensitivityJob_, &MeasureJob::progress, this,
            [this](double fraction, const QString&) { onSensitivityProgress(fraction); });
    connect(sensitivityJob_, &MeasureJob::finished, this, &MainWindow::onSensitivityFinished);
}

namespace {
// The page's settings plus the model, texts, calibration and layers of the run panel.
SensitivityConfig withPanel(SensitivityConfig c, const RunConfig& run, const std::string& model) {
    c.modelDir = model;
    c.layers = run.layers;
    c.evaluationText = run.evaluationText;
    c.evalProtocol = run.evalProtocol;
    c.calibrationText = run.calibrationText;
    c.calibrationWindows = run.calibrationWindows;
    c.calibrationSeq = run.calibrationSeq;
    return c;
}
}  // namespace

SensitivityConfig MainWindow::sensitivityConfig() const {
    return withPanel(sensitivityPage_->settings(), runPanel_->config(),
                     summary_ ? summary_->folder : std::string());
}

bool MainWindow::startSensitivity() {
    if (const QString blocked = sensitivityPage_->blockedReason(); !blocked.isEmpty()) {
        log("Sensitivity refused: " + blocked);
        return false;
    }
    const SensitivityConfig c = sensitivityConfig();
    if (c.evaluationText.empty()) {
        const QString why = "Sensitivity needs an evaluation text: choose one in the run panel.";
        sensitivityPage_->showIdle(why);
        log(why);
        return false;
    }
    const bool started = sensitivityJob_->start([c](const ProgressCallback& progress) {
        return std::any(SensitivityPtr(
            std::make_shared<const SensitivityResult>(measureSensitivity(c, progress))));
    });
    if (!started) return false;
    sensitivityPage_->setRunning(true);
    log(QString("Sensitivity started: %1, %2, %3 units, %4 × %5 tokens")
            .arg(QString::fromStdString(c.recipe),
                 QString::fromStdString(sensitivityModeName(c.mode)),
                 QString::fromStdString(sensitivityUnitName(c.unit)))
            .arg(c.evalWindows)
            .arg(c.evalSeq));
    return true;
}

void MainWindow::cancelSensitivity() {
    if (!sensitivityJob_->isRunning()) return;
    sensitivityJob_->cancel();
    sensitivityPage_->showIdle("Cancelling…");
}

bool MainWindow::isMeasuringSensitivity() const {
    return sensitivityJob_->isRunning();
}

void MainWindow::onSensitivityProgress(double fraction) {
    sensitivityPage_->showProgress(fraction, sensitivityJob_->elapsedSeconds());
}

void MainWindow::onSensitivityFinished(const MeasureOutcome& out) {
    sensitivityPage_->setRunning(false);
    const SensitivityPtr result =
        out.result.has_value() ? std::any_cast<SensitivityPtr>(out.result) : SensitivityPtr();
    if (result) {
        sensitivityPage_->view()->setResult(result);
        if (!layer_.empty()) sensitivityPage_->view()->setSelectedLayer(layer_);
        sensitivityPage_->showFinished(QString("Measured %1 units in %2 s.")
                                           .arg(result->units.size())
                                           .arg(out.seconds, 0, 'f', 1));
        log(QString("Sensitivity finished: %1 units, %2 block passes, %3 s")
                .arg(result->units.size())
                .arg(result->blockPasses)
                .arg(out.seconds, 0, 'f', 1));
    } else if (out.cancelled) {
        sensitivityPage_->showIdle("Cancelled.");
        log("Sensitivity cancelled.");
    } else {
        sensitivityPage_->showIdle("Failed: " + out.error);
        log("Sensitivity failed: " + out.error);
    }
    emit sensitivityFinished(bool(result));
}

void MainWindow::buildPlan() {
    planJob_ = new MeasureJob(this);
    planPage_ = new PlanPage;
    connect(planPage_, &PlanPage::measureRequested, this, &MainWindow::startPlan);
    connect(planPage_, &PlanPage::cancelRequested, this, &MainWindow::cancelPlan);
    connect(planPage_, &PlanPage::runPlanRequested, this, &MainWindow::runSelectedPlan);
    connect(planJob_, &MeasureJob::progress, this, [this](double fraction, const QString&) {
        planPage_->showProgress(fraction, planJob_->elapsedSeconds());
    });
    connect(planJob_, &MeasureJob::finished, this, &MainWindow::onPlanFinished);
}

bool MainWindow::startPlan() {
    if (const QString blocked = planPage_->blockedReason(); !blocked.isEmpty()) {
        log("Plan refused: " + blocked);
        return false;
    }
    const SensitivityConfig c = withPanel(planPage_->settings(), runPanel_->config(),
                                          summary_ ? summary_->folder : std::string());
    if (c.evaluationText.empty()) {
        const QString why = "A plan needs an evaluation text: choose one in the run panel.";
        planPage_->showIdle(why);
        log(why);
        return false;
    }
    const std::vector<std::string> candidates = planPage_->candidates();
    const bool started = planJob_->start([c, candidates](const ProgressCallback& progress) {
        return std::any(PlanInputsPtr(
            std::make_shared<const PlanInputs>(measurePlanInputs(c, candidates, progress))));
    });
    if (!started) return false;
    planPage_->setRunning(true);
    log(QString("Plan: measuring %1 candidates on %2 × %3 tokens")
            .arg(candidates.size())
            .arg(c.evalWindows)
            .arg(c.evalSeq));
    return true;
}

void MainWindow::cancelPlan() {
    if (!planJob_->isRunning()) return;
    planJob_->cancel();
    planPage_->showIdle("Cancelling…");
}

bool MainWindow::isPlanning() const {
    return planJob_->isRunning();
}

void MainWindow::onPlanFinished(const MeasureOutcome& out) {
    planPage_->setRunning(false);
    const PlanInputsPtr inputs =
        out.result.has_value() ? std::any_cast<PlanInputsPtr>(out.result) : PlanInputsPtr();
    if (inputs) {
        planPage_->setInputs(inputs);
        planPage_->showFinished(QString("Measured %1 candidates on %2 layers in %3 s; %4 plans.")
                                    .arg(inputs->candidates.size())
                                    .arg(inputs->layers.size())
                                    .arg(out.seconds, 0, 'f', 1)
                                    .arg(planPage_->plans().size()));
        log(QString("Plan: %1 plans across budgets").arg(planPage_->plans().size()));
    } else if (out.cancelled) {
        planPage_->showIdle("Cancelled.");
        log("Plan cancelled.");
    } else {
        planPage_->showIdle("Failed: " + out.error);
        log("Plan failed: " + out.error);
    }
    emit planFinished(bool(inputs));
}

// The plan's recipe and overrides, evaluated on the windows it was planned on (so that its
// measured KL compares with the predicted one), into the run panel, then run.
bool MainWindow::runSelectedPlan() {
    const PlanInputsPtr& in = planPage_->inputs();
    if (!in || planPage_->selectedPlan() < 0) return false;
    const PlanRun plan = planPage_->selectedPlanRun();
    RunConfig c = runPanel_->config();
    c.recipe = plan.recipe;
    c.overrides = plan.overrides;
    c.layers = in->settings.layers;
    c.evaluationText = in->settings.evaluationText;
    c.evalSeq = in->settings.evalSeq;
    c.evalMaxWindows = in->settings.evalWindows;
    c.evalProtocol = in->settings.evalProtocol;
    runPanel_->setConfig(c);
    log(QString("Running plan %1: %2 + %3 override(s)")
            .arg(planPage_->selectedPlan() + 1)
            .arg(QString::fromStdString(plan.recipe))
            .arg(plan.overrides.size()));
    return startRun(runPanel_->config());
}

}  // namespace ql
