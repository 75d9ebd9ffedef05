// KV-cached decoding and generation (model/decoder.h, model/generate.h): cached logits
// against the full-sequence forward pass at every step (shared story models, synthetic
// Qwen2/Qwen3 with biases and q/k norms, a Mistral-style sliding window), greedy
// generation with and without the cache, and the sampler.
// ATen first and QT_NO_KEYWORDS: Qt's `slots` macro breaks torch headers.
#include "model/transformer.h"
#include "model/transformer_weights.h"

#include "base/error.h"
#include "model/decoder.h"
#include "model/generate.h"
#include "model/model.h"
#include "model/step_kernels.h"
#include "model/synth.h"
#include "testdata.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

#include <QTest>

#include <algorithm>
#include <cmath>
#include <map>

namespace {

// Cached and full-sequence logits differ only by the summation order of different GEMM
// shapes: |cached - full| <= kLogitTolerance * (1 + max |full logit| of the row).
constexpr double kLogitTolerance = 2e-5;

std::shared_ptr<ql::Model> sharedModel(const std::string& name) {
    static std::map<std::string, std::shared_ptr<ql::Model>> cache;
    auto& m = cache[name];
    if (!m) m = ql::Model::load(qltest::dataPath(QString::fromStdString("models/" + name)));
    return m;
}

std::shared_ptr<ql::Model> synthModel(const std::string& preset) {
    static std::map<std::string, std::shared_ptr<ql::Model>> cache;
    auto& m = cache[preset];
    if (!m) {
        ql::SynthOptions o;
        o.preset = preset;
        o.outDir = qltest::tempDir(QString::fromStdString("generate-" + preset)).toStdString();
        o.dtype = ql::DType::F32;
        o.seed = 7;
        ql::synthesizeModel(o);
        m = ql::Model::load(o.outDir);
    }
    return m;
}

std::shared_ptr<ql::Model> modelFor(const QString& name) {
    if (name.endsWith("-tiny")) return synthModel(name.toStdString());
    if (!qltest::hasData("models/" + name)) return nullptr;
    return sharedModel(name.toStdString());
}

std::vector<int32_t> storyPrompt(const std::string& model, size_t count) {
    const auto tokenizer =
        ql::Tokenizer::load(qltest::dataPath(QString::fromStdString("models/" + model)));
    std::vector<int32_t> ids =
        tokenizer->encode(qltest::readFile(qltest::dataPath("data/stories/stories.txt")));
    ids.resize(std::min(ids.size(), count));
    return ids;
}

std::vector<int32_t> promptFor(const QString& name, size_t count) {
    if (!name.endsWith("-tiny")) return storyPrompt(name.toStdString(), count);
    std::vector<int32_t> ids;  // synthetic vocabularies: any ids
    for (size_t i = 0; i < count; ++i) ids.push_back(int32_t((i * 37 + 11) % 500));
    return ids;
}

// Logits [T, vocab] of the whole sequence in one forward pass.
at::Tensor fullLogits(const ql::Model& model, const std::vector<int32_t>& ids) {
    at::NoGradGuard noGrad;
    const at::Tensor t =
        at::from_blob(const_cast<int32_t*>(ids.data()), {1, int64_t(ids.size())}, at::kInt)
            .to(at::kLong);
    return model.transformer().forward(t)[0].contiguous();
}

// The largest |cached - full| of row `row`, relative to 1 + max |full| of that row.
double rowError(const at::Tensor& full, int64_t row, const float* cached) {
    const at::Tensor ref = full[row];
    const at::Tensor got = at::from_blob(const_cast<float*>(cached), {ref.numel()}, at::kFloat);
    const double scale = 1.0 + ref.abs().max().item<double>();
    return (got - ref).abs().max().item<double>() / scale;
}

// Prefill of `prefill` tokens, then chunks of `chunk` tokens (1 = one per step); every
// row checked against the full forward pass. Returns the largest relative error.
double cachedVersusFull(const ql::Model& model, const std::vector<int32_t>& ids, size_t prefill,
                        size_t chunk) {
    const at::Tensor full = fullLogits(model, ids);
    const int64_t vocab = full.size(1);
    ql::Decoder decoder(model);
    double worst = 0.0;
    for (size_t begin = 0; begin < ids.size();) {
        const size_t n = std::min(begin == 0 ? prefill : chunk, ids.size() - begin);
        const std::vector<int32_t> part(ids.begin() + std::ptrdiff_t(begin),
                                        ids.begin() + std::ptrdiff_t(begin + n));
        const std::vector<float> rows = decoder.feedAll(part);
        if (rows.size() != n * size_t(vocab)) throw ql::Error("wrong logit count");
        for (size_t i = 0; i < n; ++i)
            worst = std::max(worst,
                             rowError(full, int64_t(begin + i), rows.data() + i * size_t(vocab)));
        begin += n;
        if (decoder.position() != int64_t(begin)) throw ql::Error("wrong decoder position");
    }
    return worst;
}

// Feeds `ids` in chunks of the given sizes (cycled; the first is the prefill), every row
// checked against the full forward pass. Returns the largest relative error.
double chunksVersusFull(const ql::Model& model, const std::vector<int32_t>& ids,
                        const std::vector<size_t>& sizes) {
    const at::Tensor full = fullLogits(model, ids);
    const int64_t vocab = full.size(1);
    ql::Decoder decoder(model);
    double worst = 0.0;
    for (size_t begin = 0, k = 0; begin < ids.size(); ++k) {
        const size_t n = std::min(sizes[k % sizes.size()], ids.size() - begin);
        const std::vector<int32_t> part(ids.begin() + std::ptrdiff_t(begin),
                                        ids.begin() + std::ptrdiff_t(begin + n));
        const std::vector<float> rows = decoder.feedAll(part);
        for (size_t i = 0; i < n; ++i)
            worst = std::max(worst,
                             rowError(full, int64_t(begin + i), rows.data() + i * size_t(vocab)));
        begin += n;
    }
    return worst;
}

// Restores the decode-step path (and the stage split threshold) a test changed.
struct DecodeStepPathGuard {
    ql::DecodeStepPath saved = ql::decodeStepPath();
    bool wide = ql::step::wideStepKernels();
    ~DecodeStepPathGuard() {
        ql::setDecodeStepPath(saved);
        ql::step::setWideStepKernels(wide);
        ql::setDecodeStageParallelWork(int64_t(1) << 15);
    }
};

// Paths of decodeStepLoopsEqualFullForward: the loops step with its default split of
// attention and SiLU·up over threads, with every stage split (even one key), with the
// portable step kernels instead of the AVX-512 ones (model/step_kernels.h), and ATen.
enum StepVariant { LoopsDefault, LoopsAllSplit, LoopsPortable, Aten };

}  // namespace

