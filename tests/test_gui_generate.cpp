// The Generate tab (issue 11): text streams into the columns while the job runs, the
// columns equal core's compareGeneration for the same prompt and settings (a run in memory
// against the same run saved and read from its folder), tooltips and the KL chart carry
// the comparison's numbers, Cancel stops within 1 s and leaves the page usable, and a run
// of another model gives one clear message. stories260k and runs made here.
#include "app/gui/benchpanel.h"
#include "app/gui/generatepage.h"
#include "app/gui/generatetips.h"
#include "gui_helpers.h"
#include "run/run.h"
#include "widgets/exportutils.h"
#include "widgets/inferbenchchart.h"
#include "widgets/inferbenchtablemodel.h"
#include "widgets/tableroles.h"
#include "widgets/tokenklchart.h"
#include "widgets/tokentextview.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QFile>
#include <QHelpEvent>
#include <QImage>
#include <QLabel>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTabWidget>
#include <QToolTip>

#include <algorithm>

namespace {

using namespace ql;

RunPtr makeRun(const QString& model, const std::string& recipe) {
    RunConfig c = guitest::weightsOnly(recipe);
    c.modelDir = qltest::dataPath("models/" + model);
    return std::make_shared<const RunResult>(runQuantization(c));
}

// Waits for the page's job; false on timeout.
bool waitFinished(GeneratePage& page, int ms = 30000) {
    QSignalSpy done(&page, &GeneratePage::generationFinished);
    return page.isRunning() ? done.wait(ms) : true;
}

}  // namespace

class TestGuiGenerate : public QObject {
    Q_OBJECT
    RunPtr int4_, int3_, other_, evaluated_;
    QString int4Folder_;
    QString modelDir_;

private slots:
    void initTestCase() {
        guitest::initGuiSuite();
        if (!qltest::hasData("models/stories260k") || !qltest::hasData("models/tinystories-656k"))
            QSKIP("shared models stories260k / tinystories-656k absent");
        modelDir_ = qltest::dataDir() + "/models/stories260k";
        int4_ = makeRun("stories260k", "rtn:int4:g32:asym");
        int3_ = makeRun("stories260k", "rtn:int3:g32:asym");
        other_ = makeRun("tinystories-656k", "rtn:int8:channel:sym");
        RunConfig e = guitest::weightsOnly("rtn:int8:channel:sym");
        e.modelDir = modelDir_.toStdString();
        e.evaluationText = qltest::dataPath("data/stories/stories.txt");
        e.evalSeq = 128;
        e.evalMaxWindows = 2;
        evaluated_ = std::make_shared<const RunResult>(runQuantization(e));
        QVERIFY(evaluated_->perplexity.valid);
        int4Folder_ = qltest::tempDir("gui-generate-int4") + "/run";
        saveRun(*int4_, int4Folder_.toStdString());
    }

    void streamsAndEqualsCore_data() {
        QTest::addColumn<bool>("greedy");
        QTest::addColumn<QString>("prompt");
        QTest::newRow("greedy") << true << "Once upon a time";
        QTest::newRow("sampled T0.9 k40 p0.95") << false << "The little dog";
    }

