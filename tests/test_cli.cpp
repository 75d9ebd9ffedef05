// quantlens-cli end to end: each command run as a separate process (QProcess), its JSON
// checked against ../shared/reference or against files it wrote, and bad inputs checked
// for exit code 1 with a one-line error on stderr naming the problem.
#include "cli_runner.h"
#include "testdata.h"

#include <nlohmann/json.hpp>

#include <QFile>
#include <QObject>
#include <QTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* kSmall = "models/stories260k";

using Result = qltest::CliResult;

Result runCli(const QStringList& args, int timeoutMs = 300000) {
    qltest::CliOptions o;
    o.timeoutMs = timeoutMs;
    return qltest::runCli(args, o);
}

QString data(const char* relative) {
    return QString::fromStdString(qltest::dataPath(relative));
}

json parsedJson(const Result& r) {
    try {
        return json::parse(r.out);
    } catch (const json::exception& e) {
        return json();
    }
}

// A bad-input run: exit 1, no crash, one error line on stderr containing `needle`.
void expectFailure(const Result& r, const std::string& needle, const char* what) {
    QVERIFY2(!r.crashed, what);
    QVERIFY2(r.exitCode == 1, qPrintable(QString("%1: exit %2, stderr: %3")
                                             .arg(what)
                                             .arg(r.exitCode)
                                             .arg(QString::fromStdString(r.err))));
    QVERIFY2(r.err.find("error") != std::string::npos, what);
    QVERIFY2(
        r.err.find(needle) != std::string::npos,
        qPrintable(QString("%1: '%2' not in stderr: %3")
                       .arg(what, QString::fromStdString(needle), QString::fromStdString(r.err))));
}

// A copy of the small model folder to damage.
QString copyModel(const QString& name) {
    const QString dir = qltest::tempDir(name);
    for (const auto& e : fs::directory_iterator(qltest::dataPath(kSmall)))
        fs::copy_file(e.path(), fs::path(dir.toStdString()) / e.path().filename());
    return dir;
}

void writeFile(const QString& path, const std::string& text) {
    std::ofstream(path.toStdString(), std::ios::binary | std::ios::trunc) << text;
}

size_t lineCount(const std::string& path) {
    std::ifstream in(path);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void helpAndUnknownCommand();
    void info();
    void tokenize();
    void eval();
    void synthThenQuantize();
    void quantizeJsonMatchesReference();
    void gemmBoundIsTheDryRunsFlopsOverTheRate();
    void quantizeTableAndCompare();
    void truncatedSafetensors();
    void missingTokenizer();
    void emptyAndShortText();
    void unknownRecipeAndBadOptions();
    void nf4QuantizeAndBadRecipe();
    void sweepEqualsQuantize();
    void sensitivityNamesFallbacks();
};

void TestCli::helpAndUnknownCommand() {
    const Result help = runCli({"--help"});
    QVERIFY2(!help.crashed && help.exitCode == 0, help.err.c_str());
    QVERIFY(help.out.find("quantize") != std::string::npos);
    const Result qhelp = runCli({"quantize", "--help"});
    QVERIFY(!qhelp.crashed && qhelp.exitCode == 0);
    QVERIFY(qhelp.out.find("--recipe") != std::string::npos);
    const Result unknown = runCli({"frobnicate"});
    QVERIFY(!unknown.crashed && unknown.exitCode != 0);
}

void TestCli::info() {
    QL_REQUIRE_DATA(kSmall);
    const Result r = runCli({"info", data(kSmall), "--json"});
    QVERIFY2(!r.crashed && r.exitCode == 0, r.err.c_str());
    const json j = parsedJson(r);
    const json cfg =
        json::parse(qltest::readFile(qltest::dataPath("models/stories260k/config.json")));
    QCOMPARE(j.at("config").at("layers").get<int>(), cfg.at("num_hidden_layers").get<int>());
    QCOMPARE(j.at("config").at("hidden_size").get<int>(), cfg.at("hidden_size").get<int>());
}

