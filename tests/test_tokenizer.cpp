// Tokenizer tests: the reference cases and whole-file digests of ../shared/reference
// (read at run time), round trips, a minimal synthetic tokenizer.json, bad inputs.
#include "base/error.h"
#include "base/sha256.h"
#include "testdata.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <QProcess>
#include <QtTest>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>

using nlohmann::json;

namespace {

json readJson(const std::string& path) {
    return json::parse(qltest::readFile(path));
}

std::string idsText(const std::vector<int32_t>& ids) {
    std::string s;
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
    return s;
}

void writeFile(const QString& path, const std::string& content) {
    std::ofstream out(path.toStdString(), std::ios::binary);
    out << content;
}

// Byte-level alphabet of GPT-2 (bytes_to_unicode), written independently of the library.
std::vector<std::string> byteLevelChars() {
    std::vector<std::string> chars(256);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        const QString ch(QChar(printable ? b : next++));
        chars[static_cast<size_t>(b)] = ch.toStdString();
    }
    return chars;
}

// A tokenizer.json like the synthetic models': 256 byte-level chars (id = byte value),
// optional merges, "<|endoftext|>" added as special token right after the vocabulary.
json minimalTokenizerJson(const json& merges) {
    const auto chars = byteLevelChars();
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) vocab[chars[static_cast<size_t>(b)]] = b;
    int next = 256;
    for (const auto& m : merges) vocab[m[0].get<std::string>() + m[1].get<std::string>()] = next++;
    const json byteLevel = {{"type", "ByteLevel"},
                            {"add_prefix_space", false},
                            {"trim_offsets", false},
                            {"use_regex", false}};
    return {{"version", "1.0"},
            {"added_tokens",
             {{{"id", next},
               {"content", "<|endoftext|>"},
               {"single_word", false},
               {"lstrip", false},
               {"rstrip", false},
               {"normalized", false},
               {"special", true}}}},
            {"normalizer", {{"type", "NFC"}}},
            {"pre_tokenizer", byteLevel},
            {"decoder", byteLevel},
            {"model",
             {{"type", "BPE"},
              {"vocab", vocab},
              {"merges", merges},
              {"byte_fallback", false},
              {"fuse_unk", false}}}};
}

