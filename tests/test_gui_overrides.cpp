// The run panel's per-layer overrides (issue 10) on stories260k: rows become the run's
// overrides (as --override PATTERN=RECIPE), each layer of the run gets exactly the recipe of
// the last row matching it, the layer and memory tables show that recipe, and a bad row is
// refused before the run with the message naming it.
#include "app/gui/mainwindow.h"
#include "app/gui/overrideseditor.h"
#include "app/gui/runpanel.h"
#include "gui_helpers.h"
#include "testdata.h"
#include "widgets/layertablemodel.h"
#include "widgets/memorytablemodel.h"
#include "widgets/tableroles.h"

#include <QLabel>
#include <QPushButton>
#include <QTableWidget>
#include <QtTest>

using namespace ql;
using namespace guitest;

namespace {
QString canonical(const char* recipe) {
    return QString::fromStdString(Recipe::parse(recipe).toString());
}
}  // namespace

class TestGuiOverrides : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void rowsBecomeTheRunsOverrides();
    void badRowIsRefused_data();
    void badRowIsRefused();
    void editingACellRevalidates();
    void cleanupTestCase();

private:
    OverridesEditor* editor() const { return w_->runPanel()->overridesEditor(); }
    std::unique_ptr<MainWindow> w_;
};

void TestGuiOverrides::initTestCase() {
    initGuiSuite();
    w_ = makeWindow(qltest::tempDir("test_gui_overrides_autosave"));
    w_->setClosePrompt(answer(MainWindow::CloseChoice::Discard));
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(openStories(*w_));
}

// Two rows: every down_proj INT8, then block 0 fp16 (later rows win, so block 0's
// down_proj is fp16); the other layers keep the run's INT4 g32.
void TestGuiOverrides::rowsBecomeTheRunsOverrides() {
    QVERIFY(w_->summary());
    RunPanel* panel = w_->runPanel();
    panel->setConfig(weightsOnly("rtn:int4:g32:asym"));
    QCOMPARE(editor()->rowCount(), 0);
    editor()->addRow("model.layers.*.mlp.down_proj", "rtn:int8:channel:sym");
    editor()->addRow(" model.layers.0.* ", "fp16");
    QCOMPARE(editor()->problem(), QString());
    QVERIFY(panel->runButton()->isEnabled());
    const RunConfig c = panel->config();
    QCOMPARE(c.overrides.size(), size_t(2));
    QCOMPARE(c.overrides[0].pattern, std::string("model.layers.*.mlp.down_proj"));
    QCOMPARE(c.overrides[0].recipe, std::string("rtn:int8:channel:sym"));
    QCOMPARE(c.overrides[1].pattern, std::string("model.layers.0.*"));  // trimmed
    QCOMPARE(c.overrides[1].recipe, std::string("fp16"));

    // Run from the panel's button, as a user does.
    QSignalSpy finished(w_.get(), &MainWindow::runFinished);
    QTest::mouseClick(panel->runButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 120000);
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(w_->logText()));
    const RunResult& run = *w_->runs().back();
    QCOMPARE(run.config.overrides.size(), size_t(2));
    QCOMPARE(run.config.overrides[1].recipe, std::string("fp16"));
    QCOMPARE(int(run.layers.size()), 35);

    // Each layer's recipe, decided here by name (independently of the glob matcher), in the
    // run, the layer table's Method column and the memory table's Recipe column.
    LayerTableModel* layers = w_->layerModel();
    MemoryTableModel* memory = w_->memoryModel();
    const int run0 = int(w_->runs().size()) - 1;
    int fp16 = 0, int8 = 0, int4 = 0;
    for (size_t i = 0; i < run.layers.size(); ++i) {
        const LayerResult& l = run.layers[i];
        const QString name = QString::fromStdString(l.name);
        QString expected = canonical("rtn:int4:g32:asym");
        if (name.startsWith("model.layers.0."))
            expected = canonical("fp16"), ++fp16;
        else if (name.endsWith(".mlp.down_proj"))
            expected = canonical("rtn:int8:channel:sym"), ++int8;
        else
            ++int4;
        QCOMPARE(QString::fromStdString(l.method), expected);
        const int row = layers->rowOfLayer(l.name);
        QVERIFY(row >= 0);
        const int col = layers->columnOf(run0, LayerTableModel::Method);
        QVERIFY(col >= 0);
        QCOMPARE(layers->index(row, col).data().toString(), expected);
        QCOMPARE(memory->index(int(i), MemoryTableModel::ColLayer).data(LayerNameRole).toString(),
                 name);
        QCOMPARE(memory->index(int(i), MemoryTableModel::ColRecipe).data().toString(), expected);
    }
    QCOMPARE(fp16, 7);
    QCOMPARE(int8, 4);  // blocks 1..4
    QCOMPARE(int4, 24);
    QCOMPARE(memory->headerData(MemoryTableModel::ColRecipe, Qt::Horizontal, ExportRole).toString(),
             QString("recipe"));
    // Summary rows have no recipe.
    QCOMPARE(memory->index(35 + MemoryTableModel::RowModelTotal, MemoryTableModel::ColRecipe)
                 .data()
                 .toString(),
             QString());

    // setConfig of that run's settings brings the rows back.
    panel->setConfig(weightsOnly("rtn:int8:channel:sym"));
    QCOMPARE(editor()->rowCount(), 0);
    panel->setConfig(run.config);
    QCOMPARE(editor()->rowCount(), 2);
    QCOMPARE(panel->config().overrides[0].recipe, std::string("rtn:int8:channel:sym"));
}