void TestCli::tokenize() {
    QL_REQUIRE_DATA(kSmall);
    QL_REQUIRE_DATA("reference/tokenizer-corpus.json");
    const Result r = runCli({"tokenize", "--tokenizer", data(kSmall), "--text",
                             data("data/stories/stories.txt"), "--json"});
    QVERIFY2(!r.crashed && r.exitCode == 0, r.err.c_str());
    const json ref =
        json::parse(qltest::readFile(qltest::dataPath("reference/tokenizer-corpus.json")));
    const json& expect = ref.at("models/stories260k").at("data/stories/stories.txt");
    const json j = parsedJson(r);
    QCOMPARE(j.at("count").get<int64_t>(), expect.at("count").get<int64_t>());
    QCOMPARE(j.at("sha256").get<std::string>(), expect.at("sha256").get<std::string>());
}

void TestCli::eval() {
    QL_REQUIRE_DATA(kSmall);
    const json ref =
        json::parse(qltest::readFile(qltest::dataPath("reference/model-reference.json")));
    const json& p = ref.at("stories260k").at("ppl").at(0);
    const Result r =
        runCli({"eval", "--model", data(kSmall), "--text", data("data/stories/stories.txt"),
                "--seq", QString::number(p.at("seq").get<int>()), "--json"});
    QVERIFY2(!r.crashed && r.exitCode == 0, r.err.c_str());
    const json j = parsedJson(r);
    QVERIFY(std::abs(j.at("ppl").get<double>() / p.at("ppl").get<double>() - 1) < 1e-4);
    QCOMPARE(j.at("scored_tokens").get<int64_t>(), p.at("scored_tokens").get<int64_t>());
    // Without --json: progress as whole lines on stderr (a log keeps them readable), the
    // last one at 100 %, and no carriage return rewriting a line in place.
    const Result plain =
        runCli({"eval", "--model", data(kSmall), "--text", data("data/stories/stories.txt"),
                "--seq", QString::number(p.at("seq").get<int>())});
    QVERIFY2(!plain.crashed && plain.exitCode == 0, plain.err.c_str());
    QVERIFY2(plain.err.find('\r') == std::string::npos, plain.err.c_str());
    QVERIFY2(plain.err.find("[100%]") != std::string::npos, plain.err.c_str());
    QVERIFY(plain.err.back() == '\n');
}

void TestCli::synthThenQuantize() {
    const QString dir = qltest::tempDir("cli-synth");
    const Result s = runCli({"synth", "--preset", "llama-tiny", "--out", dir + "/model", "--json"});
    QVERIFY2(!s.crashed && s.exitCode == 0, s.err.c_str());
    QVERIFY(QFile::exists(dir + "/model/config.json"));
    const Result q = runCli({"quantize", "--model", dir + "/model", "--recipe", "rtn:int4:g32:asym",
                             "--out", dir + "/run", "--json"});
    QVERIFY2(!q.crashed && q.exitCode == 0, q.err.c_str());
    const json j = parsedJson(q);
    const json info = parsedJson(runCli({"info", dir + "/model", "--json"}));
    QCOMPARE(j.at("layers").size(), size_t(7 * info.at("config").at("layers").get<int>()));
    QVERIFY(j.at("ppl_q").is_null());  // no evaluation text
    QVERIFY(j.at("bytes_q").get<uint64_t>() < j.at("bytes_fp").get<uint64_t>());
    QVERIFY(QFile::exists(dir + "/run/run.json"));
}

// --gemm-bound (issue 7's time target: wall <= 1.3 x FLOPs / GEMM rate): the run reports the
// same matrix-product FLOPs as --dry-run predicts for the same settings, and the bound and
// ratio are those FLOPs over the rate it measured and the run's time over that bound.
void TestCli::gemmBoundIsTheDryRunsFlopsOverTheRate() {
    QL_REQUIRE_DATA(kSmall);
    const QString dir = qltest::tempDir("cli-gemm-bound");
    const QStringList settings = {"quantize",
                                  "--model",
                                  data(kSmall),
                                  "--recipe",
                                  "rtn:int4:g32:asym",
                                  "--eval",
                                  data("data/stories/stories.txt"),
                                  "--seq",
                                  "64",
                                  "--max-windows",
                                  "2",
                                  "--calib",
                                  data("data/stories/calib.txt"),
                                  "--calib-windows",
                                  "2",
                                  "--calib-seq",
                                  "64",
                                  "--threads",
                                  "1",
                                  "--json"};
    const json dry = parsedJson(runCli(settings + QStringList{"--dry-run"}));
    const Result r = runCli(settings + QStringList{"--gemm-bound", "--out", dir + "/run"});
    QVERIFY2(!r.crashed && r.exitCode == 0, r.err.c_str());
    const json j = parsedJson(r);
    QVERIFY(j.contains("gemm_bound"));
    const json& b = j.at("gemm_bound");
    const double flops = b.at("matmul_flops").get<double>();
    const double rate = b.at("gemm_flops_per_second").get<double>();
    QVERIFY(flops > 0 && rate > 0);
    QCOMPARE(flops, dry.at("matmul_flops").get<double>());
    QVERIFY(std::abs(b.at("bound_seconds").get<double>() / (flops / rate) - 1) < 1e-9);
    QVERIFY(std::abs(b.at("run_seconds").get<double>() - j.at("seconds").get<double>()) < 1e-9);
    QVERIFY(std::abs(b.at("ratio").get<double>() * b.at("bound_seconds").get<double>() /
                         b.at("run_seconds").get<double>() -
                     1) < 1e-9);
    // Without the flag nothing is measured or reported.
    const Result plain = runCli(settings + QStringList{"--out", dir + "/run2"});
    QVERIFY(!parsedJson(plain).contains("gemm_bound"));
}