    // The float column grows while the job runs; at the end every column's tokens equal
    // compareGeneration's with the run read from its saved folder.
    void streamsAndEqualsCore() {
        QFETCH(bool, greedy);
        QFETCH(QString, prompt);
        GeneratePage page;
        page.resize(1000, 600);
        page.show();
        page.setModel(modelDir_);
        page.setRuns({int4_});
        page.promptBox()->setPlainText(prompt);
        page.maxTokensBox()->setValue(40);
        page.samplingBox()->setCurrentIndex(greedy ? 0 : 1);
        page.temperatureBox()->setValue(0.9);
        page.topKBox()->setValue(40);
        page.topPBox()->setValue(0.95);
        page.seedBox()->setValue(7);
        QCOMPARE(page.checkedRuns().size(), size_t(1));
        bool sawStreaming = false;
        connect(&page, &GeneratePage::tokenShown, &page, [&](int output, int index) {
            if (output == 0 && index == 0)
                sawStreaming =
                    page.isRunning() && !page.result() && page.column(0)->tokenCount() == 1;
        });
        QSignalSpy done(&page, &GeneratePage::generationFinished);
        QVERIFY(page.start());
        QVERIFY(!page.generateButton()->isEnabled());
        QVERIFY(page.cancelButton()->isEnabled());
        QVERIFY(done.wait(30000));
        QVERIFY2(done.at(0).at(0).toBool(), qPrintable(page.statusLabel()->text()));
        QVERIFY2(sawStreaming, "the float column had its first token before the job ended");

        GenerationRequest core = page.request();
        core.runs.clear();
        core.runFolders = {int4Folder_.toStdString()};
        const GenerationComparison expect = compareGeneration(core);
        const GenerationComparison& got = *page.result();
        QCOMPARE(page.columnCount(), 2);
        QCOMPARE(got.outputs.size(), size_t(2));
        QVERIFY(expect.outputs[0].tokens.size() >= 5);
        for (int i = 0; i < 2; ++i) {
            const GeneratedText& e = expect.outputs[size_t(i)];
            QCOMPARE(got.outputs[size_t(i)].tokens, e.tokens);
            QCOMPARE(page.column(i)->pieces(), shownPieces(e));
            // The shares concatenate to the text core decodes from all tokens at once.
            QCOMPARE(shownPieces(e).join(QString()), QString::fromStdString(e.text));
            QVERIFY(page.column(i)->toPlainText().startsWith(page.column(i)->pieces().value(0)));
        }
        const GeneratedText& run = expect.outputs[1];
        QCOMPARE(page.column(1)->highlightedToken(),
                 run.firstDivergence < int(shownPieces(run).size()) ? run.firstDivergence : -1);
        QCOMPARE(page.column(0)->highlightedToken(), -1);
        // The chart: one line of the run, the same KL per float token (teacher-forced).
        QCPGraph* line = page.klChart()->graphOf(0);
        QVERIFY(line);
        QCOMPARE(line->dataCount(), int(run.perToken.size()));
        for (int i = 0; i < line->dataCount(); ++i)
            QVERIFY(std::abs(line->data()->at(i)->value - run.perToken[size_t(i)].kl) <=
                    1e-9 * (1.0 + run.perToken[size_t(i)].kl));
        QVERIFY(run.meanKl > 0.0);  // INT4 g32 moves the distributions
        QVERIFY(page.columnHeader(1)->text().contains(QString::number(run.meanKl, 'g', 3)));
        // Speed only where it is the model's own: the run decoded with dequantized float
        // weights, so a tokens/s there would be the float kernels'.
        QVERIFY(page.columnHeader(0)->text().contains("tok/s"));
        QVERIFY(!page.columnHeader(1)->text().contains("tok/s"));
        QVERIFY(page.columnHeader(1)->text().contains("simulated"));
        QVERIFY(page.columnHeader(1)->toolTip().contains("dequantized to float32"));
    }

    // "Runs on packed INT8/INT4 kernels": the run decodes on the packed kernels, its column
    // shows its own tokens/s and says what it computed with; the tokens are the simulated
    // run's (the kernels equal the dequantized layer up to float summation order).
    void packedRunsShowTheirSpeed() {
        GeneratePage page;
        page.resize(1000, 600);
        page.show();
        page.setModel(modelDir_);
        page.setRuns({int4_});
        page.maxTokensBox()->setValue(16);
        page.packedBox()->setChecked(true);
        QVERIFY(page.request().packedKernels);
        QVERIFY(page.start());
        QVERIFY(waitFinished(page));
        QVERIFY2(page.result(), qPrintable(page.statusLabel()->text()));
        const GeneratedText& run = page.result()->outputs.at(1);
        QVERIFY2(run.weightsAs.rfind("packed", 0) == 0, run.weightsAs.c_str());
        QVERIFY(page.columnHeader(1)->text().contains("tok/s"));
        QVERIFY(!page.columnHeader(1)->text().contains("simulated"));
        QVERIFY(page.columnHeader(1)->toolTip().contains("packed kernels"));

        GenerationRequest simulated = page.request();
        simulated.packedKernels = false;
        const GenerationComparison expect = compareGeneration(simulated);
        QCOMPARE(run.tokens, expect.outputs.at(1).tokens);
        QCOMPARE(expect.outputs.at(1).weightsAs, std::string("simulated-f32"));
    }

