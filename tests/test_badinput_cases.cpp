// The hostile cases of test_badinput: each writes its files and registers the command
// and the substrings its one-line error must contain (file name and field).
#include "test_badinput.h"

#include <QDir>

#include <sys/stat.h>

#include <filesystem>

using namespace badinput;
namespace fs = std::filesystem;

namespace {

// A header with one F32 tensor "w" of shape [2] (8 data bytes), with `entry` replacing
// its description.
std::string oneTensor(const std::string& entry, const std::string& data = std::string(8, '\0')) {
    return safetensors("{\"w\":" + entry + "}", data);
}

const char* kGoodEntry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

void fifo(const QString& path) {
    QDir().mkpath(QFileInfo(path).absolutePath());
    ::mkfifo(path.toStdString().c_str(), 0600);
}

}  // namespace

void TestBadInput::headerCase(const QString& name, const std::string& bytes,
                              const QStringList& expect) {
    const QString file = path("hdr/" + name + ".safetensors");
    writeFile(file, bytes);
    add("info-header-" + name, {"info", file}, QStringList{name + ".safetensors"} + expect);
}

void TestBadInput::addHeaderCases() {
    headerCase("empty", "", {"truncated"});
    headerCase("seven-bytes", "1234567", {"truncated"});
    headerCase("length-huge", le64(uint64_t(1) << 63) + "{}", {"header length", "exceeds"});
    headerCase("length-past-end", le64(100) + "{}", {"header length", "exceeds the file size"});
    headerCase("length-zero", le64(0), {"header", "not valid JSON"});
    headerCase("garbage", safetensors("this is not json"), {"header", "not valid JSON"});
    headerCase("cut-json", safetensors("{\"w\": {\"dtype\":"), {"header", "not valid JSON"});
    headerCase("nul-bytes", safetensors(std::string(16, '\0')), {"header", "not valid JSON"});
    headerCase("bad-utf8", safetensors("{\"\xff\xfe\":1}"), {"header", "not valid JSON"});
    headerCase("array", safetensors("[1,2]"), {"not a JSON object"});
    headerCase("entry-number", oneTensor("5"), {"'w'", "not a JSON object"});
    headerCase("no-dtype", oneTensor(R"({"shape":[2],"data_offsets":[0,8]})"), {"'w'", "dtype"});
    headerCase("dtype-unknown", oneTensor(R"({"dtype":"F33","shape":[2],"data_offsets":[0,8]})"),
               {"'w'", "F33"});
    headerCase("dtype-number", oneTensor(R"({"dtype":7,"shape":[2],"data_offsets":[0,8]})"),
               {"'w'", "dtype"});
    headerCase("no-shape", oneTensor(R"({"dtype":"F32","data_offsets":[0,8]})"), {"'w'", "shape"});
    headerCase("shape-negative", oneTensor(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"),
               {"'w'", "non-negative"});
    headerCase("shape-float", oneTensor(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,8]})"),
               {"'w'", "non-negative integers"});
    headerCase("shape-u64-max",
               oneTensor(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]})"),
               {"'w'", "non-negative"});
    headerCase("shape-rank-9",
               oneTensor(R"({"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]})"),
               {"'w'", "dimensions"});
    headerCase("shape-overflow",
               oneTensor(R"({"dtype":"F32","shape":[1099511627776,1099511627776],)"
                         R"("data_offsets":[0,8]})"),
               {"'w'", "overflow"});
    headerCase("no-offsets", oneTensor(R"({"dtype":"F32","shape":[2]})"), {"'w'", "data_offsets"});
    headerCase("offsets-three", oneTensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4,8]})"),
               {"'w'", "data_offsets"});
    headerCase("offsets-negative",
               oneTensor(R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})"),
               {"'w'", "data_offsets"});
    headerCase("offsets-reversed", oneTensor(R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})"),
               {"'w'", "begin > end"});
    headerCase("offsets-past-end",
               oneTensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})", "1234"),
               {"'w'", "exceed the data section"});
    headerCase("size-mismatch", oneTensor(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"),
               {"'w'", "does not match shape"});
    headerCase("overlap",
               safetensors(std::string("{\"a\":") + kGoodEntry + ",\"b\":" + kGoodEntry + "}",
                           std::string(8, '\0')),
               {"overlaps"});
    headerCase(
        "gap",
        oneTensor(R"({"dtype":"F32","shape":[2],"data_offsets":[8,16]})", std::string(16, '\0')),
        {"'w'", "gap of 8 bytes"});
    headerCase("duplicate-tensor",
               safetensors(std::string("{\"w\":") + kGoodEntry + ",\"w\":" + kGoodEntry + "}",
                           std::string(8, '\0')),
               {"\"w\" twice"});
    headerCase("duplicate-field",
               oneTensor(R"({"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]})"),
               {"\"dtype\" twice"});
    headerCase("metadata-array", safetensors(R"({"__metadata__":[1]})"), {"__metadata__"});
    headerCase("nested-metadata-100k",
               safetensors("{\"__metadata__\":{\"x\":" + nested(100000, "[", "]", "1") + "}}"),
               {"nested deeper than 256"});
    headerCase("nested-entry-200k", oneTensor(nested(200000, "{\"a\":", "}", "1")),
               {"nested deeper than 256"});
}