void TestCli::quantizeJsonMatchesReference() {
    QL_REQUIRE_DATA(kSmall);
    const json ref =
        json::parse(qltest::readFile(qltest::dataPath("reference/model-reference.json")));
    json quant;
    for (const auto& p : ref.at("stories260k").at("ppl"))
        if (p.contains("recipe")) quant = p;
    const QString dir = qltest::tempDir("cli-quantize");
    const Result r =
        runCli({"quantize", "--model", data(kSmall), "--recipe",
                QString::fromStdString(quant.at("recipe").get<std::string>()), "--eval",
                data("data/stories/stories.txt"), "--seq",
                QString::number(quant.at("seq").get<int>()), "--calib",
                data("data/stories/calib.txt"), "--threads", "1", "--out", dir + "/run", "--json"});
    QVERIFY2(!r.crashed && r.exitCode == 0, r.err.c_str());
    QVERIFY(r.err.find("quantize") != std::string::npos);  // progress on stderr
    const json j = parsedJson(r);
    for (const char* key : {"recipe", "ppl_fp", "ppl_q", "kl_mean", "top1_agreement", "bytes_fp",
                            "bytes_q", "layers", "seconds"})
        QVERIFY2(j.contains(key), key);
    QVERIFY(std::abs(j.at("ppl_q").get<double>() / quant.at("ppl").get<double>() - 1) < 1e-4);
    const auto& sqnr = quant.at("weight_sqnr_db");
    QCOMPARE(j.at("layers").size(), sqnr.size());
    for (auto it = sqnr.begin(); it != sqnr.end(); ++it) {
        const json& l = j.at("layers").at(it.key());
        QVERIFY(std::abs(l.at("weight_sqnr_db").get<double>() - it.value().get<double>()) <= 0.01);
        QVERIFY(l.at("output_sqnr_db").is_number());
        QCOMPARE(l.at("method").get<std::string>(), quant.at("recipe").get<std::string>());
        QVERIFY(!l.at("fallback").get<bool>());
    }
    QVERIFY(j.at("kl_mean").get<double>() >= 0);
    QVERIFY(QFile::exists(dir + "/run/run.json") && QFile::exists(dir + "/run/histograms.bin"));
    const json saved = json::parse(qltest::readFile((dir + "/run/run.json").toStdString()));
    QCOMPARE(saved.at("layers").size(), sqnr.size());
}