    // The packed box's two choices (as bench-infer and `generate --activations/--head`):
    // disabled and left out of the request while the runs are simulated; with them the run
    // says what it computed with and the page's columns equal core's comparison for the same
    // request (the run read back from its folder).
    void packedActivationsAndHeadChoices() {
        GeneratePage page;
        page.resize(1000, 600);
        page.show();
        page.setModel(modelDir_);
        page.setRuns({int4_});
        page.maxTokensBox()->setValue(12);
        page.activationsBox()->setCurrentIndex(1);
        page.headBox()->setCurrentIndex(page.headBox()->findData(int(HeadFormat::Int8)));
        QVERIFY(!page.activationsBox()->isEnabled());
        QVERIFY(!page.headBox()->isEnabled());
        QVERIFY(!page.request().int8Activations);
        QCOMPARE(int(page.request().head), int(HeadFormat::Float32));
        page.packedBox()->setChecked(true);
        QVERIFY(page.activationsBox()->isEnabled());
        QVERIFY(page.headBox()->isEnabled());
        QVERIFY(page.request().int8Activations);
        QCOMPARE(int(page.request().head), int(HeadFormat::Int8));

        QVERIFY(page.start());
        QVERIFY(!page.activationsBox()->isEnabled());  // not while it runs
        QVERIFY(waitFinished(page));
        QVERIFY2(page.result(), qPrintable(page.statusLabel()->text()));
        QVERIFY(page.activationsBox()->isEnabled());
        const GeneratedText& run = page.result()->outputs.at(1);
        QVERIFY2(run.weightsAs.find("int8 activations") != std::string::npos,
                 run.weightsAs.c_str());
        QVERIFY2(run.weightsAs.find("head") != std::string::npos, run.weightsAs.c_str());
        QVERIFY(page.columnHeader(1)->toolTip().contains("int8 activations"));

        GenerationRequest core = page.request();
        core.runs.clear();
        core.runFolders = {int4Folder_.toStdString()};
        const GenerationComparison expect = compareGeneration(core);
        QCOMPARE(run.tokens, expect.outputs.at(1).tokens);
        QCOMPARE(run.weightsAs, expect.outputs.at(1).weightsAs);
        QVERIFY(std::abs(run.meanKl - expect.outputs.at(1).meanKl) <=
                1e-9 * expect.outputs.at(1).meanKl);
        // The choices change the run's KL (quantized activations and head add their error).
        GenerationRequest plain = core;
        plain.int8Activations = false;
        plain.head = HeadFormat::Float32;
        const double plainKl = compareGeneration(plain).outputs.at(1).meanKl;
        QVERIFY2(
            std::abs(run.meanKl - plainKl) > 1e-3 * plainKl,
            qPrintable(QString("KL %1 with the choices, %2 without").arg(run.meanKl).arg(plainKl)));
    }

    // A tooltip belongs to the token under the mouse and states its numbers.
    void tooltipsOverTokens() {
        GeneratePage page;
        page.resize(1000, 600);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        page.setModel(modelDir_);
        page.setRuns({int4_});
        page.maxTokensBox()->setValue(24);
        QVERIFY(page.start());
        QVERIFY(waitFinished(page));
        QVERIFY(page.result());
        const GenerationComparison& c = *page.result();
        TokenTextView* view = page.column(1);
        const int n = view->tokenCount();
        QVERIFY(n >= 5);
        for (const int i : {0, 1, n / 2, n - 1}) {
            const QRect r = view->tokenRect(i);
            QVERIFY2(r.isValid(), qPrintable(QString("token %1 has a rectangle").arg(i)));
            QCOMPARE(view->tokenAt(r.center()), i);
            const QString tip = view->tokenToolTip(i);
            const TokenComparison& t = c.outputs[1].perToken[size_t(i)];
            QVERIFY2(tip.contains(QString::number(t.kl, 'g', 4) + " nats"), qPrintable(tip));
            QVERIFY(tip.contains(QString::number(t.floatProbOfFloatToken, 'f',
                                                 t.floatProbOfFloatToken >= 0.001 ? 4 : 6)));
            QHelpEvent help(QEvent::ToolTip, r.center(), view->viewport()->mapToGlobal(r.center()));
            QApplication::sendEvent(view->viewport(), &help);
            QCOMPARE(QToolTip::text(), tip);
        }
        // The float column lists every run's KL at its tokens.
        QVERIFY(page.column(0)->tokenToolTip(0).contains(
            QString::fromStdString(c.outputs[1].name).toHtmlEscaped()));
        // Far below the text there is no token, and no tooltip.
        QCOMPARE(view->tokenAt(QPoint(2, view->viewport()->height() - 2)), -1);
    }

