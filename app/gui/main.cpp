// quantlens — the QuantLens workbench.
#include "app/gui/mainwindow.h"
#include "app/gui/session.h"
#include "base/process_env.h"
#include "model/model.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QImage>
#include <QPainter>
#include <QStyleFactory>
#include <QSvgRenderer>

int main(int argc, char** argv) {
    // QUANTLENS_THREADS bounds every pool (OpenMP, OpenBLAS, torch, the engine's own);
    // unset: every core.
    ql::prepareProcessEnvironment(argv, ql::requestedThreads(0, argv));
    ql::setComputeThreads(ql::requestedThreads(0, argv));
    QApplication app(argc, argv);
    QApplication::setApplicationName("QuantLens");
    QApplication::setOrganizationName("QuantLens");
    QApplication::setApplicationVersion("0.1.0");
    QApplication::setDesktopFileName("quantlens");
    QApplication::setWindowIcon(QIcon(":/quantlens.svg"));
    QApplication::setStyle(QStyleFactory::create("Fusion"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        "QuantLens: quantize language models and inspect every layer.");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("model", "Model folder (Hugging Face layout) to open.", "[MODEL]");
    const QCommandLineOption recipe("run-recipe", "Run RECIPE after opening (repeatable).",
                                    "recipe");
    const QCommandLineOption openRun("open-run", "Open a saved run folder (repeatable).", "dir");
    const QCommandLineOption calib("calib", "Calibration text file.", "file");
    const QCommandLineOption calibWindows("calib-windows", "Calibration windows.", "n", "16");
    const QCommandLineOption calibSeq("calib-seq", "Calibration window length.", "n", "256");
    const QCommandLineOption eval("eval", "Evaluation text file.", "file");
    const QCommandLineOption evalSeq("eval-seq", "Evaluation sequence length (0 = auto).", "n",
                                     "0");
    const QCommandLineOption evalWindows("eval-windows", "Maximum evaluation windows (0 = all).",
                                         "n", "0");
    const QCommandLineOption screenshot("screenshot", "Save a screenshot of the window and quit.",
                                        "png");
    const QCommandLineOption theme("theme", "light or dark.", "theme", "light");
    const QCommandLineOption size("size", "Window size WxH.", "size", "1400x900");
    const QCommandLineOption layer("layer", "Layer to select.", "name");
    const QCommandLineOption tab("tab", "Chart tab: histograms, sqnr, summary, compare.", "tab");
    const QCommandLineOption htab("histogram-tab", "weights, activations or gradients.", "tab");
    const QCommandLineOption table("table", "Table tab: sqnr, memory, perplexity.", "tab");
    const QCommandLineOption logCounts("log-counts", "Logarithmic histogram counts.");
    const QCommandLineOption renderIcon("render-icon", "Render the icon as a 256x256 PNG and quit.",
                                        "png");
    for (const auto& o :
         {recipe, openRun, calib, calibWindows, calibSeq, eval, evalSeq, evalWindows, screenshot,
          theme, size, layer, tab, htab, logCounts, renderIcon, table})
        parser.addOption(o);
    parser.process(app);
    if (parser.isSet(renderIcon)) {  // for packaging: resources/quantlens-256.png
        QImage icon(256, 256, QImage::Format_ARGB32_Premultiplied);
        icon.fill(Qt::transparent);
        QPainter painter(&icon);
        QSvgRenderer(QString(":/quantlens.svg")).render(&painter);
        painter.end();
        return icon.save(parser.value(renderIcon)) ? 0 : 1;
    }

    ql::installDefaultRunTokenizer();
    ql::MainWindow window;
    window.setDarkTheme(parser.value(theme) == "dark");
    const QStringList wh = parser.value(size).split('x');
    if (wh.size() == 2 && wh[0].toInt() > 0 && wh[1].toInt() > 0)
        window.resize(wh[0].toInt(), wh[1].toInt());
    window.show();

    ql::SessionOptions o;
    o.model = parser.positionalArguments().value(0);
    o.openRuns = parser.values(openRun);
    o.recipes = parser.values(recipe);
    o.base.calibrationText = parser.value(calib).toStdString();
    o.base.calibrationWindows = parser.value(calibWindows).toInt();
    o.base.calibrationSeq = parser.value(calibSeq).toInt();
    o.base.evaluationText = parser.value(eval).toStdString();
    o.base.evalSeq = parser.value(evalSeq).toInt();
    o.base.evalMaxWindows = parser.value(evalWindows).toInt();
    o.screenshot = parser.value(screenshot);
    o.layer = parser.value(layer);
    o.tab = parser.value(tab);
    o.histogramTab = parser.value(htab);
    o.logCounts = parser.isSet(logCounts);
    o.table = parser.value(table);
    auto* session = new ql::Session(&window, o);
    session->start();
    return app.exec();
}