void TestCli::quantizeTableAndCompare() {
    QL_REQUIRE_DATA(kSmall);
    const QString dir = qltest::tempDir("cli-compare");
    for (const char* recipe : {"rtn:int8:channel:sym", "rtn:int4:channel:asym"}) {
        const Result r = runCli({"quantize", "--model", data(kSmall), "--recipe", recipe, "--out",
                                 dir + "/" + QString(recipe).replace(':', '-')});
        QVERIFY2(!r.crashed && r.exitCode == 0, r.err.c_str());
        QVERIFY(r.out.find("weight SQNR") != std::string::npos);
        QVERIFY(r.out.find("model.layers.4.mlp.down_proj") != std::string::npos);
    }
    const Result c = runCli({"compare", dir + "/rtn-int8-channel-sym",
                             dir + "/rtn-int4-channel-asym", "--out", dir + "/cmp", "--json"});
    QVERIFY2(!c.crashed && c.exitCode == 0, c.err.c_str());
    const json j = parsedJson(c);
    QVERIFY(j.at("a").at("mean_weight_sqnr_db").get<double>() >
            j.at("b").at("mean_weight_sqnr_db").get<double>());
    QCOMPARE(lineCount((dir + "/cmp/layers.csv").toStdString()), size_t(36));  // header + 35 layers
    QCOMPARE(lineCount((dir + "/cmp/perplexity.csv").toStdString()), size_t(3));
    QVERIFY(lineCount((dir + "/cmp/memory.csv").toStdString()) >= 3);
    const std::string header = qltest::readFile((dir + "/cmp/layers.csv").toStdString());
    QVERIFY(header.rfind("layer,method_a,method_b,weight_sqnr_db_a", 0) == 0);
    QVERIFY(j.at("caveats").empty());  // one model, no evaluation: nothing to qualify

    expectFailure(runCli({"compare", dir + "/rtn-int8-channel-sym", dir + "/nothing", "--out",
                          dir + "/cmp2"}),
                  "nothing", "compare with a missing run");
    expectFailure(runCli({"compare", dir + "/rtn-int8-channel-sym"}), "two run folders",
                  "compare with one run");
}

// bitsandbytes NF4 through the CLI: a run whose layers are re-binned from the recipe
// ("codebook", nothing stored), memory from the packed layout, and one-line recipe errors.
void TestCli::nf4QuantizeAndBadRecipe() {
    QL_REQUIRE_DATA(kSmall);
    const QString dir = qltest::tempDir("cli-nf4");
    const Result qhelp = runCli({"quantize", "--help"});
    QVERIFY(qhelp.out.find("nf4:b64:dq") != std::string::npos);
    const Result r = runCli({"quantize", "--model", data(kSmall), "--recipe", "nf4:b64:dq", "--out",
                             dir + "/run", "--json"});
    QVERIFY2(!r.crashed && r.exitCode == 0, r.err.c_str());
    const json j = parsedJson(r);
    QCOMPARE(j.at("label").get<std::string>(), std::string("NF4 b64 dq fp32"));
    const json run = json::parse(qltest::readFile((dir + "/run/run.json").toStdString()));
    uint64_t bytes = 0;  // 4-bit codes, uint8 absmax, fp32 per 256 blocks, fp32 offset
    for (const auto& l : run.at("layers")) {
        QCOMPARE(l.at("weight_after_source").get<std::string>(), std::string("codebook"));
        const uint64_t n = l.at("parameters").get<uint64_t>(), blocks = (n + 63) / 64;
        bytes += (n + 1) / 2 + blocks + (blocks + 255) / 256 * 4 + 4;
    }
    QCOMPARE(j.at("bytes_q_quantized").get<uint64_t>(), bytes);
    QVERIFY(!QFileInfo::exists(dir + "/run/weights"));
    const Result bad = runCli(
        {"quantize", "--model", data(kSmall), "--recipe", "nf4:b64:b100", "--out", dir + "/bad"});
    expectFailure(bad, "'b100'", "repeated nf4 block size");
    QCOMPARE(std::count(bad.err.begin(), bad.err.end(), '\n'), std::ptrdiff_t(1));
}