    // Cancel on the first streamed token: the job ends within 1 s, the text so far stays,
    // and the next Generate works.
    void cancelStopsQuicklyAndPageStaysUsable() {
        GeneratePage page;
        page.setModel(modelDir_);
        page.setRuns({int4_, int3_});
        page.maxTokensBox()->setValue(400);
        page.samplingBox()->setCurrentIndex(1);
        QElapsedTimer sinceCancel;
        connect(&page, &GeneratePage::tokenShown, &page, [&](int output, int index) {
            if (output == 0 && index == 0) {
                page.cancelButton()->click();
                sinceCancel.start();
            }
        });
        QSignalSpy done(&page, &GeneratePage::generationFinished);
        QVERIFY(page.start());
        QVERIFY(done.wait(30000));
        QVERIFY(sinceCancel.isValid());
        QVERIFY2(sinceCancel.elapsed() < 1000,
                 qPrintable(QString("cancel took %1 ms").arg(sinceCancel.elapsed())));
        QCOMPARE(done.at(0).at(0).toBool(), false);
        QVERIFY(!page.result());
        QVERIFY2(page.statusLabel()->text().startsWith("Cancelled"),
                 qPrintable(page.statusLabel()->text()));
        QVERIFY(page.errorText().isEmpty());
        QVERIFY(page.column(0)->tokenCount() >= 1);
        QVERIFY(!page.isRunning());
        QVERIFY(page.generateButton()->isEnabled());
        QVERIFY(!page.cancelButton()->isEnabled());
        disconnect(&page, &GeneratePage::tokenShown, &page, nullptr);
        page.maxTokensBox()->setValue(8);
        QVERIFY(page.start());
        QVERIFY(waitFinished(page));
        QVERIFY(page.result());
        QCOMPARE(page.result()->outputs.size(), size_t(3));
    }

    // A run of another model: one message naming the run and the layer, nothing generated.
    void runOfAnotherModelIsOneClearMessage() {
        GeneratePage page;
        page.setModel(modelDir_);
        page.setRuns({int4_, other_});
        QVERIFY(page.start());
        QVERIFY(waitFinished(page));
        QVERIFY(!page.result());
        QVERIFY2(page.errorText().contains("another model"), qPrintable(page.errorText()));
        QVERIFY(page.errorText().contains("model.layers.0"));
        QVERIFY(!page.errorText().contains('\n'));
        QVERIFY(page.statusLabel()->text().contains(page.errorText().toHtmlEscaped()));
        QCOMPARE(page.column(0)->tokenCount(), 0);  // refused before any generation
        // Unchecking the bad run makes the page work again.
        page.runsList()->item(1)->setCheckState(Qt::Unchecked);
        QVERIFY(page.start());
        QVERIFY(waitFinished(page));
        QVERIFY(page.result());
        QVERIFY(page.errorText().isEmpty());
    }

