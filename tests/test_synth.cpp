// Tests of synthetic model folders (core/model/synth.cpp) and weights-only inspection
// (core/model/inspect.cpp). Only the small presets are generated here.
#include "base/error.h"
#include "base/sha256.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/synth.h"
#include "testdata.h"

#include <QTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string synth(const QString& name, const std::string& preset, ql::DType dtype, uint64_t seed,
                  uint64_t maxShard = 2000000000ull) {
    ql::SynthOptions o;
    o.preset = preset;
    o.outDir = qltest::tempDir(name).toStdString();
    o.dtype = dtype;
    o.seed = seed;
    o.maxShardBytes = maxShard;
    ql::synthesizeModel(o);
    return o.outDir;
}

std::string fileSha(const std::string& path) {
    return ql::sha256Hex(qltest::readFile(path));
}

// Parameter count written out from the architecture, independently of the synth plan.
int64_t expectedParameters(const ql::ModelConfig& c) {
    const int64_t h = c.hiddenSize, q = int64_t(c.numHeads) * c.headDim,
                  kv = int64_t(c.numKvHeads) * c.headDim, f = c.intermediateSize;
    int64_t perLayer = 2 * h + h * q + 2 * h * kv + q * h + 3 * h * f;
    if (c.attentionBias) perLayer += q + 2 * kv;
    if (c.qkNorm) perLayer += 2 * c.headDim;
    const int64_t embed = int64_t(c.vocabSize) * h;
    return embed * (c.tieWordEmbeddings ? 1 : 2) + c.numLayers * perLayer + h;
}

double stddev(const std::vector<float>& v) {
    double s = 0, s2 = 0;
    for (float x : v) s += x, s2 += double(x) * x;
    const double m = s / double(v.size());
    return std::sqrt(s2 / double(v.size()) - m * m);
}

}  // namespace

