// The Generate tab's "Speed and memory" section (issue 11): `bench-infer` of the float
// model and the checked runs on a background thread (Cancel between tokens), shown as a
// table with the runs' perplexity beside, and the same numbers as a chart below it. Like
// GeneratePage, it owns its job; errors come back as a value and are shown in the panel.
#pragma once

#include "run/infer_bench.h"
#include "widgets/resultutils.h"

#include <QFutureWatcher>
#include <QWidget>

#include <atomic>
#include <memory>

class QCheckBox;
class QComboBox;
class QLabel;
class QPushButton;
class QSpinBox;

namespace ql {

class InferBenchChart;
class InferBenchTableModel;
class TableView;

class BenchPanel : public QWidget {
    Q_OBJECT
public:
    explicit BenchPanel(QWidget* parent = nullptr);
    ~BenchPanel() override;  // cancels and waits

    void setModel(const QString& modelDir, const QString& whyNot = {});
    void setRuns(const RunList& runs);  // the runs benched beside the float model
    void setBusy(const QString& why);   // another job of the page runs: no bench now
    QString blockedReason() const;
    InferBenchRequest request() const;

    bool start();
    void cancel();
    bool isRunning() const { return running_; }
    QString errorText() const { return error_; }

    InferBenchTableModel* tableModel() const { return model_; }
    TableView* table() const { return table_; }
    InferBenchChart* chart() const { return chart_; }  // speed vs memory vs perplexity
    QSpinBox* promptTokensBox() const { return promptTokens_; }
    QSpinBox* genTokensBox() const { return genTokens_; }
    QCheckBox* packedBox() const { return packed_; }
    // Float32 or int8 activations for the packed layers' decode (bench-infer --activations).
    QComboBox* activationsBox() const { return activations_; }
    // The runs' output head: f32, int8 or int4 (bench-infer --head).
    QComboBox* headBox() const { return head_; }
    QPushButton* benchButton() const { return bench_; }
    QPushButton* cancelButton() const { return cancel_; }
    QLabel* statusLabel() const { return status_; }
    QLabel* captionLabel() const { return caption_; }

signals:
    void runningChanged(bool running);
    void benchFinished(bool ok);

private:
    struct Outcome {
        std::shared_ptr<const InferBenchResult> result;
        QString error;
        bool cancelled = false;
        double seconds = 0.0;
    };
    void updateEnabled();
    void onFinished();

    QString modelDir_, modelProblem_, busy_, error_, outcome_;
    RunList runs_, benched_;
    InferBenchRequest request_;
    bool running_ = false;
    std::shared_ptr<std::atomic<bool>> cancelFlag_;
    QFutureWatcher<Outcome>* watcher_ = nullptr;
    InferBenchTableModel* model_ = nullptr;
    TableView* table_ = nullptr;
    InferBenchChart* chart_ = nullptr;
    QSpinBox *promptTokens_ = nullptr, *genTokens_ = nullptr;
    QCheckBox* packed_ = nullptr;
    QComboBox* activations_ = nullptr;
    QComboBox* head_ = nullptr;
    QPushButton *bench_ = nullptr, *cancel_ = nullptr;
    QLabel *status_ = nullptr, *caption_ = nullptr;
};

}  // namespace ql