void TestGuiOverrides::badRowIsRefused_data() {
    QTest::addColumn<QString>("pattern");
    QTest::addColumn<QString>("recipe");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty pattern") << ""
                                   << "fp16"
                                   << "the layer pattern is empty";
    QTest::newRow("empty recipe") << "*.q_proj"
                                  << ""
                                  << "the recipe is empty";
    QTest::newRow("fitted method") << "*.q_proj"
                                   << "gptq:int4:g128:asym"
                                   << "fits to calibration data";
    QTest::newRow("activation side") << "*.q_proj"
                                     << "rtn:int8:channel:sym+a8:token:sym"
                                     << "cannot quantize activations";
    QTest::newRow("unparsable recipe") << "*.q_proj"
                                       << "rtn:int9"
                                       << "override '*.q_proj=rtn:int9'";
    QTest::newRow("no such layer") << "model.layers.9.*"
                                   << "fp16"
                                   << "matches none of the model's 35 layers";
}

// A valid first row, then the bad one: Run is disabled with the reason (tooltip, status,
// the message under the rows), the bad row is named, and removing it enables Run again.
void TestGuiOverrides::badRowIsRefused() {
    QFETCH(QString, pattern);
    QFETCH(QString, recipe);
    QFETCH(QString, message);
    QVERIFY(w_->summary());
    RunPanel* panel = w_->runPanel();
    panel->setConfig(weightsOnly("rtn:int4:g32:asym"));
    editor()->addRow("*.down_proj", "rtn:int8:channel:sym");
    QVERIFY(panel->runButton()->isEnabled());
    editor()->addRow(pattern, recipe);
    const QString problem = editor()->problem();
    QVERIFY2(problem.startsWith("Override row 2: ") && problem.contains(message),
             qPrintable(problem));
    QCOMPARE(editor()->rowProblem(0), QString());
    QVERIFY(!panel->runButton()->isEnabled());
    QCOMPARE(panel->runButton()->toolTip(), problem);
    QCOMPARE(panel->statusLabel()->text(), "Cannot run: " + problem);
    QVERIFY(editor()->errorLabel()->isVisible());
    QCOMPARE(editor()->errorLabel()->text(), problem);
    QCOMPARE(editor()->table()->item(1, OverridesEditor::ColRecipe)->toolTip(),
             editor()->rowProblem(1));

    // The window refuses it too (e.g. the Return key on the default button).
    const size_t before = w_->runs().size();
    emit panel->runRequested();
    QVERIFY(!w_->isRunning());
    QCOMPARE(w_->runs().size(), before);
    QVERIFY(w_->logText().contains("Run refused: " + problem));

    editor()->removeRow(1);
    QCOMPARE(editor()->problem(), QString());
    QVERIFY(panel->runButton()->isEnabled());
    QVERIFY(!editor()->errorLabel()->isVisible());
    QCOMPARE(panel->statusLabel()->text(), QString("Ready."));
}

// Typing into a cell is checked as it is committed; Add takes the editor's recipe when an
// override can take it, else INT8 per channel.
void TestGuiOverrides::editingACellRevalidates() {
    QVERIFY(w_->summary());
    RunPanel* panel = w_->runPanel();
    panel->setConfig(weightsOnly("rtn:int4:g32:asym"));
    QTest::mouseClick(editor()->addButton(), Qt::LeftButton);
    QCOMPARE(editor()->rowCount(), 1);
    QCOMPARE(editor()->overrides()[0].recipe, std::string("rtn:int4:g32:asym"));
    QVERIFY(editor()->problem().contains("the layer pattern is empty"));
    QVERIFY(!panel->runButton()->isEnabled());
    editor()->table()->item(0, OverridesEditor::ColPattern)->setText("*.o_proj");
    QCOMPARE(editor()->problem(), QString());
    QVERIFY(panel->runButton()->isEnabled());
    editor()->table()->item(0, OverridesEditor::ColRecipe)->setText("awq:int4:g128:asym");
    QVERIFY(editor()->problem().contains("fits to calibration data"));
    QVERIFY(!panel->runButton()->isEnabled());

    panel->setConfig(weightsOnly("gptq:int4:g128:asym"));  // not an override recipe
    QTest::mouseClick(editor()->addButton(), Qt::LeftButton);
    QCOMPARE(editor()->overrides()[0].recipe, std::string("rtn:int8:channel:sym"));
    panel->setConfig(weightsOnly("rtn:int8:channel:sym"));  // no rows: Run as before
    QVERIFY(panel->runButton()->isEnabled());
}

void TestGuiOverrides::cleanupTestCase() {
    if (w_) w_->close();
    w_.reset();
}

QTEST_MAIN(TestGuiOverrides)
#include "test_gui_overrides.moc"
