// The run panel's recipe editor from the method registry (issue 8): the method list and
// the fields each method declares, recipes that parse back to themselves, the NF4 presets,
// and the "NF4 (bnb)" preset run through the background path on stories260k, down to the
// packed bytes and the weight histogram of its layers (no grid levels for a codebook).
#include "app/gui/mainwindow.h"
#include "app/gui/runpanel.h"
#include "gui_helpers.h"
#include "quant/method_registry.h"
#include "testdata.h"
#include "widgets/histogramview.h"

#include <QCheckBox>
#include <QComboBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QtTest>

#include <cmath>

using namespace ql;
using namespace guitest;

namespace {
// Packed NF4 bytes by hand: two codes a byte plus one fp32 absmax per block (no dq).
uint64_t nf4Bytes(uint64_t n, uint64_t block) {
    return (n + 1) / 2 + 4 * ((n + block - 1) / block);
}
}  // namespace

class TestGuiNf4 : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void methodListComesFromTheRegistry();
    void fieldsFollowTheMethodsOptions();
    void everyEditorRecipeParsesBack();
    void presetsIncludeNf4();
    void activationFieldsAndPresets();
    void nf4PresetRunsInTheBackground();
    void cleanupTestCase();

private:
    RunPanel* panel() const { return w_->runPanel(); }
    std::unique_ptr<MainWindow> w_;
};

void TestGuiNf4::initTestCase() {
    initGuiSuite();
    w_ = makeWindow(qltest::tempDir("test_gui_nf4_autosave"));
    w_->setClosePrompt(answer(MainWindow::CloseChoice::Discard));
}

void TestGuiNf4::methodListComesFromTheRegistry() {
    QComboBox* box = panel()->methodBox();
    QCOMPARE(box->count(), int(methodRegistry().size()));
    for (int i = 0; i < box->count(); ++i) {
        const MethodSpec& m = methodRegistry()[size_t(i)];
        QCOMPARE(box->itemData(i).toString(), QString(m.name));
        QCOMPARE(box->itemData(i, Qt::ToolTipRole).toString(), QString(m.grammar));
    }
    QVERIFY(box->findData("nf4") >= 0 && box->findData("fp4") >= 0);
}

// A field's row is shown exactly when the selected method declares its option.
void TestGuiNf4::fieldsFollowTheMethodsOptions() {
    RunPanel* p = panel();
    const QList<QPair<QWidget*, unsigned>> fields = {{p->bitsBox(), kOptBits},
                                                     {p->granularityBox(), kOptGranularity},
                                                     {p->groupSizeBox(), kOptGranularity},
                                                     {p->symmetryBox(), kOptSymmetry},
                                                     {p->blockSizeBox(), kOptBlockSize},
                                                     {p->doubleQuantBox(), kOptDoubleQuant},
                                                     {p->computeDtypeBox(), kOptComputeDtype}};
    for (const MethodSpec& m : methodRegistry()) {
        p->methodBox()->setCurrentIndex(p->methodBox()->findData(QString(m.name)));
        for (const auto& [field, option] : fields)
            QVERIFY2(p->isFieldShown(field) == bool(m.options & option),
                     qPrintable(QString("%1: %2").arg(m.name, field->metaObject()->className())));
    }
    // SmoothQuant (+sq) combines with both families' methods.
    QCOMPARE(methodSpec(QuantMethod::Nf4).options, kCodebook4Options | unsigned(kOptSmoothQuant));
    QCOMPARE(methodSpec(QuantMethod::Gptq).options,
             kIntegerGridOptions | unsigned(kOptSmoothQuant));
}