    // Speed and memory: a row for float and each checked run, the engine's numbers, the
    // run's perplexity beside and the settings stated; a bad run is one message.
    void benchTable() {
        GeneratePage page;
        page.setModel(modelDir_);
        page.setRuns({int4_, evaluated_});
        BenchPanel* bench = page.benchPanel();
        bench->promptTokensBox()->setValue(16);
        bench->genTokensBox()->setValue(8);
        QSignalSpy done(bench, &BenchPanel::benchFinished);
        QVERIFY(bench->start());
        QVERIFY(!page.generateButton()->isEnabled());  // one job at a time
        QVERIFY(done.wait(60000));
        QVERIFY2(done.at(0).at(0).toBool(), qPrintable(bench->statusLabel()->text()));
        QVERIFY(page.generateButton()->isEnabled());
        const InferBenchTableModel* m = bench->tableModel();
        QCOMPARE(m->columnCount(), 3);
        const InferBenchResult& r = *m->result();
        QCOMPARE(m->headerData(0, Qt::Horizontal).toString(), QString("float"));
        QCOMPARE(m->headerData(2, Qt::Horizontal).toString(), runDisplayName(*evaluated_));
        QCOMPARE(m->cell(0, InferBenchTableModel::ColWeightsAs).data().toString(), QString("f32"));
        QVERIFY(
            m->cell(1, InferBenchTableModel::ColWeightsAs).data().toString().startsWith("packed"));
        for (int row = 0; row < 3; ++row) {
            const InferBenchRow& e = r.rows[size_t(row)];
            QVERIFY(e.prefillTokensPerSecond > 0.0 && e.decodeTokensPerSecond > 0.0);
            QCOMPARE(m->cell(row, InferBenchTableModel::ColDecode).data().toString(),
                     QString::number(e.decodeTokensPerSecond, 'f', 1));
            QCOMPARE(m->cell(row, InferBenchTableModel::ColWeightBytes).data(SortRole).toDouble(),
                     double(e.weightBytes));
            QVERIFY(e.kvCacheBytes > 0);
        }
        // Packed INT4 weights are smaller than float32's (the 35 projections shrink ~6x).
        QVERIFY(r.rows[1].weightBytes < r.rows[0].weightBytes);
        // Perplexity: none for the weights-only run, the evaluated run's own and its float one.
        QCOMPARE(m->cell(1, InferBenchTableModel::ColPerplexity).data().toString(), QString("—"));
        QCOMPARE(m->cell(2, InferBenchTableModel::ColPerplexity).data().toString(),
                 QString::number(evaluated_->perplexity.pplQ, 'f', 3));
        QCOMPARE(m->cell(0, InferBenchTableModel::ColPerplexity).data().toString(),
                 QString::number(evaluated_->perplexity.pplFp, 'f', 3));
        QVERIFY(m->cell(2, InferBenchTableModel::ColPerplexity)
                    .data(Qt::ToolTipRole)
                    .toString()
                    .contains("stories.txt"));
        const QString caption = bench->captionLabel()->text();
        QVERIFY2(caption.contains(QString("%1 thread").arg(r.threads)) &&
                     caption.contains("prefill of 16 tokens") && caption.contains("8 decoded"),
                 qPrintable(caption));
        // Only the checked runs are benched; a run of another model is one clear message.
        page.runsList()->item(1)->setCheckState(Qt::Unchecked);
        page.setRuns({int4_, other_});
        page.runsList()->item(0)->setCheckState(Qt::Unchecked);
        QVERIFY(bench->start());
        QVERIFY(done.wait(60000));
        QCOMPARE(done.at(1).at(0).toBool(), false);
        QVERIFY2(bench->errorText().contains("another model"), qPrintable(bench->errorText()));
        QCOMPARE(m->columnCount(), 3);  // the last measurement stays
        QCOMPARE(bench->chart()->data().points.size(), size_t(3));
    }