class TestGenerate : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void cachedLogitsEqualFullForward_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<int>("prefill");
        QTest::addColumn<int>("chunk");
        for (const char* m : {"stories260k", "tinystories-656k", "qwen2-tiny", "qwen3-tiny"}) {
            QTest::newRow((std::string(m) + " step").c_str()) << QString(m) << 7 << 1;
            QTest::newRow((std::string(m) + " chunks").c_str()) << QString(m) << 1 << 5;
        }
    }
    void cachedLogitsEqualFullForward() {
        QFETCH(QString, model);
        QFETCH(int, prefill);
        QFETCH(int, chunk);
        const auto m = modelFor(model);
        if (!m) QSKIP(qPrintable("shared model " + model + " is missing"));
        const std::vector<int32_t> ids = promptFor(model, 40);
        QCOMPARE(ids.size(), size_t(40));
        const double err = cachedVersusFull(*m, ids, size_t(prefill), size_t(chunk));
        qInfo("%s: largest relative logit difference %.3g", qPrintable(model), err);
        QVERIFY2(err <= kLogitTolerance, qPrintable(QString::number(err)));
    }

    // Mistral's sliding window: the cache keeps only `window` entries and the logits
    // still equal the full pass with the windowed mask (and differ from no window).
    void slidingWindowCache() {
        if (!qltest::hasData("models/stories260k")) QSKIP("shared model stories260k is missing");
        auto model = ql::Model::load(qltest::dataPath("models/stories260k"));
        const std::vector<int32_t> ids = storyPrompt("stories260k", 30);
        const at::Tensor unwindowed = fullLogits(*model, ids);
        model->transformer().setSlidingWindow(6);
        const double err = cachedVersusFull(*model, ids, 4, 1);
        QVERIFY2(err <= kLogitTolerance, qPrintable(QString::number(err)));
        const at::Tensor windowed = fullLogits(*model, ids);
        QVERIFY((windowed[29] - unwindowed[29]).abs().max().item<double>() > 1e-3);
        ql::Decoder decoder(*model);
        decoder.feed(ids);
        // 5 blocks x (K + V) x 4 kv heads x 6 positions x head_dim 8 x 4 bytes.
        QCOMPARE(decoder.cachedValueBytes(), uint64_t(5 * 2 * 4 * 6 * 8 * 4));
        QVERIFY(decoder.cacheBytes() >= decoder.cachedValueBytes());
    }

    // cacheBytes() is the memory the caches hold: after a one-token step (loops path) each
    // block's K and V storage has room for 256 positions, counted once (k and v are views of
    // it), while cachedValueBytes() counts the positions; a reset releases both.
    void cacheBytesCountsTheStorageHeld() {
        DecodeStepPathGuard guard;
        ql::setDecodeStepPath(ql::DecodeStepPath::Loops);
        const auto m = synthModel("qwen2-tiny");
        const ql::ModelConfig& c = m->config();
        ql::Decoder decoder(*m);
        decoder.feed({5, 9, 13, 17, 21});
        decoder.feed({7});
        const uint64_t perPosition =
            uint64_t(c.numLayers) * 2 * uint64_t(c.numKvHeads) * uint64_t(c.headDim) * 4;
        QCOMPARE(decoder.cachedValueBytes(), 6 * perPosition);
        QCOMPARE(decoder.cacheBytes(), 256 * perPosition);
        for (int i = 0; i < 3; ++i) decoder.feed({int32_t(30 + i)});  // in place: same storage
        QCOMPARE(decoder.cachedValueBytes(), 9 * perPosition);
        QCOMPARE(decoder.cacheBytes(), 256 * perPosition);
        decoder.reset();
        QCOMPARE(decoder.cacheBytes(), uint64_t(0));
        QCOMPARE(decoder.cachedValueBytes(), uint64_t(0));
    }

    // The one-token decode step in plain loops (transformer_step.cpp) against the full
    // forward pass: 300 positions one at a time (the KV storage grows past its first 256
    // positions), and steps mixed with 5-token chunks (the ATen path replaces the cache's
    // tensors; the next one-token step copies them into new storage). Llama (no bias), Qwen2
    // (q/k/v biases), Qwen3 (q/k norms, head_dim 64). The loops path must have run (the
    // cache's storage is set) and the ATen path gives the same within the same tolerance.
    void decodeStepLoopsEqualFullForward_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<int>("path");
        const char* names[] = {"loops", "loops all split", "loops portable", "aten"};
        for (const char* m : {"llama-tiny", "qwen2-tiny", "qwen3-tiny"})
            for (int v : {LoopsDefault, LoopsAllSplit, LoopsPortable, Aten})
                QTest::newRow(qPrintable(QString("%1 %2").arg(m, names[v]))) << QString(m) << v;
    }
    void decodeStepLoopsEqualFullForward() {
        QFETCH(QString, model);
        QFETCH(int, path);
        DecodeStepPathGuard guard;
        ql::setDecodeStepPath(path == Aten ? ql::DecodeStepPath::Aten : ql::DecodeStepPath::Loops);
        if (path == LoopsAllSplit) ql::setDecodeStageParallelWork(0);
        if (path == LoopsPortable) ql::step::setWideStepKernels(false);
        const auto m = synthModel(model.toStdString());
        const std::vector<int32_t> ids = promptFor(model, 300);
        const double steps = chunksVersusFull(*m, ids, {3, 1});
        const std::vector<int32_t> first(ids.begin(), ids.begin() + 60);
        const double mixed = chunksVersusFull(*m, first, {2, 1, 1, 1, 5, 1, 1, 8});
        qInfo("%s: largest relative logit difference %.3g (300 steps), %.3g (mixed chunks)",
              qPrintable(model), steps, mixed);
        QVERIFY2(steps <= kLogitTolerance, qPrintable(QString::number(steps)));
        QVERIFY2(mixed <= kLogitTolerance, qPrintable(QString::number(mixed)));
        // Which path ran: only the loops write into the cache's storage.
        at::NoGradGuard noGrad;
        const ql::Transformer& net = m->transformer();
        const at::Tensor prompt =
            at::tensor(std::vector<int64_t>{5, 9, 13}, at::kLong).view({1, 3});
        ql::BlockCache cache;
        net.blockCached(0, net.embed(prompt), cache);
        QVERIFY(!cache.kStore.defined());  // three tokens: the ATen path
        const at::Tensor one = at::tensor(std::vector<int64_t>{7}, at::kLong).view({1, 1});
        const at::Tensor out = net.blockCached(0, net.embed(one), cache);
        QCOMPARE(cache.length(), int64_t(4));
        QCOMPARE(cache.kStore.defined(), path != Aten);
        if (cache.kStore.defined()) {
            QCOMPARE(cache.kStore.size(2), int64_t(256));
            QCOMPARE(cache.k.data_ptr(), cache.kStore.data_ptr());
        }
        QCOMPARE(out.sizes().vec(), std::vector<int64_t>({1, 1, m->config().hiddenSize}));
    }

    // The decode step's RoPE rows (computed 64 positions at a time) are the one-position
    // tables' values bit for bit, on both sides of a 64-position boundary and for another
    // invFreq tensor after the first.
    void ropeRowsEqualOnePositionTables() {
        at::NoGradGuard noGrad;
        const at::Tensor a = 1.0 / at::pow(at::scalar_tensor(10000.0, at::kFloat),
                                           at::arange(0, 64, 2, at::kFloat) / 64.0);
        const at::Tensor b = 1.0 / at::pow(at::scalar_tensor(1e6, at::kFloat),
                                           at::arange(0, 32, 2, at::kFloat) / 32.0);
        for (const at::Tensor& invFreq : {a, b, a})
            for (int64_t position : {0, 1, 63, 64, 65, 127, 128, 300, 4095, 4096, 31999}) {
                const ql::RopeRow row = ql::ropeRow(invFreq, position);
                const auto [cos, sin] = ql::ropeTables(invFreq, position, 1);
                const int64_t D = 2 * invFreq.numel();
                QCOMPARE(cos.numel(), D);
                QVERIFY2(std::equal(row.cos, row.cos + D, cos.contiguous().data_ptr<float>()),
                         qPrintable(QString("cos at %1").arg(position)));
                QVERIFY2(std::equal(row.sin, row.sin + D, sin.contiguous().data_ptr<float>()),
                         qPrintable(QString("sin at %1").arg(position)));
            }
    }

    // A one-token step updates a moved-in hidden state in place (no copy) and leaves one the
    // caller still holds as it was; both give the same values.
    void decodeStepConsumesOnlyAMovedState() {
        DecodeStepPathGuard guard;
        ql::setDecodeStepPath(ql::DecodeStepPath::Loops);
        at::NoGradGuard noGrad;
        const auto m = synthModel("qwen2-tiny");
        const ql::Transformer& net = m->transformer();
        const at::Tensor prompt =
            at::tensor(std::vector<int64_t>{5, 9, 13}, at::kLong).view({1, 3});
        const at::Tensor one = at::tensor(std::vector<int64_t>{7}, at::kLong).view({1, 1});
        ql::BlockCache kept, moved;
        net.blockCached(0, net.embed(prompt), kept);
        net.blockCached(0, net.embed(prompt), moved);

        const at::Tensor held = net.embed(one);
        const at::Tensor before = held.clone();
        const at::Tensor fromHeld = net.blockCached(0, held, kept);
        QVERIFY(at::equal(held, before));  // the caller's tensor is untouched
        QVERIFY(fromHeld.data_ptr() != held.data_ptr());

        at::Tensor state = net.embed(one);
        const void* storage = state.data_ptr();
        const at::Tensor fromMoved = net.blockCached(0, std::move(state), moved);
        QCOMPARE(fromMoved.data_ptr(), storage);  // updated in place
        QVERIFY(at::equal(fromMoved, fromHeld));
        QVERIFY(!at::equal(fromMoved, before));
    }

    void decoderRefusesBadInput() {
        const auto m = synthModel("qwen2-tiny");
        ql::Decoder decoder(*m);
        QVERIFY_THROWS_EXCEPTION(ql::Error, decoder.feed({}));
        QVERIFY_THROWS_EXCEPTION(ql::Error, decoder.feed({5, 512}));
        QCOMPARE(decoder.position(), int64_t(0));  // a failed step forgets everything
        std::vector<int32_t> tooLong(513, 3);      // max_position_embeddings 512
        QVERIFY_THROWS_EXCEPTION(ql::Error, decoder.feed(tooLong));
    }

    void greedyIsDeterministicWithAndWithoutCache_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("stories260k") << QString("stories260k");
        QTest::newRow("tinystories-656k") << QString("tinystories-656k");
    }
    void greedyIsDeterministicWithAndWithoutCache() {
        QFETCH(QString, model);
        const auto m = modelFor(model);
        if (!m) QSKIP(qPrintable("shared model " + model + " is missing"));
        const std::vector<int32_t> prompt = promptFor(model, 12);
        ql::GenerationOptions o;
        o.maxNewTokens = 40;
        const ql::GenerationResult a = ql::generate(*m, prompt, o);
        const ql::GenerationResult b = ql::generate(*m, prompt, o);
        o.useCache = false;
        const ql::GenerationResult c = ql::generate(*m, prompt, o);
        QCOMPARE(a.tokens.size(), size_t(40));
        QCOMPARE(a.tokens, b.tokens);
        QCOMPARE(a.tokens, c.tokens);
        QVERIFY(a.cacheBytes > 0);
        QCOMPARE(c.cacheBytes, uint64_t(0));
        // Not a degenerate repetition: a trained story model writes varied tokens.
        std::vector<int32_t> distinct = a.tokens;
        std::sort(distinct.begin(), distinct.end());
        QVERIFY(std::unique(distinct.begin(), distinct.end()) - distinct.begin() >= 10);
        // Teacher-forced logits of the model's own greedy text: argmax is the text.
        const auto rows = ql::continuationLogits(*m, prompt, a.tokens);
        QCOMPARE(rows.size(), a.tokens.size());
        for (size_t i = 0; i < rows.size(); ++i) QCOMPARE(ql::argmaxToken(rows[i]), a.tokens[i]);
        // One decode step per token (generate --packed --activations int8 teacher-forces so):
        // the same rows as the one pass, to float rounding.
        const auto stepped = ql::continuationLogits(*m, prompt, a.tokens, true);
        QCOMPARE(stepped.size(), rows.size());
        for (size_t i = 0; i < rows.size(); ++i) {
            QCOMPARE(stepped[i].size(), rows[i].size());
            double worst = 0, scale = 0;
            for (size_t v = 0; v < rows[i].size(); ++v) {
                worst = std::max(worst, double(std::abs(stepped[i][v] - rows[i][v])));
                scale = std::max(scale, double(std::abs(rows[i][v])));
            }
            QVERIFY2(worst <= kLogitTolerance * scale,
                     qPrintable(QString("row %1: %2 of %3").arg(i).arg(worst).arg(scale)));
        }
        // Against itself: KL 0, the run's token is the float token.
        for (const ql::TokenComparison& t : ql::compareNextTokens(rows, rows, a.tokens)) {
            QVERIFY(t.kl < 1e-12);
            QCOMPARE(t.runToken, t.floatToken);
            QCOMPARE(t.floatProbOfRunToken, t.floatProbOfFloatToken);
        }
    }

    void generationStopsAndCancels() {
        const auto m = synthModel("qwen2-tiny");
        ql::GenerationOptions o;
        o.maxNewTokens = 20;
        const ql::GenerationResult free = ql::generate(*m, {1, 2, 3}, o);
        o.stopTokens = {free.tokens[4]};
        const ql::GenerationResult stopped = ql::generate(*m, {1, 2, 3}, o);
        QVERIFY(stopped.stopped);
        const auto firstStop = std::find(free.tokens.begin(), free.tokens.end(), free.tokens[4]);
        QCOMPARE(stopped.tokens.size(), size_t(firstStop - free.tokens.begin() + 1));
        int streamed = 0;
        const auto onToken = [&](int index, int32_t token) {
            QCOMPARE(index, streamed);
            QCOMPARE(token, free.tokens[size_t(index)]);
            ++streamed;
        };
        const auto cancelAfter3 = [&](const ql::Progress&) { return streamed < 3; };
        o.stopTokens.clear();
        QVERIFY_THROWS_EXCEPTION(ql::Cancelled,
                                 ql::generate(*m, {1, 2, 3}, o, onToken, cancelAfter3));
        QCOMPARE(streamed, 3);
    }

    void samplerIsSeededAndTopKOneIsGreedy() {
        std::vector<float> logits(300);
        for (size_t i = 0; i < logits.size(); ++i)
            logits[i] = float(std::sin(double(i) * 1.7) * 3.0);
        ql::SamplingOptions s;
        s.greedy = false;
        s.temperature = 1.3;
        s.topK = 50;
        s.topP = 0.9;
        s.seed = 42;
        ql::Sampler a(s), b(s);
        std::vector<int32_t> ta, tb, tc;
        for (int i = 0; i < 64; ++i) {
            ta.push_back(a.next(logits));
            tb.push_back(b.next(logits));
        }
        QCOMPARE(ta, tb);
        s.seed = 43;
        ql::Sampler c(s);
        for (int i = 0; i < 64; ++i) tc.push_back(c.next(logits));
        QVERIFY(ta != tc);
        const int32_t argmax = ql::argmaxToken(logits);
        s.topK = 1;
        ql::Sampler k1(s);
        for (int i = 0; i < 20; ++i) QCOMPARE(k1.next(logits), argmax);
        s.topK = 0;
        s.topP = 1e-6;  // the single most likely token already reaches P
        ql::Sampler p0(s);
        for (int i = 0; i < 20; ++i) QCOMPARE(p0.next(logits), argmax);
    }

    // Frequencies of p = (0.5, 0.3, 0.15, 0.05) over 40,000 draws: within 0.01 (> 5 sigma);
    // top-k 2 and top-p 0.75 leave {0, 1} renormalized to (0.625, 0.375).
    void samplerFrequencies_data() {
        QTest::addColumn<int>("topK");
        QTest::addColumn<double>("topP");
        QTest::addColumn<std::vector<double>>("expected");
        QTest::newRow("all") << 0 << 1.0 << std::vector<double>{0.5, 0.3, 0.15, 0.05};
        QTest::newRow("top-k 2") << 2 << 1.0 << std::vector<double>{0.625, 0.375, 0, 0};
        QTest::newRow("top-p 0.75") << 0 << 0.75 << std::vector<double>{0.625, 0.375, 0, 0};
    }
    void samplerFrequencies() {
        QFETCH(int, topK);
        QFETCH(double, topP);
        QFETCH(std::vector<double>, expected);
        // Temperature 2 on logits 2 log p gives back p.
        const std::vector<float> logits = {float(2 * std::log(0.5)), float(2 * std::log(0.3)),
                                           float(2 * std::log(0.15)), float(2 * std::log(0.05))};
        ql::SamplingOptions s;
        s.greedy = false;
        s.temperature = 2.0;
        s.topK = topK;
        s.topP = topP;
        s.seed = 5;
        ql::Sampler sampler(s);
        std::vector<int> counts(4);
        const int draws = 40000;
        for (int i = 0; i < draws; ++i) ++counts[size_t(sampler.next(logits))];
        for (size_t t = 0; t < 4; ++t)
            QVERIFY2(std::abs(counts[t] / double(draws) - expected[t]) < 0.01,
                     qPrintable(QString("token %1: %2").arg(t).arg(counts[t] / double(draws))));
    }

    void samplerRefusesBadOptions() {
        ql::SamplingOptions s;
        s.greedy = false;
        s.temperature = 0;
        QVERIFY_THROWS_EXCEPTION(ql::Error, ql::Sampler{s});
        s.temperature = 1;
        s.topP = 0;
        QVERIFY_THROWS_EXCEPTION(ql::Error, ql::Sampler{s});
        s.topP = 1;
        s.topK = -1;
        QVERIFY_THROWS_EXCEPTION(ql::Error, ql::Sampler{s});
    }

    // The real Qwen3 tokenizer_config.json is ChatML without a default system turn; its
    // markers encode as the single special tokens 151644 / 151645.
    void chatTemplateQwen() {
        if (!qltest::hasData("tokenizers/qwen3")) QSKIP("shared tokenizers/qwen3 is missing");
        const std::string dir = qltest::dataPath("tokenizers/qwen3");
        const ql::ChatTemplate chat = ql::detectChatTemplate(dir);
        QCOMPARE(int(chat.family), int(ql::ChatFamily::ChatML));
        QVERIFY(chat.defaultSystem.empty());
        const ql::ChatPrompt p = ql::chatPrompt(chat, "Hi there");
        QCOMPARE(p.text,
                 std::string("<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"));
        QVERIFY(!p.bos);
        const auto tokenizer = ql::Tokenizer::load(dir);
        const std::vector<int32_t> ids = tokenizer->encode(p.text);
        QCOMPARE(ids.front(), 151644);
        QCOMPARE(std::count(ids.begin(), ids.end(), 151645), std::ptrdiff_t(1));
        QCOMPARE(tokenizer->encode(p.stopTokens.at(0)), std::vector<int32_t>{151645});
    }

    void chatTemplateFamilies() {
        const ql::ChatTemplate l3 = ql::recognizeChatTemplate(
            "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
            "message['content'] | trim + '<|eot_id|>' }}",
            "t");
        QCOMPARE(int(l3.family), int(ql::ChatFamily::Llama3));
        const ql::ChatPrompt p3 = ql::chatPrompt(l3, "  Hello \n");
        QVERIFY(p3.bos);
        QCOMPARE(p3.text, std::string("<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                                      "<|start_header_id|>assistant<|end_header_id|>\n\n"));
        const ql::ChatTemplate l2 = ql::recognizeChatTemplate(
            "{{ bos_token + '[INST] ' + message['content'] | trim + ' [/INST]' }}", "t");
        QCOMPARE(int(l2.family), int(ql::ChatFamily::Llama2));
        QCOMPARE(ql::chatPrompt(l2, "Hello").text, std::string("[INST] Hello [/INST]"));
        const ql::ChatTemplate q25 = ql::recognizeChatTemplate(
            "{{ '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
            "assistant.<|im_end|>' }}<|im_start|><|im_end|>",
            "t");
        QCOMPARE(
            ql::chatPrompt(q25, "Hi").text,
            std::string("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a "
                        "helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                        "<|im_start|>assistant\n"));
        QVERIFY_THROWS_EXCEPTION(ql::Error, ql::recognizeChatTemplate("{{ '### Human: ' }}", "t"));
        if (qltest::hasData("models/stories260k")) {  // no chat_template in its config
            try {
                ql::detectChatTemplate(qltest::dataPath("models/stories260k"));
                QFAIL("a config without chat_template was accepted");
            } catch (const ql::Error& e) {
                QVERIFY(std::string(e.what()).find("has no chat_template") != std::string::npos);
            }
        }
    }

    // KL(p || q) against a hand computation: p = (0.5, 0.5), q = (0.9, 0.1).
    void comparisonNumbers() {
        const std::vector<std::vector<float>> p = {{0.0f, 0.0f}};
        const std::vector<std::vector<float>> q = {{float(std::log(0.9)), float(std::log(0.1))}};
        const auto c = ql::compareNextTokens(p, q, {1});
        QCOMPARE(c.size(), size_t(1));
        const double kl = 0.5 * std::log(0.5 / 0.9) + 0.5 * std::log(0.5 / 0.1);
        QVERIFY(std::abs(c[0].kl - kl) < 1e-6);
        QCOMPARE(c[0].runToken, 0);
        QVERIFY(std::abs(c[0].floatProbOfRunToken - 0.5) < 1e-12);
        QCOMPARE(ql::firstDivergence({1, 2, 3}, {1, 2, 4}), 2);
        QCOMPARE(ql::firstDivergence({1, 2}, {1, 2, 4}), 2);
        QCOMPARE(ql::firstDivergence({1, 2}, {1, 2}), -1);
    }
};

QTEST_GUILESS_MAIN(TestGenerate)
#include "test_generate.moc"