// Every combination the editor can express is the canonical text of what it shows: it parses
// back to the same text, and loading that text into the editor gives it again.
void TestGuiNf4::everyEditorRecipeParsesBack() {
    RunPanel* p = panel();
    int checked = 0;
    const auto check = [&] {
        const QString text = p->recipeText();
        const Recipe r = Recipe::parse(text.toStdString());
        QCOMPARE(QString::fromStdString(r.toString()), text);
        QCOMPARE(QString::fromStdString(methodName(r.method)),
                 p->methodBox()->currentData().toString());
        p->setConfig(weightsOnly(text.toStdString()));
        QCOMPARE(p->recipeText(), text);
        ++checked;
    };
    for (const MethodSpec& m : methodRegistry()) {
        p->methodBox()->setCurrentIndex(p->methodBox()->findData(QString(m.name)));
        if (m.options & kOptBlockSize) {
            for (int b = 0; b < p->blockSizeBox()->count(); ++b)
                for (bool dq : {false, true})
                    for (int d = 0; d < p->computeDtypeBox()->count(); ++d) {
                        p->blockSizeBox()->setCurrentIndex(b);
                        p->doubleQuantBox()->setChecked(dq);
                        p->computeDtypeBox()->setCurrentIndex(d);
                        check();
                        const Recipe r = Recipe::parse(p->recipeText().toStdString());
                        QCOMPARE(r.blockSize, p->blockSizeBox()->currentText().toInt());
                        QCOMPARE(r.doubleQuant, dq);
                        QCOMPARE(int(r.computeDtype), d);
                    }
        } else if (m.options & kOptBits) {
            for (int bits = 2; bits <= 8; ++bits)
                for (int g = 0; g < p->granularityBox()->count(); ++g)
                    for (int s = 0; s < 2; ++s) {
                        p->bitsBox()->setValue(bits);
                        p->granularityBox()->setCurrentIndex(g);
                        p->groupSizeBox()->setValue(64);
                        p->symmetryBox()->setCurrentIndex(s);
                        check();
                        QCOMPARE(Recipe::parse(p->recipeText().toStdString()).bits, bits);
                    }
        } else {
            check();
        }
    }
    // nf4/fp4: 8 block sizes x dq x 3 dtypes; rtn/gptq/awq: 7 widths x 3 granularities x 2;
    // fp16, bf16, llm_int8, the 10 llama.cpp formats and the 8 llama-quantize mixes once
    QCOMPARE(checked, 2 * 8 * 2 * 3 + 3 * 7 * 3 * 2 + 3 + 10 + 8);
}

// The activation side's fields (any method without its own) and LLM.int8()'s threshold
// (only llm_int8) are shown as the registry says, write the recipe and read it back.
void TestGuiNf4::activationFieldsAndPresets() {
    RunPanel* p = panel();
    const QStringList names = RunPanel::presetNames();
    p->presetBox()->setCurrentIndex(names.indexOf("W8A8 (per-token)"));
    QVERIFY(p->isFieldShown(p->actBitsBox()) && !p->isFieldShown(p->thresholdBox()));
    QCOMPARE(p->actBitsBox()->value(), 8);
    p->actGranularityBox()->setCurrentIndex(1);
    p->actSymmetryBox()->setCurrentIndex(1);
    p->bitsBox()->setValue(4);
    QCOMPARE(p->recipeText(), QString("rtn:int4:channel:sym+a8:tensor:asym"));
    QCOMPARE(p->presetBox()->currentText(), QString("Custom"));
    p->actBitsBox()->setValue(0);  // float activations: the recipe has no activation side
    QCOMPARE(p->recipeText(), QString("rtn:int4:channel:sym"));
    QVERIFY(!p->actGranularityBox()->isEnabled());
    p->presetBox()->setCurrentIndex(names.indexOf("LLM.int8()"));
    QVERIFY(!p->isFieldShown(p->actBitsBox()) && p->isFieldShown(p->thresholdBox()));
    QVERIFY(!p->isFieldShown(p->bitsBox()));
    QCOMPARE(p->recipeText(), QString("llm_int8:t6"));
    p->thresholdBox()->setValue(3.5);
    QCOMPARE(p->recipeText(), QString("llm_int8:t3.5"));
    QCOMPARE(p->presetBox()->currentText(), QString("Custom"));
    p->setConfig(weightsOnly("nf4:b128+a4:token:asym"));
    QCOMPARE(p->recipeText(), QString("nf4:b128:fp32+a4:token:asym"));
    QCOMPARE(p->actBitsBox()->value(), 4);
}

