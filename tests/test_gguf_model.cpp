// A .gguf file opened as a model on its own: llama.cpp's F32 stories260k file gives the config,
// weights (Llama q/k rows back in Hugging Face order) and logits of the Hugging Face folder; the
// GGUF export of a Q8_0 and a Q4_K_M run, opened as a model, has the run's quantized perplexity
// on the same windows; the GGUF tokenizer encodes the shared texts as the folder's does; the CLI
// takes a .gguf for --model; unsupported files are refused naming the file and the key.
#include "base/error.h"
#include "cli_runner.h"
#include "io/gguf_model.h"
#include "io/gguf_writer.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/synth.h"
#include "run/gguf_export.h"
#include "run/gguf_vocab.h"
#include "run/model_export.h"
#include "run/run.h"
#include "testdata.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <cmath>

using namespace ql;

namespace {

const QString kF32 = "reference/gguf/stories260k.F32.gguf";

std::string folder() {
    return qltest::dataPath("models/stories260k");
}

// The model a data row names: the shared stories260k, or a synthetic F32 preset made here.
std::string modelFor(const QString& name) {
    if (name == "stories260k") return folder();
    SynthOptions o;
    o.preset = name.toStdString();
    o.outDir = (qltest::tempDir("gguf-model-synth-" + name) + "/" + name).toStdString();
    o.dtype = DType::F32;
    o.seed = 7;
    synthesizeModel(o);
    return o.outDir;
}

RunConfig evalRun(const std::string& model, const std::string& recipe) {
    RunConfig c;
    c.modelDir = model;
    c.recipe = recipe;
    c.captureActivations = false;
    c.captureGradients = false;
    c.threads = 1;
    c.evaluationText = qltest::dataPath("data/stories/stories.txt");
    c.evalSeq = 256;
    return c;
}

// Expects ql::Error whose message names the file and contains `mention`.
void expectRefused(const std::string& file, const QString& mention) {
    try {
        Model::load(file);
        QFAIL("expected ql::Error");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains(mention), e.what());
        QVERIFY2(QString(e.what()).contains(QString::fromStdString(file)), e.what());
    }
}

// A copy of the float file, with `arch` as the architecture, `dropKey` left out and
// blk.0.attn_q.weight stored as `qType` (zero bytes; F32: as it is).
void writeVariant(const std::string& out, const std::string& arch, const std::string& dropKey,
                  GgmlType qType) {
    const GgufFile src(qltest::dataPath(kF32));
    GgufWriter w;
    for (const std::string& key : src.keys()) {
        if (key == dropKey || key == "general.alignment") continue;
        std::string k = key;
        if (k.rfind("llama.", 0) == 0) k = arch + k.substr(5);
        if (k == "general.architecture")
            w.addString(k, arch);
        else
            w.add(k, *src.find(key));
    }
    for (const GgufTensor& t : src.tensors()) {
        const GgufTensor* p = &t;
        if (t.name == "blk.0.attn_q.weight" && qType != GgmlType::F32)
            w.addTensor(t.name, t.ne, qType, [p, qType] {
                return std::vector<uint8_t>(size_t(*ggmlBytes(qType, uint64_t(p->numel()))), 0);
            });
        else
            w.addTensor(t.name, t.ne, t.type, [&src, p] {
                const unsigned char* d = src.data(*p);
                return std::vector<uint8_t>(d, d + p->bytes);
            });
    }
    w.write(out);
}

}  // namespace

class TestGgufModel : public QObject {
    Q_OBJECT

private slots:
    void floatFileIsTheModel();
    void exportedRunPerplexity_data();
    void exportedRunPerplexity();
    void tokenizerEqualsFolder_data();
    void tokenizerEqualsFolder();
    void qwenVocabularyRoundTrip();
    void packedFolderAsCheckpoint_data();
    void packedFolderAsCheckpoint();
    void cli();
    void refusedFiles();
};