    // Int8 activations and a quantized head: the packed rows say so (the head's KL in the
    // tooltip), the float row stays float32; without packed kernels both choices are off (they
    // exist only there) and the request says float.
    void benchInt8Activations() {
        GeneratePage page;
        page.setModel(modelDir_);
        page.setRuns({int4_});
        BenchPanel* bench = page.benchPanel();
        bench->promptTokensBox()->setValue(8);
        bench->genTokensBox()->setValue(4);
        QVERIFY(!bench->request().int8Activations);
        QCOMPARE(bench->request().head, HeadFormat::Float32);
        bench->activationsBox()->setCurrentIndex(1);
        bench->headBox()->setCurrentIndex(bench->headBox()->findData(int(HeadFormat::Int8)));
        QVERIFY(bench->request().int8Activations);
        QCOMPARE(bench->request().head, HeadFormat::Int8);
        bench->packedBox()->setChecked(false);
        QVERIFY(!bench->activationsBox()->isEnabled() && !bench->headBox()->isEnabled());
        QVERIFY(!bench->request().int8Activations);
        QCOMPARE(bench->request().head, HeadFormat::Float32);
        bench->packedBox()->setChecked(true);
        QVERIFY(bench->activationsBox()->isEnabled());
        QSignalSpy done(bench, &BenchPanel::benchFinished);
        QVERIFY(bench->start());
        QVERIFY(!bench->activationsBox()->isEnabled());  // settings fixed while it runs
        QVERIFY(done.wait(60000));
        QVERIFY2(done.at(0).at(0).toBool(), qPrintable(bench->statusLabel()->text()));
        const InferBenchTableModel* m = bench->tableModel();
        QCOMPARE(m->cell(0, InferBenchTableModel::ColWeightsAs).data().toString(), QString("f32"));
        const QString packed = m->cell(1, InferBenchTableModel::ColWeightsAs).data().toString();
        QVERIFY2(packed.startsWith("packed") &&
                     packed.endsWith("int8 activations, head int8 channel sym"),
                 qPrintable(packed));
        const InferBenchRow& row = m->result()->rows[1];
        QVERIFY(row.decodeTokensPerSecond > 0.0);
        QCOMPARE(row.headKlPositions, 8);  // the prompt's positions
        const QString tip =
            m->cell(1, InferBenchTableModel::ColWeightsAs).data(Qt::ToolTipRole).toString();
        QVERIFY2(tip.contains("KL") && tip.contains(QString::number(row.headKlMean, 'g', 3)),
                 qPrintable(tip));
    }