void TestBadInput::addFileTypeCases() {
    fifo(path("fifo-model/model.safetensors"));
    writeFile(path("fifo-model/config.json"), tinyConfig().dump());
    add("info-fifo-in-folder", {"info", path("fifo-model")}, {"model.safetensors", "FIFO"});
    fifo(path("fifo-direct.safetensors"));
    add("info-fifo-direct", {"info", path("fifo-direct.safetensors")},
        {"fifo-direct.safetensors", "FIFO"});
    QDir().mkpath(path("dir-model/model.safetensors"));
    add("info-dir-named-safetensors", {"info", path("dir-model")},
        {"model.safetensors", "is a directory"});
    add("info-device", {"info", "/dev/null"}, {"/dev/null", "device"});
    add("info-missing", {"info", path("does-not-exist")}, {"does-not-exist", "no such file"});
    QDir().mkpath(path("empty-folder"));
    add("info-empty-folder", {"info", path("empty-folder")}, {"empty-folder", "no .safetensors"});
    writeTensors(path("outside/elsewhere.safetensors"), tinyTensors());
    QDir().mkpath(path("symlink-out"));
    fs::create_symlink(path("outside/elsewhere.safetensors").toStdString(),
                       path("symlink-out/model.safetensors").toStdString());
    add("info-symlink-outside", {"info", path("symlink-out")},
        {"model.safetensors", "outside the model folder"});
}