void TestCli::sweepEqualsQuantize() {
    // sweep --json gives each layer the weight SQNR a weights-only quantize run gives, exactly
    QL_REQUIRE_DATA(kSmall);
    const QStringList recipes = {"rtn:int4:g32:asym", "rtn:int8:channel:sym", "nf4"};
    const Result r = runCli({"sweep", "--model", data(kSmall), "--recipes", recipes.join(','),
                             "--threads", "2", "--json"});
    QVERIFY2(!r.crashed && r.exitCode == 0, r.err.c_str());
    const json j = parsedJson(r);
    QCOMPARE(j.at("recipes").size(), size_t(recipes.size()));
    QVERIFY(j.at("weights_only").get<bool>());
    const QString dir = qltest::tempDir("cli-sweep");
    for (int k = 0; k < recipes.size(); ++k) {
        const Result q =
            runCli({"quantize", "--model", data(kSmall), "--recipe", recipes[k], "--threads", "2",
                    "--out", dir + "/run" + QString::number(k), "--json"});
        QVERIFY2(!q.crashed && q.exitCode == 0, q.err.c_str());
        const json run = parsedJson(q);
        const json& sw = j.at("recipes").at(size_t(k));
        QCOMPARE(sw.at("layers").size(), run.at("layers").size());
        int fallbacks = 0;
        for (const json& l : sw.at("layers")) {
            const json& rl = run.at("layers").at(l.at("name").get<std::string>());
            QCOMPARE(l.at("weight_sqnr_db").get<double>(), rl.at("weight_sqnr_db").get<double>());
            QCOMPARE(l.at("method").get<std::string>(), rl.at("method").get<std::string>());
            QCOMPARE(l.at("fallback").get<bool>(), rl.at("fallback").get<bool>());
            fallbacks += l.at("fallback").get<bool>();
        }
        if (k == 0) QVERIFY(fallbacks > 0);  // the 172-wide MLP rows take no g32
    }
    const Result table = runCli({"sweep", "--model", data(kSmall), "--recipes", recipes.join(',')});
    QVERIFY2(table.exitCode == 0 && table.out.find("mean") != std::string::npos, table.err.c_str());
    expectFailure(runCli({"sweep", "--model", data(kSmall), "--recipes", "rtn:int8,gptq:int4"}),
                  "gptq:int4", "sweep with a recipe that needs calibration");
    expectFailure(runCli({"sweep", "--model", data(kSmall)}), "recipes", "sweep without recipes");
}

void TestCli::truncatedSafetensors() {
    QL_REQUIRE_DATA(kSmall);
    const QString dir = copyModel("cli-truncated");
    const std::string file = (dir + "/model.safetensors").toStdString();
    fs::resize_file(file, fs::file_size(file) / 2);
    expectFailure(runCli({"info", dir}), "model.safetensors", "info on a truncated file");
    expectFailure(runCli({"quantize", "--model", dir, "--recipe", "rtn:int8:channel:sym", "--out",
                          dir + "/run"}),
                  "model.safetensors", "quantize on a truncated file");
    QVERIFY(!QFile::exists(dir + "/run"));
    expectFailure(runCli({"eval", "--model", dir, "--text", data("data/stories/stories.txt")}),
                  "model.safetensors", "eval on a truncated file");
}

void TestCli::missingTokenizer() {
    QL_REQUIRE_DATA(kSmall);
    const QString dir = copyModel("cli-no-tokenizer");
    QFile::remove(dir + "/tokenizer.model");
    expectFailure(runCli({"quantize", "--model", dir, "--recipe", "rtn:int8:channel:sym", "--eval",
                          data("data/stories/stories.txt"), "--out", dir + "/run"}),
                  "tokenizer", "quantize without a tokenizer");
    QVERIFY(!QFile::exists(dir + "/run"));
    expectFailure(
        runCli({"tokenize", "--tokenizer", dir, "--text", data("data/stories/stories.txt")}),
        "tokenizer", "tokenize without a tokenizer");
}

void TestCli::emptyAndShortText() {
    QL_REQUIRE_DATA(kSmall);
    const QString dir = qltest::tempDir("cli-texts");
    writeFile(dir + "/empty.txt", "");
    writeFile(dir + "/short.txt", "Once upon a time there was a cat.");
    // The empty file is reported as empty, the short one as shorter than one window.
    for (const auto& [text, needle] :
         {std::pair{dir + "/empty.txt", std::string("empty")},
          {dir + "/short.txt", std::string("fewer than one window")}}) {
        expectFailure(
            runCli({"quantize", "--model", data(kSmall), "--recipe", "rtn:int8:channel:sym",
                    "--eval", text, "--seq", "256", "--out", dir + "/run"}),
            needle, "quantize, evaluation text");
        expectFailure(runCli({"quantize", "--model", data(kSmall), "--recipe",
                              "gptq:int4:channel:sym", "--calib", text, "--out", dir + "/run"}),
                      needle, "quantize, calibration text");
        expectFailure(runCli({"eval", "--model", data(kSmall), "--text", text, "--seq", "256"}),
                      text == dir + "/empty.txt" ? "empty" : "window", "eval, text too short");
    }
    QVERIFY(!QFile::exists(dir + "/run"));
    expectFailure(runCli({"quantize", "--model", data(kSmall), "--recipe", "rtn:int8:channel:sym",
                          "--eval", dir + "/missing.txt", "--out", dir + "/run"}),
                  "missing.txt", "quantize, missing evaluation text");
}