    // The chart beside the table: a point per model at the table's weight bytes and decode
    // (filled) and prefill (hollow) tokens/s; the labels carry the table's perplexity with its
    // settings, "ppl —" for the run not evaluated; no two labels overlap.
    void benchChartEqualsTable() {
        GeneratePage page;
        page.resize(1280, 720);
        page.show();
        page.sections()->setCurrentIndex(1);
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        page.setModel(modelDir_);
        page.setRuns({int4_, evaluated_});
        BenchPanel* bench = page.benchPanel();
        InferBenchChart* chart = bench->chart();
        QCOMPARE(chart->graphCount(), 0);
        QVERIFY(chart->message().contains("press Bench"));
        bench->promptTokensBox()->setValue(16);
        bench->genTokensBox()->setValue(8);
        QSignalSpy done(bench, &BenchPanel::benchFinished);
        QVERIFY(bench->start());
        QVERIFY(done.wait(60000));
        QVERIFY2(done.at(0).at(0).toBool(), qPrintable(bench->statusLabel()->text()));
        QVERIFY(chart->message().isEmpty());
        const InferBenchTableModel* m = bench->tableModel();
        const double mib = 1024.0 * 1024.0;
        for (int model = 0; model < 3; ++model) {
            QCPGraph* decode = chart->decodeGraph(model);
            QCPGraph* prefill = chart->prefillGraph(model);
            QVERIFY(decode && prefill);
            QCOMPARE(decode->dataCount(), 1);
            QCOMPARE(prefill->dataCount(), 1);
            const double bytes =
                m->cell(model, InferBenchTableModel::ColWeightBytes).data(SortRole).toDouble();
            QCOMPARE(decode->data()->at(0)->key, bytes / mib);
            QCOMPARE(prefill->data()->at(0)->key, bytes / mib);
            QCOMPARE(decode->data()->at(0)->value,
                     m->cell(model, InferBenchTableModel::ColDecode).data(SortRole).toDouble());
            QCOMPARE(prefill->data()->at(0)->value,
                     m->cell(model, InferBenchTableModel::ColPrefill).data(SortRole).toDouble());
            QCOMPARE(decode->valueAxis(), chart->yAxis);
            QCOMPARE(prefill->valueAxis(), chart->yAxis2);
            const QString label = chart->label(model)->text();
            QVERIFY2(label.startsWith(m->headerData(model, Qt::Horizontal).toString() + "\n"),
                     qPrintable(label));
        }
        // Packed INT4 sits left of float (fewer bytes).
        QVERIFY(chart->decodeGraph(1)->data()->at(0)->key <
                chart->decodeGraph(0)->data()->at(0)->key);
        const QString settings = "seq 128 × 2";
        for (const int model : {0, 2}) {
            const QString ppl =
                m->cell(model, InferBenchTableModel::ColPerplexity).data().toString();
            QVERIFY2(chart->label(model)->text().contains("ppl " + ppl + " (" + settings + ")"),
                     qPrintable(chart->label(model)->text()));
        }
        QVERIFY(chart->label(1)->text().endsWith("ppl —"));
        QVERIFY2(chart->title().contains("stories.txt") && chart->title().contains("seq 128"),
                 qPrintable(chart->title()));
        for (const QSize size : {QSize(1280, 720), QSize(700, 420)}) {
            page.resize(size);
            chart->replot();
            for (int a = 0; a < 3; ++a)
                for (int b = a + 1; b < 3; ++b) {
                    auto rect = [&](int i) {
                        return QRectF(chart->label(i)->topLeft->pixelPosition(),
                                      chart->label(i)->bottomRight->pixelPosition());
                    };
                    QVERIFY2(!rect(a).intersects(rect(b)),
                             qPrintable(QString("labels %1 and %2 overlap at %3 × %4 (chart %5 × "
                                                "%6)")
                                            .arg(a)
                                            .arg(b)
                                            .arg(size.width())
                                            .arg(size.height())
                                            .arg(chart->width())
                                            .arg(chart->height())));
                    QVERIFY(chart->axisRect()->rect().contains(rect(a).toAlignedRect()));
                }
            // With room (the first size), no label covers a model's decode marker.
            for (int a = 0; a < 3 && size.width() == 1280; ++a)
                for (int model = 0; model < 3; ++model) {
                    const QRectF label(chart->label(a)->topLeft->pixelPosition(),
                                       chart->label(a)->bottomRight->pixelPosition());
                    const auto d = chart->decodeGraph(model)->data()->at(0);
                    const QPointF p(chart->xAxis->coordToPixel(d->key),
                                    chart->yAxis->coordToPixel(d->value));
                    QVERIFY2(!label.contains(p),
                             qPrintable(QString("label %1 covers point %2").arg(a).arg(model)));
                }
        }
        // The chart's data as CSV: a line per model with the same numbers; PNG and CSV
        // export as every chart's.
        const QStringList csv = chart->dataCsv().trimmed().split('\n');
        QCOMPARE(csv.size(), 4);
        QVERIFY(csv[3].contains(QString::number(evaluated_->perplexity.pplQ, 'f', 3)));
        const QString dir = qltest::tempDir("gui-generate-chart");
        QVERIFY(exportPlot(chart, dir + "/speed.png", QSize(800, 500)).ok);
        const QImage png(dir + "/speed.png");
        QCOMPARE(png.size(), QSize(800, 500));
        QVERIFY(exportPlot(chart, dir + "/speed.csv", QSize(800, 500)).ok);
        QFile file(dir + "/speed.csv");
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(QString::fromUtf8(file.readAll()), chart->dataCsv());
    }

    // Evaluation settings that differ between the runs: each label names its own, the float
    // point gives the float perplexity of each setting, and the title says they differ.
    void benchChartDifferentSettings() {
        RunResult other = *evaluated_;
        other.perplexity.seq = 64;
        other.perplexity.windows = 4;
        other.perplexity.pplFp = 11.5;
        other.perplexity.pplQ = 12.25;
        const RunList runs{evaluated_, std::make_shared<const RunResult>(other), int4_};
        InferBenchResult r;
        for (const char* name : {"float", "a", "b", "c"}) {
            InferBenchRow row;
            row.name = name;
            row.weightBytes = 1 << 20;
            row.decodeTokensPerSecond = 10.0;
            row.prefillTokensPerSecond = 100.0;
            r.rows.push_back(row);
        }
        const InferBenchChartData d = inferBenchChartData(r, runs);
        QVERIFY(d.settingsDiffer);
        QVERIFY(d.evaluation.isEmpty());
        const QString first = evalSettingLabel(*evaluated_), second = evalSettingLabel(other);
        QVERIFY(first != second);
        QCOMPARE(d.points[0].perplexity, QString("ppl %1 (%2)\nppl 11.500 (%3)")
                                             .arg(evaluated_->perplexity.pplFp, 0, 'f', 3)
                                             .arg(first, second));
        QCOMPARE(d.points[1].perplexity,
                 QString("ppl %1 (%2)").arg(evaluated_->perplexity.pplQ, 0, 'f', 3).arg(first));
        QCOMPARE(d.points[2].perplexity, QString("ppl 12.250 (%1)").arg(second));
        QCOMPARE(d.points[3].perplexity, QString("ppl —"));
        InferBenchChart chart;
        chart.setResult(std::make_shared<const InferBenchResult>(r), runs);
        QVERIFY(chart.title().contains("different settings"));
        chart.setResult(nullptr, {});
        QCOMPARE(chart.graphCount(), 0);
        QVERIFY(!chart.message().isEmpty());
    }

