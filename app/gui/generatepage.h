// The workbench's Generate tab (issue 11): a prompt, the float model and the checked runs
// side by side in columns, text streaming in as each model decodes on a background thread
// (Cancel stops it at the next token), then each run's first divergent token highlighted,
// per-token tooltips (the float model's probability of the token, KL between the float
// model's and the run's next-token distributions, teacher-forced on the float text) and a
// per-token KL chart. A second section benchmarks the same models' inference speed and
// memory (BenchPanel). The page owns its jobs: the window only tells it the model and runs.
// Errors of the engine come back as a value and are shown on the page, never thrown.
#pragma once

#include "run/generation_compare.h"
#include "widgets/resultutils.h"

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QWidget>

#include <atomic>
#include <memory>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGridLayout;
class QLabel;
class QListWidget;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

class QTabWidget;

namespace ql {

class BenchPanel;
class TokenKlChart;
class TokenTextView;

using GenerationPtr = std::shared_ptr<const GenerationComparison>;

class GeneratePage : public QWidget {
    Q_OBJECT
public:
    explicit GeneratePage(QWidget* parent = nullptr);
    ~GeneratePage() override;  // cancels and waits: the worker never outlives the page

    // The open model (empty: none) and, when it cannot generate, why not.
    void setModel(const QString& modelDir, const QString& whyNot = {});
    // The workbench's runs, each a checkable row (new runs start checked).
    void setRuns(const RunList& runs);
    RunList checkedRuns() const;
    GenerationRequest request() const;  // the page's settings, the model and checked runs
    QString blockedReason() const;      // empty when Generate may start

    bool start();  // false (and the reason on the page) when blocked
    void cancel();
    bool isRunning() const { return running_; }
    const GenerationPtr& result() const { return result_; }
    QString errorText() const { return error_; }  // the last job's error, empty if none

    int columnCount() const { return int(texts_.size()); }
    TokenTextView* column(int i) const;
    QLabel* columnHeader(int i) const;
    TokenKlChart* klChart() const { return chart_; }
    BenchPanel* benchPanel() const { return bench_; }
    QTabWidget* sections() const { return sections_; }  // "Text" and "Speed and memory"
    QPlainTextEdit* promptBox() const { return prompt_; }
    QSpinBox* maxTokensBox() const { return maxTokens_; }
    QComboBox* samplingBox() const { return sampling_; }
    QDoubleSpinBox* temperatureBox() const { return temperature_; }
    QSpinBox* topKBox() const { return topK_; }
    QDoubleSpinBox* topPBox() const { return topP_; }
    QSpinBox* seedBox() const { return seed_; }
    QCheckBox* chatBox() const { return chat_; }
    QCheckBox* packedBox() const { return packed_; }
    QComboBox* activationsBox() const { return activations_; }
    QComboBox* headBox() const { return head_; }
    QListWidget* runsList() const { return runsList_; }
    QPushButton* generateButton() const { return generate_; }
    QPushButton* cancelButton() const { return cancel_; }
    QLabel* statusLabel() const { return status_; }
    void applyPalette();

signals:
    void tokenShown(int output, int index);  // a streamed token reached its column
    void generationFinished(bool ok);        // ok: a result is shown

private:
    struct Outcome {
        GenerationPtr result;
        QString error;
        bool cancelled = false;
        double seconds = 0.0;
    };
    struct Shared {
        std::atomic<bool> cancel{false};
    };
    QWidget* buildSettings();
    void updateEnabled();
    void makeColumns(const QStringList& names);
    QString swatch(int column) const;
    void onToken(int output, int index, const QString& piece);
    void onFinished();
    void showResult();

    QString modelDir_, modelProblem_;
    QStringList names_;  // the columns' models: "float", then the runs
    RunList runs_;
    GenerationPtr result_;
    QString error_;
    QString outcome_;  // the last job's end, shown while nothing blocks Generate
    bool running_ = false;
    int streaming_ = -1;  // the output decoding now
    std::shared_ptr<Shared> shared_;
    QElapsedTimer clock_;
    QFutureWatcher<Outcome>* watcher_ = nullptr;

    QPlainTextEdit* prompt_ = nullptr;
    QSpinBox *maxTokens_ = nullptr, *topK_ = nullptr, *seed_ = nullptr;
    QComboBox* sampling_ = nullptr;
    QDoubleSpinBox *temperature_ = nullptr, *topP_ = nullptr;
    QCheckBox* chat_ = nullptr;
    QCheckBox* packed_ = nullptr;       // runs decode on the packed INT8/INT4 kernels
    QComboBox* activations_ = nullptr;  // with packed_: float32 or int8 activations
    QComboBox* head_ = nullptr;         // with packed_: the runs' output head
    QListWidget* runsList_ = nullptr;
    QPushButton *generate_ = nullptr, *cancel_ = nullptr;
    QLabel* status_ = nullptr;
    // Headers in row 0 and texts in row 1, so that every text starts at the same height.
    QGridLayout* columnsLayout_ = nullptr;
    std::vector<QLabel*> headers_;
    std::vector<TokenTextView*> texts_;
    TokenKlChart* chart_ = nullptr;
    BenchPanel* bench_ = nullptr;
    QTabWidget* sections_ = nullptr;
};

}  // namespace ql