void TestGuiNf4::presetsIncludeNf4() {
    RunPanel* p = panel();
    const QStringList names = RunPanel::presetNames();
    for (const char* name : {"INT8 per-channel", "INT4 g128 (GPTQ)", "NF4 (bnb)",
                             "NF4 + double quant", "W8A8 (per-token)", "LLM.int8()"})
        QVERIFY2(names.contains(name), qPrintable(names.join(", ")));
    const QList<QPair<QString, QString>> expected = {
        {"INT8 per-channel", "rtn:int8:channel:sym"},
        {"INT4 g128 (GPTQ)", "gptq:int4:g128:asym"},
        {"NF4 (bnb)", "nf4:b64:fp32"},
        {"NF4 + double quant", "nf4:b64:dq:fp32"},
        {"W8A8 (per-token)", "rtn:int8:channel:sym+a8:token:sym"},
        {"LLM.int8()", "llm_int8:t6"}};
    for (const auto& [name, recipe] : expected) {
        p->presetBox()->setCurrentIndex(names.indexOf(name));
        QCOMPARE(p->recipeText(), recipe);
        QCOMPARE(p->presetBox()->currentText(), name);  // the preset stays selected
    }
    // Editing away from a preset shows Custom; editing back finds the preset again.
    p->presetBox()->setCurrentIndex(names.indexOf("NF4 (bnb)"));
    QVERIFY(p->isFieldShown(p->blockSizeBox()) && !p->isFieldShown(p->bitsBox()));
    QCOMPARE(p->doubleQuantBox()->isChecked(), false);
    p->doubleQuantBox()->setChecked(true);
    QCOMPARE(p->presetBox()->currentText(), QString("NF4 + double quant"));
    p->computeDtypeBox()->setCurrentText("bf16");
    QCOMPARE(p->presetBox()->currentText(), QString("Custom"));
    QCOMPARE(p->recipeText(), QString("nf4:b64:dq:bf16"));
}

void TestGuiNf4::nf4PresetRunsInTheBackground() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(openStories(*w_));
    RunPanel* p = panel();
    p->setConfig(smallConfig("rtn:int8:channel:sym"));  // texts and windows, then the preset
    p->presetBox()->setCurrentIndex(RunPanel::presetNames().indexOf("NF4 (bnb)"));
    QCOMPARE(p->config().calibrationWindows, 4);
    QSignalSpy finished(w_.get(), &MainWindow::runFinished);
    QVERIFY(p->runButton()->isEnabled());
    p->runButton()->click();
    QVERIFY(w_->isRunning());
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(w_->logText()));
    const RunPtr run = w_->runs().back();
    QCOMPARE(run->config.recipe, std::string("nf4:b64:fp32"));
    QCOMPARE(int(run->layers.size()), 35);
    for (const LayerResult& l : run->layers) {
        QVERIFY2(QString::fromStdString(l.method).startsWith("nf4:b64"), l.method.c_str());
        QCOMPARE(l.weightAfterSource, std::string("codebook"));
        QCOMPARE(l.bytesQ, nf4Bytes(uint64_t(l.rows * l.cols), 64));
        QVERIFY(l.weightSqnrDb > 0.0 && std::isfinite(l.weightSqnrDb));
    }
    QVERIFY(run->perplexity.valid);

    // The weight histogram shows the layer, re-binned from the recomputed codebook weights,
    // without grid level lines.
    const LayerResult& l = run->layers[3];
    w_->selectLayer(l.name);
    HistogramView* view = w_->histogramView();
    QCOMPARE(view->layer(), l.name);
    QCOMPARE(view->run(), run);
    view->setBinCount(48);
    QTRY_VERIFY_WITH_TIMEOUT(!view->rebinPending() && view->weightChart()->after().bins() == 48,
                             10000);
    const Histogram& shown = view->weightChart()->after();
    QCOMPARE(shown.counts, rebinWeights(*run, l.name, "after", shown.lo, shown.hi, 48).counts);
    uint64_t total = 0;
    for (uint64_t c : shown.counts) total += c;
    QCOMPARE(total, uint64_t(l.rows * l.cols));
    // NF4 has at most 16 distinct values per block; the histogram must differ from "before".
    QVERIFY(shown.counts != view->weightChart()->before().counts);
    QVERIFY(view->levels().empty());
    QCOMPARE(view->weightChart()->levelCount(), 0);
    QVERIFY(view->weightChart()->levelNote().isEmpty());
    int levelBoxes = 0;  // the level controls are off, and say why
    for (QCheckBox* box : view->findChildren<QCheckBox*>())
        if (box->text() == "Levels") {
            ++levelBoxes;
            QVERIFY(!box->isEnabled());
            QVERIFY2(box->toolTip().contains("codebook"), qPrintable(box->toolTip()));
        }
    QCOMPARE(levelBoxes, 1);
}

void TestGuiNf4::cleanupTestCase() {
    w_.reset();
}

QTEST_MAIN(TestGuiNf4)
#include "test_gui_nf4.moc"