    void benchCancels() {
        GeneratePage page;
        page.setModel(modelDir_);
        page.setRuns({int4_, int3_});
        BenchPanel* bench = page.benchPanel();
        bench->promptTokensBox()->setValue(256);
        bench->genTokensBox()->setValue(250);
        QSignalSpy done(bench, &BenchPanel::benchFinished);
        // The same bench uncancelled, for scale: on a loaded machine every step is slower, so
        // "cancel stops it early" is measured against it (1.5 s is the floor of the bound).
        QElapsedTimer whole;
        whole.start();
        QVERIFY(bench->start());
        QVERIFY(done.wait(120000));
        QCOMPARE(done.at(0).at(0).toBool(), true);
        const qint64 full = whole.elapsed();
        done.clear();
        QVERIFY(bench->start());
        QTest::qWait(200);
        QElapsedTimer t;
        t.start();
        bench->cancelButton()->click();
        QVERIFY(done.wait(10000));
        QVERIFY2(t.elapsed() < std::max<qint64>(1500, full / 2),
                 qPrintable(
                     QString("cancel took %1 ms (whole bench %2 ms)").arg(t.elapsed()).arg(full)));
        QCOMPARE(done.at(0).at(0).toBool(), false);
        QVERIFY(bench->statusLabel()->text().startsWith("Cancelled"));
        QVERIFY(bench->benchButton()->isEnabled());
    }

    void blockedWithoutModelOrPrompt() {
        GeneratePage page;
        QVERIFY(!page.generateButton()->isEnabled());
        QVERIFY(!page.start());
        QCOMPARE(page.statusLabel()->text(), QString("Open a model to generate."));
        page.setModel(modelDir_);
        QVERIFY(page.generateButton()->isEnabled());
        page.promptBox()->setPlainText("  ");
        QVERIFY(!page.generateButton()->isEnabled());
        page.setModel(modelDir_, "no tokenizer");
        page.promptBox()->setPlainText("Once");
        QVERIFY(!page.start());
        QVERIFY(page.statusLabel()->text().contains("no tokenizer"));
    }

    // In the workbench: the open model and its runs reach the tab; checks survive a new run.
    void windowFeedsThePage() {
        const auto w = guitest::makeWindow(qltest::tempDir("gui-generate-autosave"));
        w->setAutosaveDir({});
        QVERIFY(guitest::openStories(*w));
        GeneratePage* page = w->generatePage();
        QVERIFY(page->generateButton()->isEnabled());
        w->addRun(int4_);
        QCOMPARE(page->runsList()->count(), 1);
        page->runsList()->item(0)->setCheckState(Qt::Unchecked);
        w->addRun(int3_);
        QCOMPARE(page->runsList()->count(), 2);
        QCOMPARE(page->checkedRuns().size(), size_t(1));
        w->setChartTab(MainWindow::GenerateTab);
        QCOMPARE(w->currentChart(), static_cast<QCustomPlot*>(page->klChart()));
        QCOMPARE(w->chartName(page->klChart()).stem, QString("generation_kl"));
        page->sections()->setCurrentIndex(1);
        QCOMPARE(w->currentChart(), static_cast<QCustomPlot*>(page->benchPanel()->chart()));
        QCOMPARE(w->chartName(page->benchPanel()->chart()).stem, QString("inference_speed_memory"));
    }
};

QTEST_MAIN(TestGuiGenerate)
#include "test_gui_generate.moc"