void TestGgufModel::floatFileIsTheModel() {
    QL_REQUIRE_DATA("models/stories260k");
    QL_REQUIRE_DATA(kF32);
    const std::string file = qltest::dataPath(kF32);
    QVERIFY(isGgufFile(file));
    QVERIFY(!isGgufFile(folder() + "/model.safetensors"));
    const auto gguf = Model::load(file);
    const auto hf = Model::load(folder());
    const ModelConfig& a = gguf->config();
    const ModelConfig& b = hf->config();
    QCOMPARE(a.architecture, b.architecture);
    QCOMPARE(a.hiddenSize, b.hiddenSize);
    QCOMPARE(a.intermediateSize, b.intermediateSize);
    QCOMPARE(a.numLayers, b.numLayers);
    QCOMPARE(a.numHeads, b.numHeads);
    QCOMPARE(a.numKvHeads, b.numKvHeads);
    QCOMPARE(a.headDim, b.headDim);
    QCOMPARE(a.vocabSize, b.vocabSize);
    QCOMPARE(a.maxPositions, b.maxPositions);
    QCOMPARE(a.ropeTheta, b.ropeTheta);
    QCOMPARE(a.rmsNormEps, b.rmsNormEps);  // 1e-05 again, not the float32 9.99999975e-06
    QCOMPARE(a.tieWordEmbeddings, b.tieWordEmbeddings);
    QCOMPARE(a.bosTokenId, b.bosTokenId);
    QCOMPARE(a.eosTokenId, b.eosTokenId);
    QCOMPARE(gguf->linears().size(), hf->linears().size());
    QCOMPARE(gguf->summary().parameters, hf->summary().parameters);
    QCOMPARE(gguf->summary().bytesOnDisk, uint64_t(1054464));
    // Every weight bit for bit (the F32 file holds the folder's values; q/k un-permuted).
    for (const LinearLayerInfo& l : hf->linears())
        QVERIFY2(gguf->linearWeight(l.name) == hf->linearWeight(l.name), l.name.c_str());
    const std::vector<int32_t> ids = {1, 403, 407, 261, 378, 429, 292, 262, 411, 383, 260, 267};
    const std::vector<float> la = gguf->lastLogits(ids), lb = hf->lastLogits(ids);
    QCOMPARE(la.size(), lb.size());
    for (size_t i = 0; i < la.size(); ++i) QVERIFY(std::fabs(la[i] - lb[i]) <= 1e-5f);
    QCOMPARE(gguf->meanNll(ids), hf->meanNll(ids));
}

void TestGgufModel::exportedRunPerplexity_data() {
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("recipe");
    QTest::newRow("stories260k q8_0") << "stories260k"
                                      << "q8_0";
    QTest::newRow("stories260k q4_k_m") << "stories260k"
                                        << "q4_k_m";
    // Qwen2 (q/k/v biases) and Qwen3 (q/k norms, head_dim 64 != 128 / 4): exported with their
    // byte-level BPE vocabulary, read back with it.
    QTest::newRow("qwen2-tiny q8_0") << "qwen2-tiny"
                                     << "q8_0";
    QTest::newRow("qwen3-tiny q4_k_m") << "qwen3-tiny"
                                       << "q4_k_m";
}

// The run's quantized perplexity (its weights as the quantizer left them) equals the float
// perplexity of its GGUF export read back as a model, on the run's own windows.
void TestGgufModel::exportedRunPerplexity() {
    QFETCH(QString, model);
    QFETCH(QString, recipe);
    QL_REQUIRE_DATA("models/stories260k");
    QL_REQUIRE_DATA("data/stories/stories.txt");
    const std::string dir = modelFor(model);
    const RunResult run = runQuantization(evalRun(dir, recipe.toStdString()));
    const std::string file =
        (qltest::tempDir("gguf-model-" + model + "-" + recipe) + "/model.gguf").toStdString();
    exportRunGguf(run, file);
    if (model != "stories260k") {  // the GGUF tokenizer is the folder's
        const std::string body = qltest::readFile(qltest::dataPath("data/stories/stories.txt"));
        QVERIFY(Tokenizer::load(file)->encode(body) == Tokenizer::load(dir)->encode(body));
        QCOMPARE(Model::load(file)->config().headDim, Model::load(dir)->config().headDim);
    }
    const RunResult again = runQuantization(evalRun(file, "q8_0"));
    QVERIFY(run.perplexity.valid && again.perplexity.valid);
    qInfo("%s %s: run ppl %.6f (float %.6f), its GGUF as a model %.6f", qPrintable(model),
          qPrintable(recipe), run.perplexity.pplQ, run.perplexity.pplFp, again.perplexity.pplFp);
    QVERIFY(std::fabs(again.perplexity.pplFp / run.perplexity.pplQ - 1) < 1e-4);
    QVERIFY(std::fabs(run.perplexity.pplQ / run.perplexity.pplFp - 1) > 1e-4);  // not the float
    QCOMPARE(again.perplexity.windows, run.perplexity.windows);
}

void TestGgufModel::tokenizerEqualsFolder_data() {
    QTest::addColumn<QString>("text");
    QTest::newRow("stories") << "data/stories/stories.txt";
    QTest::newRow("calib") << "data/stories/calib.txt";
    QTest::newRow("wikitext") << "data/wikitext-2-raw/wiki.test.raw";
}

