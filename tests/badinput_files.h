// Builders of the hostile (and baseline valid) files of test_badinput: safetensors bytes,
// a tiny Llama model folder, a tiny BPE tokenizer.json and SentencePiece tokenizer.model.
#pragma once

#include "io/safetensors.h"

#include <nlohmann/json.hpp>

#include <QDir>
#include <QFileInfo>
#include <QString>

#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace badinput {

using json = nlohmann::ordered_json;

inline void writeFile(const QString& path, const std::string& bytes) {
    QDir().mkpath(QFileInfo(path).absolutePath());
    std::ofstream out(path.toStdString(), std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string le64(uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[size_t(i)] = char((v >> (8 * i)) & 0xFF);
    return s;
}

// A safetensors file from header text and data bytes (length prefix computed).
inline std::string safetensors(const std::string& header, const std::string& data = "") {
    return le64(header.size()) + header + data;
}

// `depth` levels of open + inner + close, e.g. nested(3, "[", "]", "1") = "[[[1]]]".
inline std::string nested(int depth, const std::string& open, const std::string& close,
                          const std::string& inner) {
    std::string s;
    s.reserve(size_t(depth) * (open.size() + close.size()) + inner.size());
    for (int i = 0; i < depth; ++i) s += open;
    s += inner;
    for (int i = 0; i < depth; ++i) s += close;
    return s;
}

// ---- tiny Llama model: hidden 8, MLP 16, 2 layers, 2 heads / 1 kv head, vocab 32

struct Tensor {
    ql::DType dtype = ql::DType::F32;
    std::vector<int64_t> shape;
};
using Tensors = std::map<std::string, Tensor>;

inline json tinyConfig() {
    return {{"architectures", {"LlamaForCausalLM"}},
            {"model_type", "llama"},
            {"hidden_size", 8},
            {"intermediate_size", 16},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 2},
            {"num_key_value_heads", 1},
            {"vocab_size", 32},
            {"max_position_embeddings", 64},
            {"rms_norm_eps", 1e-5},
            {"tie_word_embeddings", false},
            {"bos_token_id", 1},
            {"eos_token_id", 2}};
}

inline Tensors tinyTensors(int layers = 2) {
    Tensors t;
    t["model.embed_tokens.weight"] = {ql::DType::F32, {32, 8}};
    t["lm_head.weight"] = {ql::DType::F32, {32, 8}};
    t["model.norm.weight"] = {ql::DType::F32, {8}};
    for (int b = 0; b < layers; ++b) {
        const std::string p = "model.layers." + std::to_string(b) + ".";
        t[p + "input_layernorm.weight"] = {ql::DType::F32, {8}};
        t[p + "post_attention_layernorm.weight"] = {ql::DType::F32, {8}};
        t[p + "self_attn.q_proj.weight"] = {ql::DType::F32, {8, 8}};
        t[p + "self_attn.k_proj.weight"] = {ql::DType::F32, {4, 8}};
        t[p + "self_attn.v_proj.weight"] = {ql::DType::F32, {4, 8}};
        t[p + "self_attn.o_proj.weight"] = {ql::DType::F32, {8, 8}};
        t[p + "mlp.gate_proj.weight"] = {ql::DType::F32, {16, 8}};
        t[p + "mlp.up_proj.weight"] = {ql::DType::F32, {16, 8}};
        t[p + "mlp.down_proj.weight"] = {ql::DType::F32, {8, 16}};
    }
    return t;
}

inline void writeTensors(const QString& path, const Tensors& tensors) {
    std::vector<ql::TensorToWrite> out;
    for (const auto& [name, t] : tensors) {
        ql::TensorToWrite w{name, t.dtype, t.shape, {}};
        size_t n = ql::dtypeSize(t.dtype);
        for (int64_t d : t.shape) n *= size_t(d);
        w.bytes.assign(n, 0);
        out.push_back(std::move(w));
    }
    QDir().mkpath(QFileInfo(path).absolutePath());
    ql::writeSafetensors(path.toStdString(), out);
}

// A tiny BPE tokenizer.json; one vocabulary entry is 300 '[' characters, which the
// JSON depth pre-scan must skip as string content.
inline json tinyTokenizer() {
    json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}, {"a", 3}, {"b", 4}, {"ab", 5}, {" ", 6}};
    vocab[std::string(300, '[')] = 7;
    return {{"version", "1.0"},
            {"added_tokens", json::array({{{"id", 1}, {"content", "<s>"}, {"special", true}}})},
            {"normalizer", nullptr},
            {"pre_tokenizer", nullptr},
            {"decoder", nullptr},
            {"model",
             {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"a b"}}, {"unk_token", "<unk>"}}}};
}

inline void writeModel(const QString& dir, const json& config, const Tensors& tensors) {
    writeFile(dir + "/config.json", config.dump(2));
    writeTensors(dir + "/model.safetensors", tensors);
    writeFile(dir + "/tokenizer.json", tinyTokenizer().dump());
}

// ---- SentencePiece tokenizer.model (protobuf wire format)

inline std::string varint(uint64_t v) {
    std::string s;
    do {
        s += char((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return s;
}
inline std::string tag(int field, int wire) {
    return varint(uint64_t(field) << 3 | uint64_t(wire));
}
inline std::string lengthDelimited(int field, const std::string& payload) {
    return tag(field, 2) + varint(payload.size()) + payload;
}
inline std::string spPiece(const std::string& text, float score, int type) {
    std::string s = lengthDelimited(1, text) + tag(2, 5);
    char bytes[4];
    std::memcpy(bytes, &score, 4);
    s.append(bytes, 4);
    return s + tag(3, 0) + varint(uint64_t(type));
}

struct SpPiece {
    std::string text;
    int type = 1;  // 1 normal, 2 unknown, 3 control, 6 byte
};

inline std::vector<SpPiece> tinySpPieces() {
    return {{"<unk>", 2}, {"<s>", 3}, {"</s>", 3}, {"\xE2\x96\x81", 1},
            {"a", 1},     {"b", 1},   {"ab", 1}};
}

// trainer: field number -> value (int64, written as a varint like protobuf's int32).
inline std::string spModel(const std::vector<SpPiece>& pieces,
                           std::map<int, int64_t> trainer = {}) {
    std::string s;
    float score = 0;
    for (const auto& p : pieces) s += lengthDelimited(1, spPiece(p.text, score -= 1, p.type));
    trainer.emplace(3, 2);  // model_type BPE
    std::string spec;
    for (const auto& [field, value] : trainer) spec += tag(field, 0) + varint(uint64_t(value));
    s += lengthDelimited(2, spec);
    s += lengthDelimited(3, lengthDelimited(1, "identity"));
    return s;
}

}  // namespace badinput