void TestBadInput::addIndexCases() {
    const auto indexCase = [&](const QString& name, const std::string& index,
                               const QStringList& expect) {
        const QString dir = path("index-" + name);
        writeTensors(dir + "/model-00001-of-00001.safetensors", tinyTensors());
        writeFile(dir + "/model.safetensors.index.json", index);
        add("info-index-" + name, {"info", dir},
            QStringList{"model.safetensors.index.json"} + expect);
    };
    indexCase("dotdot", R"({"weight_map":{"lm_head.weight":"../../../../etc/passwd"}})",
              {"../../../../etc/passwd", "not a file inside the model folder"});
    indexCase("absolute", R"({"weight_map":{"lm_head.weight":"/etc/passwd"}})",
              {"/etc/passwd", "not a file inside the model folder"});
    indexCase("garbage", "not json", {"not valid JSON"});
    indexCase("nested", nested(150000, "[", "]", ""), {"nested deeper than 256"});
    indexCase("no-weight-map", R"({"metadata":{}})", {"weight_map"});
    indexCase("empty-weight-map", R"({"weight_map":{}})", {"weight_map is empty"});
    indexCase("entry-number", R"({"weight_map":{"lm_head.weight":5}})",
              {"'lm_head.weight'", "not a file name"});
    indexCase(
        "duplicate-key",
        R"({"weight_map":{"lm_head.weight":"a.safetensors","lm_head.weight":"b.safetensors"}})",
        {"\"lm_head.weight\" twice"});
    indexCase("missing-shard", R"({"weight_map":{"lm_head.weight":"missing.safetensors"}})",
              {"missing.safetensors", "does not exist"});
    indexCase("wrong-shard",
              R"({"weight_map":{"nothing.here":"model-00001-of-00001.safetensors"}})",
              {"'nothing.here'", "not in that file"});

    // Shard symlinked outside, duplicate tensors across shards, index not a regular file.
    const QString link = path("index-symlink");
    writeFile(link + "/model.safetensors.index.json",
              R"({"weight_map":{"lm_head.weight":"s.safetensors"}})");
    fs::create_symlink(path("outside/elsewhere.safetensors").toStdString(),
                       (link + "/s.safetensors").toStdString());
    add("info-index-shard-symlink-outside", {"info", link},
        {"s.safetensors", "outside the model folder"});
    const QString dup = path("index-duplicate-across-shards");
    writeTensors(dup + "/a.safetensors", tinyTensors());
    writeTensors(dup + "/b.safetensors", tinyTensors());
    writeFile(
        dup + "/model.safetensors.index.json",
        R"({"weight_map":{"lm_head.weight":"a.safetensors","model.norm.weight":"b.safetensors"}})");
    add("info-index-duplicate-across-shards", {"info", dup}, {"duplicate tensor name"});
    QDir().mkpath(path("index-dir/model.safetensors.index.json"));
    add("info-index-is-dir", {"info", path("index-dir")},
        {"model.safetensors.index.json", "is a directory"});
    fifo(path("index-fifo/model.safetensors.index.json"));
    add("info-index-is-fifo", {"info", path("index-fifo")},
        {"model.safetensors.index.json", "FIFO"});
}

void TestBadInput::modelCase(const QString& name,
                             const std::function<void(json&, Tensors&)>& change,
                             const QStringList& expect, bool alsoEval) {
    json config = tinyConfig();
    Tensors tensors = tinyTensors();
    change(config, tensors);
    const QString dir = path("model-" + name);
    writeModel(dir, config, tensors);
    add("info-" + name, {"info", dir}, expect);
    if (alsoEval)
        add("eval-" + name, {"eval", "--model", dir, "--text", text_, "--seq", "4"}, expect);
}

void TestBadInput::addConfigCases() {
    const auto raw = [&](const QString& name, const std::string& text, const QStringList& expect) {
        const QString dir = path("config-" + name);
        writeTensors(dir + "/model.safetensors", tinyTensors());
        writeFile(dir + "/config.json", text);
        add("info-config-" + name, {"info", dir}, QStringList{"config.json"} + expect);
    };
    raw("garbage", "{ hidden_size: 8 }", {"not valid JSON", "line 1"});
    raw("empty", "", {"not valid JSON"});
    raw("array", "[]", {"not a JSON object"});
    raw("nested-100k", "{\"x\":" + nested(100000, "[", "]", "") + "}", {"nested deeper"});
    raw("nested-objects", nested(150000, "{\"a\":", "}", "1"), {"nested deeper"});
    QDir().mkpath(path("config-dir/config.json"));
    writeTensors(path("config-dir/model.safetensors"), tinyTensors());
    add("info-config-is-dir", {"info", path("config-dir")}, {"config.json", "is a directory"});
    fifo(path("config-fifo/config.json"));
    writeTensors(path("config-fifo/model.safetensors"), tinyTensors());
    add("info-config-is-fifo", {"info", path("config-fifo")}, {"config.json", "FIFO"});

    const auto field = [&](const QString& name, const char* key, const json& value) {
        modelCase("config-" + name, [&](json& c, Tensors&) { c[key] = value; },
                  {"config.json", QString("\"") + key + "\""});
    };
    field("hidden-2^30", "hidden_size", 1 << 30);
    field("layers-1e9", "num_hidden_layers", 1000000000);
    field("head-dim-2^30", "head_dim", 1 << 30);
    field("vocab-negative", "vocab_size", -1);
    field("vocab-2^32+7", "vocab_size", (int64_t(1) << 32) + 7);
    field("hidden-string", "hidden_size", "8");
    field("heads-zero", "num_attention_heads", 0);
    field("intermediate-float", "intermediate_size", 16.5);
    field("positions-huge", "max_position_embeddings", int64_t(1) << 40);
    field("bos-out-of-vocab", "bos_token_id", 99999);
    field("eos-negative", "eos_token_id", -5);
    field("rope-negative", "rope_theta", -1.0);
    field("eps-string", "rms_norm_eps", "small");
    field("tie-string", "tie_word_embeddings", "yes");
    modelCase("config-no-hidden", [](json& c, Tensors&) { c.erase("hidden_size"); },
              {"config.json", "missing field \"hidden_size\""});
    modelCase("config-kv-not-divisor", [](json& c, Tensors&) { c["num_key_value_heads"] = 3; },
              {"config.json", "num_key_value_heads"});
    modelCase("config-head-dim-odd", [](json& c, Tensors&) { c["head_dim"] = 5; },
              {"config.json", "head_dim", "even"});
}

