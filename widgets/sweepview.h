// Weight sweep: weight SQNR of every layer under a grid of RTN settings (bits × granularity ×
// symmetry) at once, as a heat map of layers (rows, model order) × recipes (columns, labelled
// with the recipe text). The grid is chosen with the check boxes above the map; Sweep asks
// the host to compute it in the background (sweepRequested) and setResult() shows it. Low
// SQNR is red; a layer without a finite SQNR is a blank cell. A recipe that fell back on some
// layers says so in its column label (as run names do), each such cell in its tooltip.
// Clicking a cell selects the layer. The plot exports as PNG/PDF/SVG and as CSV (dataCsv: a
// row per layer, a column per recipe) through the host's chart export.
#pragma once

#include "run/sweep.h"

#include <QWidget>

#include <memory>

class QCheckBox;
class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QCPTextElement;
class QLabel;
class QPushButton;

namespace ql {

class SweepView : public QWidget {
    Q_OBJECT
public:
    explicit SweepView(QWidget* parent = nullptr);

    // The RTN recipes of a grid, bits outermost, then granularity (0 = channel, else the
    // group size), then sym before asym: e.g. "rtn:int4:g128:asym".
    static QStringList gridRecipes(const QList<int>& bits, const QList<int>& groups,
                                   const QList<bool>& symmetric);
    QStringList checkedRecipes() const;  // the grid of the checked boxes
    // Short column label: the recipe text without "rtn:" ("int4:g128:asym").
    static QString recipeLabel(const std::string& recipe);
    // A column's label as drawn: recipeLabel, and where layers fell back the run names'
    // note ("int4:g100:asym → channel ×35", resultutils.h: fallbackNote).
    QString columnLabel(int recipe) const;
    // A cell's tooltip: layer, recipe, weight SQNR and, for a fallback, the reason.
    QString cellToolTip(int layer, int recipe) const;

    void setResult(std::shared_ptr<const SweepResult> result);
    const std::shared_ptr<const SweepResult>& result() const { return result_; }
    void setRunning(bool running, const QString& status);
    void setEnabledForModel(bool enabled);  // false while no runnable model is open
    void setSelectedLayer(const std::string& name);
    void applyPalette();

    QCustomPlot* chart() const { return plot_; }
    QCPColorMap* colorMap() const { return map_; }
    // Weight SQNR drawn at (layer index, recipe index); NaN for a blank cell.
    double cellValue(int layer, int recipe) const;
    std::string layerAt(int row) const;
    QString title() const;
    QString dataCsv() const;
    QList<QCheckBox*> bitsBoxes() const { return bits_; }
    QList<QCheckBox*> groupBoxes() const { return groups_; }
    QList<QCheckBox*> symmetryBoxes() const { return symmetry_; }
    QPushButton* sweepButton() const { return start_; }
    QPushButton* cancelButton() const { return cancel_; }
    QPushButton* exportButton() const { return export_; }
    QLabel* statusLabel() const { return status_; }

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

signals:
    void sweepRequested(const QStringList& recipes);
    void cancelRequested();
    void exportRequested(QCustomPlot* plot);
    void layerClicked(const std::string& name);

private:
    QWidget* buildControls();
    void rebuild();
    void placeLayerTicks();
    void onClick(QMouseEvent* event);
    void onMove(QMouseEvent* event);
    void updateButtons();

    std::shared_ptr<const SweepResult> result_;
    QCustomPlot* plot_ = nullptr;
    QCPColorMap* map_ = nullptr;
    QCPColorScale* scale_ = nullptr;
    QCPTextElement* title_ = nullptr;
    QList<QCheckBox*> bits_, groups_, symmetry_;
    QPushButton *start_ = nullptr, *cancel_ = nullptr, *export_ = nullptr;
    QLabel* status_ = nullptr;
    bool running_ = false, enabled_ = false;
    std::string selected_;
};

}  // namespace ql