void TestGgufModel::tokenizerEqualsFolder() {
    QFETCH(QString, text);
    QL_REQUIRE_DATA("models/stories260k");
    QL_REQUIRE_DATA(kF32);
    QL_REQUIRE_DATA(text);
    const auto gguf = Tokenizer::load(qltest::dataPath(kF32));
    const auto hf = Tokenizer::load(folder());
    QCOMPARE(gguf->kind(), hf->kind());
    QCOMPARE(gguf->vocabSize(), hf->vocabSize());
    QCOMPARE(gguf->bosId(), hf->bosId());
    QCOMPARE(gguf->eosId(), hf->eosId());
    const std::string body = qltest::readFile(qltest::dataPath(text));
    const std::vector<int32_t> a = gguf->encode(body), b = hf->encode(body);
    QVERIFY(a.size() > 1000);
    QCOMPARE(a.size(), b.size());
    QVERIFY(a == b);
    const std::vector<int32_t> head(a.begin(), a.begin() + 200);
    QCOMPARE(gguf->decode(head), hf->decode(head));
}

// The real Qwen3 tokenizer.json written as GGUF metadata (tokens, types, merges, pre "qwen2")
// and read back: the same ids on the shared texts and the reference cases (special tokens too).
void TestGgufModel::qwenVocabularyRoundTrip() {
    QL_REQUIRE_DATA("tokenizers/qwen3/tokenizer.json");
    QL_REQUIRE_DATA("reference/tokenizer-cases.qwen3.json");
    QL_REQUIRE_DATA("data/stories/stories.txt");
    ModelConfig c;
    c.vocabSize = 151936;
    c.bosTokenId = 151643;
    c.eosTokenId = 151645;
    GgufWriter w;
    w.addString("general.architecture", "qwen3");
    addBytePairVocab(w, c, qltest::dataPath("tokenizers/qwen3"));
    const std::string file =
        (qltest::tempDir("gguf-model-qwen3-vocab") + "/vocab.gguf").toStdString();
    w.write(file);
    const GgufFile meta(file);
    QCOMPARE(meta.find("tokenizer.ggml.pre")->s, std::string("qwen2"));
    QCOMPARE(meta.find("tokenizer.ggml.tokens")->elements.size(), size_t(151936));
    QCOMPARE(meta.find("tokenizer.ggml.token_type")->elements[151643].i, int64_t(3));  // control
    QCOMPARE(meta.find("tokenizer.ggml.tokens")->elements[151935].s, std::string("[PAD151935]"));
    QCOMPARE(meta.find("tokenizer.ggml.eos_token_id")->u, uint64_t(151645));  // <|im_end|>
    const auto gguf = Tokenizer::load(file);
    const auto hf = Tokenizer::load(qltest::dataPath("tokenizers/qwen3/tokenizer.json"));
    const std::string body = qltest::readFile(qltest::dataPath("data/stories/stories.txt"));
    QVERIFY(gguf->encode(body) == hf->encode(body));
    const auto cases = nlohmann::json::parse(
        qltest::readFile(qltest::dataPath("reference/tokenizer-cases.qwen3.json")));
    int checked = 0;
    for (const auto& k : cases) {
        const std::vector<int32_t> want = k["ids"].get<std::vector<int32_t>>();
        QVERIFY2(gguf->encode(k["text"].get<std::string>()) == want,
                 k["text"].get<std::string>().c_str());
        ++checked;
    }
    QVERIFY(checked > 10);
}

void TestGgufModel::packedFolderAsCheckpoint_data() {
    QTest::addColumn<QString>("format");
    QTest::newRow("gptq") << "gptq";
    QTest::newRow("quantlens") << "quantlens";
}