void TestBadInput::addValidationCases() {
    const std::string l1 = "model.layers.1.";
    modelCase(
        "swapped-shape",
        [&](json&, Tensors& t) {
            t[l1 + "mlp.gate_proj.weight"].shape = {8, 16};
        },
        {"'model.layers.1.mlp.gate_proj.weight'", "[8, 16]", "[16, 8]"}, true);
    modelCase(
        "no-final-norm", [](json&, Tensors& t) { t.erase("model.norm.weight"); },
        {"'model.norm.weight'", "missing"}, true);
    modelCase(
        "no-down-proj", [&](json&, Tensors& t) { t.erase(l1 + "mlp.down_proj.weight"); },
        {"'model.layers.1.mlp.down_proj.weight'", "missing"}, true);
    modelCase(
        "vocab-mismatch", [](json& c, Tensors&) { c["vocab_size"] = 30; },
        {"'model.embed_tokens.weight'", "[32, 8]", "[30, 8]"}, true);
    modelCase(
        "fewer-layers-in-config", [](json& c, Tensors&) { c["num_hidden_layers"] = 1; },
        {"config.json", "num_hidden_layers is 1", "2 layers"}, true);
    modelCase("more-layers-in-config", [](json& c, Tensors&) { c["num_hidden_layers"] = 3; },
              {"'model.layers.2.input_layernorm.weight'", "missing"});
    modelCase(
        "qwen2-no-bias", [](json& c, Tensors&) { c["architectures"] = {"Qwen2ForCausalLM"}; },
        {"'model.layers.0.self_attn.q_proj.bias'", "Qwen2"}, true);
    modelCase("qwen3-no-qk-norm",
              [](json& c, Tensors&) { c["architectures"] = {"Qwen3ForCausalLM"}; },
              {"'model.layers.0.self_attn.q_norm.weight'", "missing"});
    modelCase(
        "untied-no-head", [](json&, Tensors& t) { t.erase("lm_head.weight"); },
        {"'lm_head.weight'", "tie_word_embeddings is false"}, true);
    modelCase("head-dim-absurd", [](json& c, Tensors&) { c["head_dim"] = 1024; },
              {"'model.layers.0.self_attn.q_proj.weight'", "[2048, 8]"});
    modelCase("int8-embedding",
              [](json&, Tensors& t) { t["model.embed_tokens.weight"].dtype = ql::DType::I8; },
              {"'model.embed_tokens.weight'", "float type"});
    modelCase("bias-wrong-shape",
              [](json&, Tensors& t) {
                  t["model.layers.0.mlp.up_proj.bias"] = {ql::DType::F32, {3}};
              },
              {"'model.layers.0.mlp.up_proj.bias'", "[3]", "[16]"});
}

