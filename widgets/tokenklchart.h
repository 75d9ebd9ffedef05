// The Generate tab's per-token chart: for each run, the KL between the float model's and
// the run's next-token distributions at every position of the float text (teacher-forced),
// one line per run in the run's column colour, its first divergent token marked.
#pragma once

#include <qcustomplot.h>

#include <vector>

namespace ql {

struct TokenKlSeries {
    QString name;
    std::vector<double> kl;  // nats, one per float token
    int firstDivergence = -1;
};

class TokenKlChart : public QCustomPlot {
    Q_OBJECT
public:
    explicit TokenKlChart(QWidget* parent = nullptr);
    void setSeries(std::vector<TokenKlSeries> series);
    const std::vector<TokenKlSeries>& series() const { return series_; }
    QCPGraph* graphOf(int run) const;  // the line of run `run` (0-based), null if none
    void applyPalette();

private:
    std::vector<TokenKlSeries> series_;
};

}  // namespace ql