// Protobuf wire format, to write small SentencePiece models by hand.
std::string varint(uint64_t v) {
    std::string out;
    do {
        out += static_cast<char>((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return out;
}
std::string field(int number, int wire) {
    return varint(static_cast<uint64_t>(number) << 3 | wire);
}
std::string bytesField(int number, const std::string& data) {
    return field(number, 2) + varint(data.size()) + data;
}
std::string spPiece(const std::string& text, float score, int type) {
    std::string score4(4, '\0');
    std::memcpy(&score4[0], &score, 4);
    return bytesField(1, bytesField(1, text) + field(2, 5) + score4 + field(3, 0) + varint(type));
}
// <unk> <s> </s> ▁ a b ▁a ab ▁ab, with merge scores that favour "ab" over "▁a".
std::string tinySentencePieceModel(int modelType) {
    const std::string sp = "\xE2\x96\x81";
    std::string model = spPiece("<unk>", 0, 2) + spPiece("<s>", 0, 3) + spPiece("</s>", 0, 3) +
                        spPiece(sp, 0, 1) + spPiece("a", 0, 1) + spPiece("b", 0, 1) +
                        spPiece(sp + "a", -1.0f, 1) + spPiece("ab", -0.5f, 1) +
                        spPiece(sp + "ab", -2.0f, 1);
    model += bytesField(2, field(3, 0) + varint(static_cast<uint64_t>(modelType)));
    model += bytesField(3, bytesField(1, "identity"));
    return model;
}

// Loading the Qwen tokenizer takes a moment; tests share one instance per folder.
const ql::Tokenizer& sharedTokenizer(const QString& relative) {
    static std::map<QString, std::unique_ptr<ql::Tokenizer>> loaded;
    auto& slot = loaded[relative];
    if (!slot) slot = ql::Tokenizer::load(qltest::dataPath(relative));
    return *slot;
}

}  // namespace

class TestTokenizer : public QObject {
    Q_OBJECT

private:
    void checkCases(const QString& tokenizerDir, const QString& casesFile) {
        QL_REQUIRE_DATA(tokenizerDir);
        QL_REQUIRE_DATA("reference/" + casesFile);
        const ql::Tokenizer* tokenizer = &sharedTokenizer(tokenizerDir);
        const json cases = readJson(qltest::dataPath("reference/" + casesFile));
        QVERIFY(cases.size() > 10);
        for (const json& c : cases) {
            const std::string text = c["text"];
            const auto ids = tokenizer->encode(text);
            const auto expected = c["ids"].get<std::vector<int32_t>>();
            QVERIFY2(
                ids == expected,
                qPrintable(QString::fromStdString("text \"" + text + "\": got " + idsText(ids) +
                                                  " expected " + idsText(expected))));
        }
    }

    void checkCorpus(const QString& tokenizerDir) {
        QL_REQUIRE_DATA(tokenizerDir);
        QL_REQUIRE_DATA("reference/tokenizer-corpus.json");
        const json corpus = readJson(qltest::dataPath("reference/tokenizer-corpus.json"));
        const ql::Tokenizer* tokenizer = &sharedTokenizer(tokenizerDir);
        const json& entries = corpus.at(tokenizerDir.toStdString());
        QCOMPARE(entries.size(), size_t(3));
        for (auto it = entries.begin(); it != entries.end(); ++it) {
            QL_REQUIRE_DATA(QString::fromStdString(it.key()));
            const auto ids = tokenizer->encode(
                qltest::readFile(qltest::dataPath(QString::fromStdString(it.key()))));
            const std::string where = tokenizerDir.toStdString() + " on " + it.key();
            QVERIFY2(ids.size() == it.value()["count"].get<size_t>(),
                     qPrintable(
                         QString::fromStdString(where + ": count " + std::to_string(ids.size()))));
            QVERIFY2(ql::tokenIdsSha256(ids) == it.value()["sha256"].get<std::string>(),
                     qPrintable(QString::fromStdString(where + ": sha256 differs")));
        }
    }

private slots:
    void qwenCases() { checkCases("tokenizers/qwen3", "tokenizer-cases.qwen3.json"); }
    void tinyStoriesCases() {
        checkCases("models/tinystories-656k", "tokenizer-cases.tinystories-656k.json");
    }
    void stories260kCases() {
        checkCases("models/stories260k", "tokenizer-cases.stories260k.json");
    }
    void qwenCorpus() { checkCorpus("tokenizers/qwen3"); }
    void tinyStoriesCorpus() { checkCorpus("models/tinystories-656k"); }
    void stories260kCorpus() { checkCorpus("models/stories260k"); }

    void byteLevelRoundTrip() {
        QL_REQUIRE_DATA("tokenizers/qwen3");
        const ql::Tokenizer* tokenizer = &sharedTokenizer("tokenizers/qwen3");
        QCOMPARE(QString::fromStdString(tokenizer->kind()), QString("bpe-bytelevel"));
        const json cases = readJson(qltest::dataPath("reference/tokenizer-cases.qwen3.json"));
        for (const json& c : cases) {
            const std::string text = c["text"];
            // The NFC normalizer is part of the pipeline: compare with Qt's NFC form.
            const std::string nfc =
                QString::fromStdString(text).normalized(QString::NormalizationForm_C).toStdString();
            QCOMPARE(QString::fromStdString(tokenizer->decode(tokenizer->encode(text))),
                     QString::fromStdString(nfc));
        }
    }

    void specialIds() {
        QL_REQUIRE_DATA("tokenizers/qwen3");
        QL_REQUIRE_DATA("models/stories260k");
        QL_REQUIRE_DATA("models/tinystories-656k");
        const ql::Tokenizer* qwen = &sharedTokenizer("tokenizers/qwen3");
        // tokenizer_config.json: bos_token null, eos_token "<|im_end|>".
        QVERIFY(!qwen->bosId());
        QVERIFY(qwen->eosId());
        QCOMPARE(qwen->encode("<|im_end|>"), std::vector<int32_t>{*qwen->eosId()});
        const auto tiny = ql::Tokenizer::load(qltest::dataPath("models/tinystories-656k"));
        QCOMPARE(QString::fromStdString(tiny->kind()), QString("bpe-sentencepiece"));
        QVERIFY(tiny->bosId() && tiny->eosId());
        QCOMPARE(tiny->decode({*tiny->bosId()}), std::string("<|start_story|>"));
        QCOMPARE(tiny->decode({*tiny->eosId()}), std::string("<|end_story|>"));
        // Decoder Replace/ByteFallback/Fuse/Strip undoes the "▁" normalizer.
        const std::string story = "Once upon a time, there was a  little dog.\nThe end.";
        QCOMPARE(tiny->decode(tiny->encode(story)), story);
        const auto sp = ql::Tokenizer::load(qltest::dataPath("models/stories260k"));
        QCOMPARE(QString::fromStdString(sp->kind()), QString("sentencepiece"));
        QCOMPARE(sp->vocabSize(), 512);
        QVERIFY(sp->bosId() && sp->eosId());
        QVERIFY(*sp->bosId() != *sp->eosId());
        // The same model through its file path rather than its folder.
        const auto spFile =
            ql::Tokenizer::load(qltest::dataPath("models/stories260k/tokenizer.model"));
        QCOMPARE(spFile->encode("Once upon a time"), sp->encode("Once upon a time"));
        QCOMPARE(sp->decode(sp->encode("Once upon a time")), std::string("Once upon a time"));
    }

    void handWrittenSentencePieceModel() {
        const QString dir = qltest::tempDir("tokenizer-sp");
        writeFile(dir + "/tokenizer.model", tinySentencePieceModel(2));
        const auto sp = ql::Tokenizer::load(dir.toStdString());
        QCOMPARE(sp->vocabSize(), 9);
        QCOMPARE(sp->bosId(), std::optional<int32_t>(1));  // trainer-spec defaults
        QCOMPARE(sp->eosId(), std::optional<int32_t>(2));
        // "▁ab▁b": ab (-0.5) merges before ▁a (-1), then ▁ + ab (-2); runs of spaces collapse.
        QCOMPARE(sp->encode("ab  b"), (std::vector<int32_t>{8, 3, 5}));
        // Leading/trailing spaces dropped; "c" is unknown (no byte fallback) -> <unk>.
        QCOMPARE(sp->encode("  ab c "), (std::vector<int32_t>{8, 3, 0}));
        QCOMPARE(sp->encode("   "), std::vector<int32_t>{});
        QCOMPARE(sp->decode({1, 8, 3, 5, 2}), std::string("ab b"));

        writeFile(dir + "/tokenizer.model", tinySentencePieceModel(1));
        QVERIFY_THROWS_EXCEPTION(ql::Error, ql::Tokenizer::load(dir.toStdString()));
        writeFile(dir + "/tokenizer.model", tinySentencePieceModel(2).substr(0, 30));
        QVERIFY_THROWS_EXCEPTION(ql::Error, ql::Tokenizer::load(dir.toStdString()));
    }

    void minimalSyntheticTokenizer() {
        const QString dir = qltest::tempDir("tokenizer-minimal");
        const auto chars = byteLevelChars();
        writeFile(dir + "/tokenizer.json", minimalTokenizerJson(json::array()).dump());
        const auto plain = ql::Tokenizer::load(dir.toStdString());
        QCOMPARE(plain->vocabSize(), 257);
        QVERIFY(!plain->bosId());  // no tokenizer_config.json
        const std::string text = "hi \xC3\xA9!<|endoftext|>\n";
        std::vector<int32_t> expected;
        for (unsigned char b : std::string("hi \xC3\xA9!")) expected.push_back(b);
        expected.push_back(256);
        expected.push_back('\n');
        QCOMPARE(plain->encode(text), expected);
        QCOMPARE(plain->decode(plain->encode(text)), text);

        // With merges "h i" (id 256) and then "hi !"-free pair form ["hi", " "] (id 257).
        const json merges = json::array({json::array({"h", "i"}), json::array({"hi", chars[' ']})});
        writeFile(dir + "/tokenizer.json", minimalTokenizerJson(merges).dump());
        const auto merged = ql::Tokenizer::load(dir.toStdString() + "/tokenizer.json");
        QCOMPARE(merged->encode("hi hi"), (std::vector<int32_t>{257, 256}));
        QCOMPARE(merged->encode("<|endoftext|>"), std::vector<int32_t>{258});

        // The same merges written as "a b" strings give the same result.
        json asStrings = minimalTokenizerJson(merges);
        asStrings["model"]["merges"] = json::array({"h i", "hi " + chars[' ']});
        writeFile(dir + "/tokenizer.json", asStrings.dump());
        QCOMPARE(ql::Tokenizer::load(dir.toStdString())->encode("hi hi"),
                 (std::vector<int32_t>{257, 256}));

        QCOMPARE(plain->encode(""), std::vector<int32_t>{});
    }

    void digitsPreTokenizer() {
        const QString dir = qltest::tempDir("tokenizer-digits");
        json file = minimalTokenizerJson(json::array({json::array({"1", "2"})}));
        writeFile(dir + "/tokenizer.json", file.dump());
        QCOMPARE(ql::Tokenizer::load(dir.toStdString())->encode("a12"),
                 (std::vector<int32_t>{'a', 256}));
        // Individual digits: "1" and "2" become separate pre-tokens, so they cannot merge.
        file["pre_tokenizer"] = {
            {"type", "Sequence"},
            {"pretokenizers",
             {{{"type", "Digits"}, {"individual_digits", true}}, file["pre_tokenizer"]}}};
        writeFile(dir + "/tokenizer.json", file.dump());
        QCOMPARE(ql::Tokenizer::load(dir.toStdString())->encode("a12"),
                 (std::vector<int32_t>{'a', '1', '2'}));
    }

    void missingTokenizerIsAnError() {
        const QString dir = qltest::tempDir("tokenizer-missing");
        QVERIFY_THROWS_EXCEPTION(ql::Error, ql::Tokenizer::load(dir.toStdString()));
        QVERIFY_THROWS_EXCEPTION(ql::Error,
                                 ql::Tokenizer::load(dir.toStdString() + "/nope/tokenizer.json"));
        try {
            ql::Tokenizer::load(dir.toStdString());
            QFAIL("no exception");
        } catch (const ql::Error& e) {
            QVERIFY(std::string(e.what()).find("tokenizer") != std::string::npos);
            QVERIFY(std::string(e.what()).find(dir.toStdString()) != std::string::npos);
        }
    }

    void corruptTokenizerJsonIsAnError() {
        const QString dir = qltest::tempDir("tokenizer-corrupt");
        const QString file = dir + "/tokenizer.json";
        auto expectError = [&](const std::string& content, const char* fragment) {
            writeFile(file, content);
            try {
                ql::Tokenizer::load(file.toStdString());
                QFAIL(qPrintable(QString("no exception for: ") +
                                 QString::fromStdString(content.substr(0, 60))));
            } catch (const ql::Error& e) {
                const std::string message = e.what();
                QVERIFY2(message.find(file.toStdString()) != std::string::npos, e.what());
                QVERIFY2(message.find(fragment) != std::string::npos, e.what());
            }
        };
        expectError("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0", "not valid JSON");
        expectError("[1, 2, 3]", "not a JSON object");
        expectError("{\"version\": \"1.0\"}", "model");
        expectError("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "Unigram");
        json badMerge = minimalTokenizerJson(json::array());
        badMerge["model"]["merges"] = json::array({"h zz"});
        expectError(badMerge.dump(), "zz");
        json badVocab = minimalTokenizerJson(json::array());
        badVocab["model"]["vocab"]["x"] = "seven";
        expectError(badVocab.dump(), "integer id");
        json badPre = minimalTokenizerJson(json::array());
        badPre["pre_tokenizer"] = {
            {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
        expectError(badPre.dump(), "regex");
        // A corrupt SentencePiece model is reported too.
        writeFile(dir + "/tokenizer.model", "not a protobuf");
        QVERIFY_THROWS_EXCEPTION(ql::Error,
                                 ql::Tokenizer::load((dir + "/tokenizer.model").toStdString()));
    }

    // quantlens-cli tokenize against the reference digests (skips when the CLI is not built:
    // it links the whole core, so this suite does not depend on it).
    void cliTokenize() {
        QL_REQUIRE_DATA("tokenizers/qwen3");
        const QString cli = QString(QUANTLENS_BINARY_DIR) + "/app/quantlens-cli";
        if (!QFileInfo::exists(cli)) QSKIP(qPrintable("quantlens-cli not built: " + cli));
        auto run = [&](const QStringList& arguments, int& exitCode) {
            QProcess process;
            process.start(cli, QStringList{"tokenize"} + arguments);
            if (!process.waitForFinished(120000)) return QByteArray();
            exitCode = process.exitCode();
            return process.readAllStandardOutput();
        };
        const json corpus = readJson(qltest::dataPath("reference/tokenizer-corpus.json"));
        const json& expected = corpus["tokenizers/qwen3"]["data/stories/stories.txt"];
        int exitCode = -1;
        const QByteArray out = run(
            {"--tokenizer", QString::fromStdString(qltest::dataPath("tokenizers/qwen3")), "--text",
             QString::fromStdString(qltest::dataPath("data/stories/stories.txt")), "--json"},
            exitCode);
        QCOMPARE(exitCode, 0);
        const json result = json::parse(out.toStdString());
        QCOMPARE(result["count"], expected["count"]);
        QCOMPARE(result["sha256"], expected["sha256"]);
        QCOMPARE(result["first"], expected["first"]);
        QCOMPARE(result["last"], expected["last"]);
        QVERIFY(result["seconds"].get<double>() >= 0.0);

        const QString dir = qltest::tempDir("tokenizer-cli");
        writeFile(dir + "/empty.txt", "");
        const json empty = json::parse(
            run({"--tokenizer", QString::fromStdString(qltest::dataPath("tokenizers/qwen3")),
                 "--text", dir + "/empty.txt", "--json"},
                exitCode)
                .toStdString());
        QCOMPARE(exitCode, 0);
        QCOMPARE(empty["count"].get<int>(), 0);
        QCOMPARE(empty["sha256"].get<std::string>(), ql::sha256Hex(""));
        run({"--tokenizer", QString::fromStdString(qltest::dataPath("tokenizers/qwen3")), "--text",
             dir + "/missing.txt"},
            exitCode);
        QCOMPARE(exitCode, 1);
        run({"--tokenizer", dir + "/no-tokenizer-here", "--text", dir + "/empty.txt"}, exitCode);
        QCOMPARE(exitCode, 1);
    }

    void invalidUtf8IsAnError() {
        const QString dir = qltest::tempDir("tokenizer-utf8");
        writeFile(dir + "/tokenizer.json", minimalTokenizerJson(json::array()).dump());
        const auto tokenizer = ql::Tokenizer::load(dir.toStdString());
        QVERIFY_THROWS_EXCEPTION(ql::Error, tokenizer->encode("ab\xFF"));
        QVERIFY_THROWS_EXCEPTION(ql::Error, tokenizer->decode({100000}));
    }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