void TestBadInput::tokenizerCase(const QString& name, const std::string& file,
                                 const std::string& bytes, const QStringList& expect) {
    const QString dir = path("tok-" + name);
    writeFile(dir + "/" + QString::fromStdString(file), bytes);
    add("tokenize-" + name, {"tokenize", "--tokenizer", dir, "--text", text_},
        QStringList{QString::fromStdString(file)} + expect);
}

void TestBadInput::addTokenizerJsonCases() {
    const auto variant = [&](const QString& name, const std::function<void(json&)>& change,
                             const QStringList& expect) {
        json t = tinyTokenizer();
        change(t);
        tokenizerCase(name, "tokenizer.json", t.dump(), expect);
    };
    tokenizerCase("json-garbage", "tokenizer.json", "{\"model\": [", {"not valid JSON"});
    tokenizerCase("json-empty", "tokenizer.json", "", {"not valid JSON"});
    const std::string sequence =
        nested(50000, R"({"type":"Sequence","pretokenizers":[)", "]}", R"({"type":"ByteLevel"})");
    std::string text = tinyTokenizer().dump();
    const std::string slot = "\"pre_tokenizer\":null";
    tokenizerCase(
        "nested-pre-tokenizer", "tokenizer.json",
        std::string(text).replace(text.find(slot), slot.size(), "\"pre_tokenizer\":" + sequence),
        {"nested deeper than 256"});
    const std::string normalizers =
        nested(75000, R"({"type":"Sequence","normalizers":[)", "]}", R"({"type":"NFC"})");
    const std::string nslot = "\"normalizer\":null";
    tokenizerCase(
        "nested-normalizer", "tokenizer.json",
        std::string(text).replace(text.find(nslot), nslot.size(), "\"normalizer\":" + normalizers),
        {"nested deeper than 256"});
    variant("regex-nested-parens",
            [](json& t) {
                t["pre_tokenizer"] = {{"type", "Split"},
                                      {"pattern", {{"Regex", nested(100000, "(", ")", "a")}}},
                                      {"behavior", "Isolated"}};
            },
            {"regex", "nested"});
    variant("vocab-id-2^32+7", [](json& t) { t["model"]["vocab"]["a"] = (int64_t(1) << 32) + 7; },
            {"vocab entry \"a\"", "4294967303"});
    variant("vocab-id-negative", [](json& t) { t["model"]["vocab"]["a"] = -1; },
            {"vocab entry \"a\"", "-1"});
    variant("vocab-id-string", [](json& t) { t["model"]["vocab"]["a"] = "3"; },
            {"vocab entry \"a\""});
    variant("added-id-2^40", [](json& t) { t["added_tokens"][0]["id"] = int64_t(1) << 40; },
            {"added token \"<s>\"", "1099511627776"});
    variant("merge-unknown", [](json& t) { t["model"]["merges"] = {"a zz"}; },
            {"merge", "is not in the vocabulary"});
    variant("merges-object", [](json& t) { t["model"]["merges"] = json::object(); },
            {"\"merges\""});
    variant("model-wordpiece", [](json& t) { t["model"]["type"] = "WordPiece"; },
            {"WordPiece", "not supported"});
    variant("model-type-number", [](json& t) { t["model"]["type"] = 5; }, {"wrong JSON type"});
    variant("no-model", [](json& t) { t.erase("model"); }, {"\"model\""});
    variant("no-vocab", [](json& t) { t["model"].erase("vocab"); }, {"\"vocab\""});
    variant("split-pattern-number",
            [](json& t) {
                t["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", 5}}}};
            },
            {"Split pre-tokenizer"});
    variant("normalizer-unknown",
            [](json& t) {
                t["normalizer"] = {{"type", "Lowercase"}};
            },
            {"normalizer \"Lowercase\""});
    variant("unk-missing", [](json& t) { t["model"]["unk_token"] = "<nope>"; },
            {"unk_token", "<nope>"});
    // tokenizer_config.json next to a valid tokenizer.json.
    const auto config = [&](const QString& name, const std::string& bytes,
                            const QStringList& expect) {
        const QString dir = path("tok-" + name);
        writeFile(dir + "/tokenizer.json", tinyTokenizer().dump());
        writeFile(dir + "/tokenizer_config.json", bytes);
        add("tokenize-" + name, {"tokenize", "--tokenizer", dir, "--text", text_},
            QStringList{"tokenizer_config.json"} + expect);
    };
    config("config-garbage", "{bos_token: <s>}", {"not valid JSON"});
    config("config-nested", "{\"bos_token\":" + nested(100000, "[", "]", "") + "}",
           {"nested deeper"});
    config("config-array", "[1]", {"not a JSON object"});
}