void TestCli::unknownRecipeAndBadOptions() {
    QL_REQUIRE_DATA(kSmall);
    const QString dir = qltest::tempDir("cli-bad");
    expectFailure(runCli({"quantize", "--model", data(kSmall), "--recipe", "rtn:int5:banana:sym",
                          "--out", dir + "/run"}),
                  "banana", "unknown recipe");
    expectFailure(runCli({"quantize", "--model", data(kSmall), "--recipe", "gptq:int4:channel:sym",
                          "--out", dir + "/run"}),
                  "calibration", "gptq without calibration");
    expectFailure(
        runCli({"quantize", "--model", data(kSmall), "--recipe", "rtn:int8:channel:sym", "--calib",
                data("data/stories/calib.txt"), "--calib-windows", "0", "--out", dir + "/run"}),
        "calibration windows", "zero calibration windows");
    expectFailure(runCli({"quantize", "--model", data(kSmall), "--recipe", "rtn:int8:channel:sym"}),
                  "--out", "missing --out");
    // --include/--exclude repeat: blocks 0 and 1, without their o_proj.
    const Result sel =
        runCli({"quantize", "--model", data(kSmall), "--recipe", "rtn:int8:channel:sym",
                "--include", "model.layers.0.*", "--include=model.layers.1.*", "--exclude",
                "*.o_proj", "--out", dir + "/sel", "--json"});
    QVERIFY2(!sel.crashed && sel.exitCode == 0, sel.err.c_str());
    const json selJson = parsedJson(sel);
    QCOMPARE(selJson.at("layers").size(), size_t(12));
    QVERIFY(!selJson.at("layers").contains("model.layers.0.self_attn.o_proj"));
    QVERIFY(selJson.at("layers").contains("model.layers.1.mlp.down_proj"));
    expectFailure(runCli({"quantize", "--model", data(kSmall), "--recipe", "rtn:int8:channel:sym",
                          "--include", "nothing.*", "--out", dir + "/run"}),
                  "selection", "selection matching nothing");
    expectFailure(runCli({"quantize", "--model", data(kSmall), "--recipe", "rtn:int8:channel:sym",
                          "--bogus", "--out", dir + "/run"}),
                  "bogus", "unknown option");
    QVERIFY(!QFile::exists(dir + "/run"));
}

// The sensitivity command says which units were measured with layers the recipe fell back
// on (stories260k's down_proj has 172 inputs: groups of 32 do not divide them, per-channel
// instead) — in --json per unit and as a list after the table.
void TestCli::sensitivityNamesFallbacks() {
    QL_REQUIRE_DATA(kSmall);
    QL_REQUIRE_DATA("data/stories/stories.txt");
    const QStringList args = {"sensitivity",
                              "--model",
                              data(kSmall),
                              "--recipe",
                              "rtn:int4:g32:asym",
                              "--eval",
                              data("data/stories/stories.txt"),
                              "--windows",
                              "2",
                              "--seq",
                              "64",
                              "--fisher-windows",
                              "0",
                              "--unit",
                              "block"};
    const Result r = runCli(args + QStringList{"--json"});
    QVERIFY2(!r.crashed && r.exitCode == 0, r.err.c_str());
    const json j = parsedJson(r);
    int fellUnits = 0;
    for (const json& u : j.at("units")) {
        const auto layers = u.at("layers").get<std::vector<std::string>>();
        std::vector<std::string> expected;
        for (const std::string& l : layers)
            if (l.find("down_proj") != std::string::npos) expected.push_back(l);
        QCOMPARE(u.at("fallback_layers").get<std::vector<std::string>>(), expected);
        QCOMPARE(u.at("fallback_reason").is_null(), expected.empty());
        if (!expected.empty()) ++fellUnits;
    }
    QCOMPARE(fellUnits, 5);  // one down_proj in each of the 5 blocks
    const Result text = runCli(args);
    QVERIFY2(!text.crashed && text.exitCode == 0, text.err.c_str());
    QVERIFY2(text.out.find("fallback: 5 unit(s)") != std::string::npos, text.out.c_str());
    QVERIFY(text.out.find("group size 32") != std::string::npos);
}

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
