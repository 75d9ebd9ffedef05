// test_badinput: the suite's class (cases in test_badinput_cases.cpp, runner in
// test_badinput.cpp).
#pragma once

#include "badinput_files.h"

#include <QObject>
#include <QStringList>

#include <functional>
#include <vector>

struct BadInputCase {
    QString name;
    QStringList args;
    QStringList expect;  // substrings of the one stderr line
};

class TestBadInput : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void baselines();
    void weightsOnlyReason();
    void hostile_data();
    void hostile();
    // Compact weight files (.qlw) of run folders, through the reader directly (no CLI
    // command re-bins): test_badinput_compact.cpp.
    void compactBaseline();
    void compactHostile_data();
    void compactHostile();

private:
    QString path(const QString& relative) const { return root_ + "/" + relative; }
    void add(const QString& name, const QStringList& args, const QStringList& expect) {
        cases_.push_back({name, args, expect});
    }
    // `info` on a single hostile safetensors file.
    void headerCase(const QString& name, const std::string& bytes, const QStringList& expect);
    // `info` (and optionally `eval`) on a tiny model folder changed by `change`.
    void modelCase(const QString& name,
                   const std::function<void(badinput::json&, badinput::Tensors&)>& change,
                   const QStringList& expect, bool alsoEval = false);
    void tokenizerCase(const QString& name, const std::string& file, const std::string& bytes,
                       const QStringList& expect);
    void addHeaderCases();
    void addFileTypeCases();
    void addIndexCases();
    void addConfigCases();
    void addValidationCases();
    void addTokenizerJsonCases();
    void addSentencePieceCases();
    void addArgumentCases();

    QString root_, text_;
    std::vector<BadInputCase> cases_;
};
