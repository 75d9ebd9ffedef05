// quantlens — the QuantLens workbench.
#include "app/gui/mainwindow.h"
#include "app/gui/session.h"
#include "base/process_env.h"
#include "model/model.h"
#include "model/tensor_pool.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QIcon>
#include <QImage>
#include <QPainter>
#include <QStyleFactory>
#include <QSvgRenderer>

namespace {

// Every command-line option of the workbench, in one place for the full start and for
// the --help/--version answer that runs without a display.
struct CommandLine {
    QCommandLineParser parser;
    const QCommandLineOption recipe{"run-recipe", "Run RECIPE after opening (repeatable).",
                                    "recipe"};
    const QCommandLineOption openRun{"open-run", "Open a saved run folder (repeatable).", "dir"};
    const QCommandLineOption calib{"calib", "Calibration text file.", "file"};
    const QCommandLineOption calibWindows{"calib-windows", "Calibration windows.", "n", "16"};
    const QCommandLineOption calibSeq{"calib-seq", "Calibration window length.", "n", "256"};
    const QCommandLineOption eval{"eval", "Evaluation text file.", "file"};
    const QCommandLineOption evalSeq{"eval-seq", "Evaluation sequence length (0 = auto).", "n",
                                     "0"};
    const QCommandLineOption evalWindows{"eval-windows", "Maximum evaluation windows (0 = all).",
                                         "n", "0"};
    const QCommandLineOption screenshot{"screenshot", "Save a screenshot of the window and quit.",
                                        "png"};
    const QCommandLineOption theme{"theme", "light or dark.", "theme", "light"};
    const QCommandLineOption size{"size", "Window size WxH.", "size", "1400x900"};
    const QCommandLineOption layer{"layer", "Layer to select.", "name"};
    const QCommandLineOption tab{
        "tab",
        "Chart tab: histograms, sqnr, summary, compare, overview, channels, sensitivity (measured "
        "first; sensitivity-map: its heat map), plan (measured and its plan run first), sweep, "
        "generate (the Generate tab's prompt generated first, with every run; generate-packed: "
        "the runs on their packed kernels), generate-speed "
        "(its speed and memory table measured first).",
        "tab"};
    const QCommandLineOption preview{
        "preview", "Set RECIPE in the run panel and wait for its weights-only preview.", "recipe"};
    const QCommandLineOption sweep{"sweep", "Sweep the Sweep tab's default grid."};
    const QCommandLineOption htab{"histogram-tab", "weights, activations or gradients.", "tab"};
    const QCommandLineOption table{"table", "Table tab: sqnr, memory, perplexity.", "tab"};
    const QCommandLineOption logCounts{"log-counts", "Logarithmic histogram counts."};
    const QCommandLineOption renderIcon{"render-icon", "Render the icon as a 256x256 PNG and quit.",
                                        "png"};
    const QCommandLineOption noRestore{"no-restore",
                                       "Do not restore the runs autosaved by the last session."};

    CommandLine() {
        parser.setApplicationDescription(
            "QuantLens: quantize language models and inspect every layer.");
        parser.addHelpOption();
        parser.addVersionOption();
        parser.addPositionalArgument("model", "Model folder (Hugging Face layout) to open.",
                                     "[MODEL]");
        for (const auto& o : {recipe,      openRun,    calib, calibWindows, calibSeq, eval, evalSeq,
                              evalWindows, screenshot, theme, size,         layer,    tab,  htab,
                              logCounts,   renderIcon, table, noRestore,    preview,  sweep})
            parser.addOption(o);
    }
};

void setApplicationNames() {
    QCoreApplication::setApplicationName("QuantLens");
    QCoreApplication::setOrganizationName("QuantLens");
    QCoreApplication::setApplicationVersion("0.1.0");
}

// --help and --version print and exit: they must work without a display (over ssh, in
// packaging scripts), so they are answered before a QApplication exists.
bool asksHelpOrVersion(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const QByteArray a(argv[i]);
        if (a == "--") return false;
        if (a == "-h" || a == "--help" || a == "-?" || a == "--help-all" || a == "-v" ||
            a == "--version")
            return true;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    if (asksHelpOrVersion(argc, argv)) {
        QCoreApplication core(argc, argv);
        setApplicationNames();
        CommandLine cl;
        cl.parser.process(core);  // prints and exits
        return 0;
    }
    // QUANTLENS_THREADS bounds every pool (OpenMP, OpenBLAS, torch, the engine's own);
    // unset: every core.
    ql::prepareProcessEnvironment(argv, ql::requestedThreads(0, argv));
    ql::setComputeThreads(ql::requestedThreads(0, argv));
    ql::installTensorPool();  // reuse large tensors: no page-fault storms
    QApplication app(argc, argv);
    setApplicationNames();
    QApplication::setDesktopFileName("quantlens");
    QApplication::setWindowIcon(QIcon(":/quantlens.svg"));
    QApplication::setStyle(QStyleFactory::create("Fusion"));

    CommandLine cl;
    QCommandLineParser& parser = cl.parser;
    parser.process(app);
    if (parser.isSet(cl.renderIcon)) {  // for packaging: resources/quantlens-256.png
        QImage icon(256, 256, QImage::Format_ARGB32_Premultiplied);
        icon.fill(Qt::transparent);
        QPainter painter(&icon);
        QSvgRenderer(QString(":/quantlens.svg")).render(&painter);
        painter.end();
        return icon.save(parser.value(cl.renderIcon)) ? 0 : 1;
    }

    ql::installDefaultRunTokenizer();
    ql::MainWindow window;
    window.setDarkTheme(parser.value(cl.theme) == "dark");
    const QStringList wh = parser.value(cl.size).split('x');
    if (wh.size() == 2 && wh[0].toInt() > 0 && wh[1].toInt() > 0)
        window.resize(wh[0].toInt(), wh[1].toInt());
    window.show();
    // Unattended sessions (screenshots) neither restore nor autosave runs.
    if (parser.isSet(cl.screenshot)) window.setAutosaveDir(QString());
    if (!parser.isSet(cl.noRestore) && !parser.isSet(cl.screenshot)) window.restoreAutosavedRuns();

    ql::SessionOptions o;
    o.model = parser.positionalArguments().value(0);
    o.openRuns = parser.values(cl.openRun);
    o.recipes = parser.values(cl.recipe);
    o.base.calibrationText = parser.value(cl.calib).toStdString();
    o.base.calibrationWindows = parser.value(cl.calibWindows).toInt();
    o.base.calibrationSeq = parser.value(cl.calibSeq).toInt();
    o.base.evaluationText = parser.value(cl.eval).toStdString();
    o.base.evalSeq = parser.value(cl.evalSeq).toInt();
    o.base.evalMaxWindows = parser.value(cl.evalWindows).toInt();
    o.screenshot = parser.value(cl.screenshot);
    o.layer = parser.value(cl.layer);
    o.tab = parser.value(cl.tab);
    o.histogramTab = parser.value(cl.htab);
    o.logCounts = parser.isSet(cl.logCounts);
    o.table = parser.value(cl.table);
    o.previewRecipe = parser.value(cl.preview);
    o.sweep = parser.isSet(cl.sweep);
    auto* session = new ql::Session(&window, o);
    session->start();
    return app.exec();
}