class TestSynth : public QObject {
    Q_OBJECT
private slots:
    void presetsMatchTheRealModels() {
        const auto names = ql::synthPresets();
        for (const char* n : {"qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-7b",
                              "llama-tiny", "qwen3-0.6b"})
            QVERIFY(std::find(names.begin(), names.end(), n) != names.end());
        // Shapes as published in the models' config.json files.
        const auto q05 = ql::synthPresetConfig("qwen2.5-0.5b");
        QCOMPARE(q05.hiddenSize, 896);
        QCOMPARE(q05.intermediateSize, 4864);
        QCOMPARE(q05.numLayers, 24);
        QCOMPARE(q05.numHeads, 14);
        QCOMPARE(q05.numKvHeads, 2);
        QCOMPARE(q05.vocabSize, 151936);
        QVERIFY(q05.attentionBias && q05.tieWordEmbeddings);
        QCOMPARE(expectedParameters(q05), int64_t(494032768));  // Qwen2.5-0.5B: 0.49B
        const auto q15 = ql::synthPresetConfig("qwen2.5-1.5b");
        QCOMPARE(expectedParameters(q15), int64_t(1543714304));  // Qwen2.5-1.5B: 1.54B
        const auto q25_3 = ql::synthPresetConfig("qwen2.5-3b");
        QVERIFY(q25_3.tieWordEmbeddings);
        QCOMPARE(expectedParameters(q25_3), int64_t(3085938688));  // Qwen2.5-3B: 3.09B
        const auto q7 = ql::synthPresetConfig("qwen2.5-7b");
        QCOMPARE(q7.vocabSize, 152064);
        QCOMPARE(q7.numKvHeads, 4);
        QVERIFY(!q7.tieWordEmbeddings);
        QCOMPARE(expectedParameters(q7), int64_t(7615616512));  // Qwen2.5-7B: 7.62B
        const auto q3 = ql::synthPresetConfig("qwen3-0.6b");
        QCOMPARE(q3.headDim, 128);
        QVERIFY(q3.qkNorm);
        QCOMPARE(expectedParameters(q3), int64_t(596049920));  // Qwen3-0.6B: 0.6B
        bool threw = false;
        try {
            ql::synthPresetConfig("gpt-5");
        } catch (const ql::Error& e) {
            threw = std::string(e.what()).find("'gpt-5'") != std::string::npos;
        }
        QVERIFY(threw);
    }
    void llamaTinyFolder() {
        const std::string dir = synth("synth-llama", "llama-tiny", ql::DType::F32, 1);
        for (const char* f : {"config.json", "model.safetensors", "tokenizer.json",
                              "tokenizer_config.json", "README.md"})
            QVERIFY2(fs::exists(fs::path(dir) / f), f);
        QVERIFY(!fs::exists(fs::path(dir) / "model.safetensors.index.json"));
        QVERIFY(qltest::readFile(dir + "/README.md").find("RANDOM") != std::string::npos);
        const json cfgJson = json::parse(qltest::readFile(dir + "/config.json"));
        QVERIFY(cfgJson.at("quantlens_synthetic").get<bool>());
        QCOMPARE(cfgJson.at("quantlens_preset").get<std::string>(), std::string("llama-tiny"));

        const auto c = ql::loadModelConfig(dir + "/config.json");
        QVERIFY(c.architecture == ql::Architecture::Llama);
        QCOMPARE(c.hiddenSize, 256);
        QCOMPARE(c.intermediateSize, 768);
        QCOMPARE(c.numLayers, 4);
        QCOMPARE(c.numHeads, 8);
        QCOMPARE(c.numKvHeads, 4);
        QCOMPARE(c.vocabSize, 512);
        QCOMPARE(c.maxPositions, 512);
        QCOMPARE(c.ropeTheta, 10000.0);
        QCOMPARE(c.rmsNormEps, 1e-5);
        QVERIFY(!c.tieWordEmbeddings);
        QCOMPARE(c.torchDtype, std::string("float32"));

        const auto s = ql::inspectCheckpoint(dir);
        QCOMPARE(s.parameters, expectedParameters(c));
        QCOMPARE(s.bytesInMemory, uint64_t(s.parameters) * 4);
        QCOMPARE(s.bytesOnDisk, uint64_t(fs::file_size(fs::path(dir) / "model.safetensors")));
        QCOMPARE(s.config.architectureName, std::string("LlamaForCausalLM"));
        QCOMPARE(s.tensors.size(), size_t(2 + 9 * 4 + 1));
        QCOMPARE(s.linears.size(), size_t(7 * 4));
        const int64_t h = 256, q = 8 * 32, kv = 4 * 32, f = 768;
        const std::map<ql::ProjKind, std::pair<int64_t, int64_t>> shapes = {
            {ql::ProjKind::Q, {q, h}},   {ql::ProjKind::K, {kv, h}},   {ql::ProjKind::V, {kv, h}},
            {ql::ProjKind::O, {h, q}},   {ql::ProjKind::Gate, {f, h}}, {ql::ProjKind::Up, {f, h}},
            {ql::ProjKind::Down, {h, f}}};
        for (const auto& li : s.linears) {
            QCOMPARE(li.outFeatures, shapes.at(li.kind).first);
            QCOMPARE(li.inFeatures, shapes.at(li.kind).second);
            QVERIFY(!li.hasBias);
        }
        auto store = ql::TensorStore::open(dir);
        QCOMPARE(store->get("lm_head.weight").shape, (std::vector<int64_t>{512, 256}));
        QCOMPARE(store->get("model.embed_tokens.weight").shape, (std::vector<int64_t>{512, 256}));
        QVERIFY(store->get("model.norm.weight").dtype == ql::DType::F32);
    }
    void valuesHaveTheIntendedDistribution() {
        const std::string dir = synth("synth-values", "llama-tiny", ql::DType::F32, 3);
        auto store = ql::TensorStore::open(dir);
        for (const auto& n : {"model.norm.weight", "model.layers.2.input_layernorm.weight"})
            for (float v : store->readFloat(n)) QCOMPARE(v, 1.0f);
        const double embedStd = stddev(store->readFloat("model.embed_tokens.weight"));
        QVERIFY2(std::fabs(embedStd - 0.02) < 0.001, qPrintable(QString::number(embedStd)));
        const double downStd = stddev(store->readFloat("model.layers.0.mlp.down_proj.weight"));
        QVERIFY(downStd < 0.02 / std::sqrt(8.0) * 1.5);  // residual outputs are scaled down
        // A few input channels of each projection are ~8x larger than the rest.
        const auto w = store->readFloat("model.layers.1.self_attn.q_proj.weight");
        const int rows = 256, cols = 256;
        std::vector<double> colRms(cols, 0);
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < cols; ++c) colRms[c] += double(w[r * cols + c]) * w[r * cols + c];
        int large = 0;
        for (double& v : colRms) large += std::sqrt(v / rows) > 4 * 0.02;
        QVERIFY(large >= 1 && large <= 4);
    }
    void deterministicPerSeed() {
        const std::string a = synth("synth-seed-a", "llama-tiny", ql::DType::BF16, 42);
        const std::string b = synth("synth-seed-b", "llama-tiny", ql::DType::BF16, 42);
        const std::string c = synth("synth-seed-c", "llama-tiny", ql::DType::BF16, 43);
        QCOMPARE(fileSha(a + "/model.safetensors"), fileSha(b + "/model.safetensors"));
        QVERIFY(fileSha(a + "/model.safetensors") != fileSha(c + "/model.safetensors"));
        QCOMPARE(fileSha(a + "/tokenizer.json"), fileSha(c + "/tokenizer.json"));
    }
    void halfDtypesAreRoundedF32() {
        const std::string f32 = synth("synth-f32", "qwen2-tiny", ql::DType::F32, 5);
        const std::string bf = synth("synth-bf16", "qwen2-tiny", ql::DType::BF16, 5);
        const std::string f16 = synth("synth-f16", "qwen2-tiny", ql::DType::F16, 5);
        auto s32 = ql::TensorStore::open(f32);
        auto sbf = ql::TensorStore::open(bf);
        auto s16 = ql::TensorStore::open(f16);
        QCOMPARE(sbf->names(), s32->names());
        for (const auto& name : s32->names()) {
            const auto ref = s32->readFloat(name);
            const auto* pb = reinterpret_cast<const uint16_t*>(sbf->data(sbf->get(name)));
            const auto* ph = reinterpret_cast<const uint16_t*>(s16->data(s16->get(name)));
            QVERIFY(sbf->get(name).dtype == ql::DType::BF16);
            for (size_t i = 0; i < ref.size(); ++i) {
                QCOMPARE(pb[i], ql::floatToBf16(ref[i]));
                QCOMPARE(ph[i], ql::floatToHalf(ref[i]));
            }
        }
    }
    void qwen2TinyHasBiasesAndTiedEmbedding() {
        const std::string dir = synth("synth-qwen2", "qwen2-tiny", ql::DType::BF16, 1);
        const auto s = ql::inspectCheckpoint(dir + "/model.safetensors");
        QVERIFY(s.config.attentionBias);
        QCOMPARE(s.parameters, expectedParameters(s.config));
        auto store = ql::TensorStore::open(dir);
        QVERIFY(!store->find("lm_head.weight"));
        QCOMPARE(store->get("model.layers.1.self_attn.k_proj.bias").shape,
                 (std::vector<int64_t>{2 * 32}));
        QCOMPARE(store->get("model.layers.1.self_attn.q_proj.bias").shape,
                 (std::vector<int64_t>{4 * 32}));
        QVERIFY(!store->find("model.layers.0.self_attn.o_proj.bias"));
        int withBias = 0;
        for (const auto& li : s.linears) withBias += li.hasBias;
        QCOMPARE(withBias, 3 * 2);
    }
    void qwen3TinyHasQkNormAndHeadDim() {
        const std::string dir = synth("synth-qwen3", "qwen3-tiny", ql::DType::BF16, 1);
        const auto c = ql::loadModelConfig(dir + "/config.json");
        QVERIFY(c.qkNorm && !c.attentionBias);
        QCOMPARE(c.headDim, 64);
        auto store = ql::TensorStore::open(dir);
        QCOMPARE(store->get("model.layers.0.self_attn.q_norm.weight").shape,
                 (std::vector<int64_t>{64}));
        QCOMPARE(store->get("model.layers.0.self_attn.k_norm.weight").shape,
                 (std::vector<int64_t>{64}));
        QCOMPARE(store->get("model.layers.0.self_attn.q_proj.weight").shape,
                 (std::vector<int64_t>{4 * 64, 128}));
        QCOMPARE(store->get("model.layers.0.self_attn.o_proj.weight").shape,
                 (std::vector<int64_t>{128, 4 * 64}));
        QVERIFY(!store->find("model.layers.0.self_attn.q_proj.bias"));
    }
    void shardedWhenLarge() {
        const std::string one = synth("synth-one", "llama-tiny", ql::DType::BF16, 9);
        const std::string many = synth("synth-many", "llama-tiny", ql::DType::BF16, 9, 1000000);
        const fs::path index = fs::path(many) / "model.safetensors.index.json";
        QVERIFY(fs::exists(index));
        QVERIFY(!fs::exists(fs::path(many) / "model.safetensors"));
        const json j = json::parse(qltest::readFile(index.string()));
        std::set<std::string> files;
        for (const auto& [name, file] : j.at("weight_map").items()) files.insert(file);
        QVERIFY(files.size() > 1);
        const std::string last = *files.rbegin();
        char expectedLast[64];
        std::snprintf(expectedLast, sizeof expectedLast, "model-%05zu-of-%05zu.safetensors",
                      files.size(), files.size());
        QCOMPARE(last, std::string(expectedLast));
        for (const auto& f : files) QVERIFY(fs::file_size(fs::path(many) / f) < 1000000 + 4096);
        auto a = ql::TensorStore::open(one);
        auto b = ql::TensorStore::open(many);
        QCOMPARE(j.at("metadata").at("total_size").get<uint64_t>(), a->totalBytes());
        QCOMPARE(b->names(), a->names());
        for (const auto& name : a->names()) {
            const auto& ta = a->get(name);
            QVERIFY(std::memcmp(a->data(ta), b->data(b->get(name)), ta.byteSize) == 0);
        }
        // Writing a single-file model over the sharded folder leaves no stale shards.
        ql::SynthOptions o;
        o.preset = "llama-tiny";
        o.outDir = many;
        ql::synthesizeModel(o);
        QVERIFY(!fs::exists(index));
        QCOMPARE(ql::TensorStore::open(many)->files().size(), size_t(1));
    }
    void tokenizerJsonIsByteLevelBpe() {
        const std::string dir = synth("synth-tok", "llama-tiny", ql::DType::BF16, 1);
        const json t = json::parse(qltest::readFile(dir + "/tokenizer.json"));
        const json& vocab = t.at("model").at("vocab");
        // GPT-2 byte-level ids, known from GPT-2's vocab: '!' 0, 'A' 32, 'Ġ' (space) 220,
        // 'Ā' (byte 0) 188, 'ÿ' (byte 255) 187.
        QCOMPARE(vocab.at("!").get<int>(), 0);
        QCOMPARE(vocab.at("A").get<int>(), 32);
        QCOMPARE(vocab.at("\xC4\xA0").get<int>(), 220);
        QCOMPARE(vocab.at("\xC4\x80").get<int>(), 188);
        QCOMPARE(vocab.at("\xC3\xBF").get<int>(), 187);
        std::set<int> ids;
        for (const auto& [tok, id] : vocab.items()) {
            QVERIFY(id.get<int>() < 512 && id.get<int>() != 256);
            ids.insert(id.get<int>());
        }
        QCOMPARE(ids.size(), vocab.size());
        for (int i = 0; i < 256; ++i) QVERIFY(ids.count(i));
        for (const auto& m : t.at("model").at("merges")) {
            const std::string a = m.at(0), b = m.at(1);
            QVERIFY(vocab.contains(a) && vocab.contains(b) && vocab.contains(a + b));
        }
        const json tc = json::parse(qltest::readFile(dir + "/tokenizer_config.json"));
        QCOMPARE(tc.at("eos_token").get<std::string>(), std::string("<|endoftext|>"));
        const json& added = t.at("added_tokens").at(0);
        QCOMPARE(added.at("id").get<int>(), 256);
        QCOMPARE(added.at("content").get<std::string>(), std::string("<|endoftext|>"));
        QVERIFY(added.at("special").get<bool>());
    }
    void tokenizerJsonFollowsQwenStructure() {
        QL_REQUIRE_DATA("tokenizers/qwen3/tokenizer.json");
        const std::string dir = synth("synth-tok-qwen", "qwen2-tiny", ql::DType::BF16, 1);
        const json mine = json::parse(qltest::readFile(dir + "/tokenizer.json"));
        const json qwen =
            json::parse(qltest::readFile(qltest::dataPath("tokenizers/qwen3/tokenizer.json")));
        for (const char* key : {"normalizer", "pre_tokenizer", "post_processor", "decoder"})
            QVERIFY2(mine.at(key) == qwen.at(key), key);
        for (const auto& [key, value] : qwen.at("model").items())
            if (key != "vocab" && key != "merges")
                QVERIFY2(mine.at("model").at(key) == value, key.c_str());
        // Qwen's first 256 ids are the same byte-level alphabet.
        for (const auto& [tok, id] : mine.at("model").at("vocab").items())
            if (id.get<int>() < 256)
                QCOMPARE(qwen.at("model").at("vocab").at(tok).get<int>(), id.get<int>());
    }
    void badOptions() {
        ql::SynthOptions o;
        o.outDir = qltest::tempDir("synth-bad").toStdString();
        o.preset = "nope";
        QVERIFY_THROWS_EXCEPTION(ql::Error, ql::synthesizeModel(o));
        o.preset = "llama-tiny";
        o.dtype = ql::DType::I8;
        QVERIFY_THROWS_EXCEPTION(ql::Error, ql::synthesizeModel(o));
    }
    void inspectWeightsOnly() {
        // A bare .safetensors file without config.json: weights-only summary.
        const QString dir = qltest::tempDir("synth-weights-only");
        const std::string path = (dir + "/w.safetensors").toStdString();
        ql::writeSafetensors(path, {{"a", ql::DType::F16, {3, 4}, std::vector<unsigned char>(24)},
                                    {"b", ql::DType::I32, {5}, std::vector<unsigned char>(20)}});
        const auto s = ql::inspectCheckpoint(path);
        QVERIFY(s.config.architectureName.empty());
        QCOMPARE(s.parameters, int64_t(17));
        QCOMPARE(s.bytesInMemory, uint64_t(68));
        QCOMPARE(s.tensors.size(), size_t(2));
        QVERIFY(s.linears.empty());
        QCOMPARE(s.bytesOnDisk, uint64_t(fs::file_size(path)));
    }
    void inspectUnsupportedConfigIsWeightsOnly() {
        const QString dir = qltest::tempDir("synth-gpt2");
        const std::string folder = dir.toStdString();
        ql::writeSafetensors(folder + "/model.safetensors",
                             {{"h.0.attn.c_attn.weight",
                               ql::DType::F32,
                               {4, 12},
                               std::vector<unsigned char>(4 * 12 * 4)}});
        std::ofstream(folder + "/config.json") << R"({"architectures":["GPT2LMHeadModel"]})";
        const auto s = ql::inspectCheckpoint(folder);
        QVERIFY(s.config.architectureName.empty());
        QCOMPARE(s.parameters, int64_t(48));
        // A supported architecture with a broken config is an error naming config.json.
        std::ofstream(folder + "/config.json") << R"({"architectures":["LlamaForCausalLM"]})";
        try {
            ql::inspectCheckpoint(folder);
            QFAIL("expected ql::Error");
        } catch (const ql::Error& e) {
            QVERIFY(std::string(e.what()).find("config.json") != std::string::npos);
        }
    }
    void inspectSharedModel() {
        QL_REQUIRE_DATA("models/stories260k");
        const auto s = ql::inspectCheckpoint(qltest::dataPath("models/stories260k"));
        QCOMPARE(s.parameters, int64_t(260032));  // ../shared/README.md
        QCOMPARE(s.linears.size(), size_t(5 * 7));
        QCOMPARE(s.config.headDim, 8);
        for (const auto& li : s.linears)
            if (li.kind == ql::ProjKind::Down) QCOMPARE(li.inFeatures, int64_t(172));
    }
};

QTEST_GUILESS_MAIN(TestSynth)
#include "test_synth.moc"