// --from-checkpoint with a run's own GPTQ / QuantLens export: the comparison run shows the
// file's weights. A QuantLens export holds the run's weights bit for bit (SQNR and perplexity
// exact); GPTQ stores scales as float16, so its layers differ from the run's by that rounding
// only (relative scale error <= 2^-11: well under 0.01 dB of SQNR; perplexity moves 1.1e-4
// on tinystories-656k int4 g128, checked to 5e-4).
void TestGgufModel::packedFolderAsCheckpoint() {
    QFETCH(QString, format);
    QL_REQUIRE_DATA("models/tinystories-656k");
    QL_REQUIRE_DATA("data/stories/stories.txt");
    // tinystories-656k: 128 and 384 wide rows, so every layer is on the g128 grid (one
    // quantization_config for the GPTQ export).
    const std::string model = qltest::dataPath("models/tinystories-656k");
    const RunResult run = runQuantization(evalRun(model, "rtn:int4:g128:asym"));
    const std::string out =
        (qltest::tempDir("gguf-model-ckpt-" + format) + "/export").toStdString();
    if (format == "gptq")
        exportGptq(run, out);
    else
        exportQuantLens(run, out);
    RunConfig c = evalRun(model, "");
    c.checkpoint = out;
    const RunResult again = runQuantization(c);
    QCOMPARE(again.config.recipe, std::string("rtn:int4:g128:asym"));
    QCOMPARE(again.layers.size(), run.layers.size());
    double worst = 0;
    for (size_t i = 0; i < run.layers.size(); ++i) {
        QCOMPARE(again.layers[i].name, run.layers[i].name);
        const double d = std::fabs(again.layers[i].weightSqnrDb - run.layers[i].weightSqnrDb);
        worst = std::max(worst, d);
        QVERIFY2(format == "gptq" ? d < 0.01 : d == 0, run.layers[i].name.c_str());
    }
    const double ppl = std::fabs(again.perplexity.pplQ / run.perplexity.pplQ - 1);
    qInfo("%s: worst layer SQNR difference %.2e dB, perplexity %.6f vs run %.6f",
          qPrintable(format), worst, again.perplexity.pplQ, run.perplexity.pplQ);
    QVERIFY(format == "gptq" ? ppl < 5e-4 : ppl < 1e-12);
    QCOMPARE(again.perplexity.pplFp, run.perplexity.pplFp);
    try {  // a plain float folder is no checkpoint
        RunConfig plain = c;
        plain.checkpoint = model;
        runQuantization(plain);
        QFAIL("expected ql::Error");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains("not a quantized checkpoint"), e.what());
    }
}

void TestGgufModel::cli() {
    QL_REQUIRE_DATA("models/stories260k");
    QL_REQUIRE_DATA("data/stories/stories.txt");
    QL_REQUIRE_DATA(kF32);
    const QString file = QString::fromStdString(qltest::dataPath(kF32));
    const auto info = qltest::runCli({"info", file, "--json"});
    QVERIFY2(info.exitCode == 0, info.err.c_str());
    const auto j = nlohmann::json::parse(info.out);
    QCOMPARE(j["config"]["architecture"].get<std::string>(), std::string("LlamaForCausalLM"));
    QCOMPARE(j["config"]["layers"].get<int>(), 5);
    QCOMPARE(j["quantized"]["format"].get<std::string>(), std::string("gguf"));
    const QString text = QString::fromStdString(qltest::dataPath("data/stories/stories.txt"));
    const QStringList evalArgs = {"--text", text, "--seq", "256", "--max-windows", "4", "--json"};
    const auto a = qltest::runCli(QStringList{"eval", "--model", file} + evalArgs);
    const auto b =
        qltest::runCli(QStringList{"eval", "--model", QString::fromStdString(folder())} + evalArgs);
    QVERIFY2(a.exitCode == 0, a.err.c_str());
    QVERIFY2(b.exitCode == 0, b.err.c_str());
    const double pa = nlohmann::json::parse(a.out)["ppl"].get<double>();
    const double pb = nlohmann::json::parse(b.out)["ppl"].get<double>();
    QVERIFY2(std::fabs(pa / pb - 1) < 1e-6,
             (std::to_string(pa) + " vs " + std::to_string(pb)).c_str());
}

void TestGgufModel::refusedFiles() {
    QL_REQUIRE_DATA(kF32);
    const std::string dir = qltest::tempDir("gguf-model-bad").toStdString();
    writeVariant(dir + "/gemma.gguf", "gemma", "", GgmlType::F32);
    expectRefused(dir + "/gemma.gguf", "'general.architecture' is 'gemma'");
    writeVariant(dir + "/no-width.gguf", "llama", "llama.embedding_length", GgmlType::F32);
    expectRefused(dir + "/no-width.gguf", "'llama.embedding_length' is missing");
    writeVariant(dir + "/iq4.gguf", "llama", "", GgmlType::IQ4_NL);
    expectRefused(dir + "/iq4.gguf", "tensor 'blk.0.attn_q.weight' is IQ4_NL");
    writeVariant(dir + "/no-vocab.gguf", "llama", "tokenizer.ggml.tokens", GgmlType::F32);
    try {
        Tokenizer::load(dir + "/no-vocab.gguf");
        QFAIL("expected ql::Error");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains("'tokenizer.ggml.tokens' is missing"), e.what());
    }
}

QTEST_GUILESS_MAIN(TestGgufModel)
#include "test_gguf_model.moc"