void TestBadInput::addSentencePieceCases() {
    const auto sp = [&](const QString& name, const std::string& bytes, const QStringList& expect) {
        tokenizerCase(name, "tokenizer.model", bytes, expect);
    };
    auto noUnk = tinySpPieces();
    noUnk[0].type = 3;  // no piece of type UNKNOWN: unk_id comes from the trainer spec
    sp("sp-unk-1000", spModel(noUnk, {{40, 1000}}), {"unk_id", "1000"});
    sp("sp-unk-minus-1", spModel(noUnk, {{40, -1}}), {"unk_id", "-1"});
    sp("sp-bos-5000", spModel(tinySpPieces(), {{41, 5000}}), {"bos_id", "5000"});
    sp("sp-eos-2^40", spModel(tinySpPieces(), {{42, int64_t(1) << 40}}), {"eos_id"});
    auto badByte = tinySpPieces();
    badByte.push_back({"<0xZZ>", 6});
    sp("sp-byte-piece-zz", spModel(badByte, {{40, 0}}), {"byte piece", "<0xZZ>"});
    auto shortByte = tinySpPieces();
    shortByte.push_back({"<0x>", 6});
    sp("sp-byte-piece-short", spModel(shortByte, {{40, 0}}), {"byte piece"});
    sp("sp-garbage", std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),
       {"not a valid model file"});
    sp("sp-truncated", spModel(tinySpPieces()).substr(0, 20), {"not a valid model file"});
    sp("sp-no-pieces", spModel({}), {"has no pieces"});
    sp("sp-unigram", spModel(tinySpPieces(), {{3, 1}}), {"only BPE"});
}

void TestBadInput::addArgumentCases() {
    QDir().mkpath(path("text-dir"));
    add("tokenize-text-is-dir",
        {"tokenize", "--tokenizer", path("valid"), "--text", path("text-dir")},
        {"text-dir", "is a directory"});
    fifo(path("text-fifo"));
    add("tokenize-text-is-fifo",
        {"tokenize", "--tokenizer", path("valid"), "--text", path("text-fifo")},
        {"text-fifo", "FIFO"});
    add("tokenize-text-missing",
        {"tokenize", "--tokenizer", path("valid"), "--text", path("no-such.txt")},
        {"no-such.txt", "no such file"});
    QDir().mkpath(path("no-tokenizer"));
    add("tokenize-no-tokenizer", {"tokenize", "--tokenizer", path("no-tokenizer"), "--text", text_},
        {"no-tokenizer", "tokenizer.json"});
    add("tokenize-tokenizer-fifo", {"tokenize", "--tokenizer", path("text-fifo"), "--text", text_},
        {"text-fifo", "FIFO"});
    add("eval-model-is-file", {"eval", "--model", path("valid/model.safetensors"), "--text", text_},
        {"model.safetensors", "expected a model folder"});
    add("quantize-model-is-file",
        {"quantize", "--model", path("valid/model.safetensors"), "--recipe", "rtn:int8", "--out",
         path("run-of-a-file")},
        {"valid/model.safetensors", "is a file, expected a model folder"});
    add("eval-text-is-dir", {"eval", "--model", path("valid"), "--text", path("text-dir")},
        {"text-dir", "is a directory"});
    add("eval-model-missing", {"eval", "--model", path("nope"), "--text", text_},
        {"nope", "no such folder"});
}
