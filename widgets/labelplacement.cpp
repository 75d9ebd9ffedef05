#include "widgets/labelplacement.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace ql {
namespace {

double overlap(const QRectF& a, const QRectF& b) {
    const QRectF i = a.intersected(b);
    return i.isEmpty() ? 0.0 : i.width() * i.height();
}

// Where a label of `size` may sit: first around the point `p` (right, left, above, below,
// the four corners), then anywhere in `area` on a grid (a leader line then joins it to its
// point); each inside `area`.
std::vector<QRectF> candidates(QPointF p, QSizeF size, const QRectF& area) {
    const double gap = 8.0, w = size.width(), h = size.height();
    std::vector<QPointF> corners = {
        {p.x() + gap, p.y() - h / 2},       {p.x() - gap - w, p.y() - h / 2},
        {p.x() - w / 2, p.y() - gap - h},   {p.x() - w / 2, p.y() + gap},
        {p.x() + gap, p.y() - gap - h},     {p.x() + gap, p.y() + gap},
        {p.x() - gap - w, p.y() - gap - h}, {p.x() - gap - w, p.y() + gap}};
    std::vector<std::pair<double, QPointF>> far;
    for (double y = area.top() + 2; y + h + 2 <= area.bottom(); y += 6)
        for (double x = area.left() + 2; x + w + 2 <= area.right(); x += 10)
            far.push_back({std::hypot(x + w / 2 - p.x(), y + h / 2 - p.y()), {x, y}});
    std::sort(far.begin(), far.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& f : far) corners.push_back(f.second);
    std::vector<QRectF> out;
    for (const QPointF& c : corners) {
        QRectF r(c, size);
        r.moveLeft(
            std::clamp(r.left(), area.left() + 2, std::max(area.left(), area.right() - w - 2)));
        r.moveTop(std::clamp(r.top(), area.top() + 2, std::max(area.top(), area.bottom() - h - 2)));
        out.push_back(r);
    }
    return out;
}

// The point of `r` nearest to `p` (where a leader line ends).
QPointF nearestOn(const QRectF& r, QPointF p) {
    return {std::clamp(p.x(), r.left(), r.right()), std::clamp(p.y(), r.top(), r.bottom())};
}

// Whether the segment a-b passes through one of `rects` (sampled every 3 pixels).
bool crossesAny(QPointF a, QPointF b, const std::vector<QRectF>& rects) {
    const int steps = std::max(1, int(std::hypot(b.x() - a.x(), b.y() - a.y()) / 3.0));
    for (int k = 1; k < steps; ++k) {
        const QPointF q = a + (b - a) * (double(k) / steps);
        for (const QRectF& r : rects)
            if (r.contains(q)) return true;
    }
    return false;
}

// In `order`, each label takes the first place near its point that covers no marker and no
// label placed before it, whose leader line crosses no label (else the cheapest: covered
// markers before a leader line through a label, a covered label only when no place is free
// of labels). Boxes are returned by label index.
std::vector<QRectF> greedy(const LabelPlacementInput& in, const std::vector<size_t>& order) {
    std::vector<QRectF> boxes(in.points.size()), placed;
    for (const size_t i : order) {
        QRectF best;
        double bestCost = -1.0;
        for (const QRectF& r : candidates(in.points[i], in.sizes[i], in.area)) {
            double cost = 0.0;
            for (const QRectF& m : in.markers) cost += overlap(r, m);
            for (const QRectF& o : placed) {  // covering a label: only when nothing else fits
                const double covered = overlap(r, o.adjusted(-2, -2, 2, 2));
                if (covered > 0.0) cost += 1e6 + covered;
            }
            if (crossesAny(in.points[i], nearestOn(r, in.points[i]), placed))
                cost += 1000.0;  // a leader line through another label reads as its
            if (bestCost < 0.0 || cost < bestCost) best = r, bestCost = cost;
            if (cost == 0.0) break;
        }
        placed.push_back(best);
        boxes[i] = best;
    }
    return boxes;
}

// Rows from the area's top left, the labels in the order of their points' x (so leader lines
// cross little); a label wider than what is left of a row starts the next one.
std::vector<QRectF> stacked(const LabelPlacementInput& in) {
    std::vector<size_t> order(in.points.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return in.points[a].x() < in.points[b].x(); });
    std::vector<QRectF> boxes(in.points.size());
    double x = in.area.left() + 2, y = in.area.top() + 2, rowHeight = 0.0;
    for (const size_t i : order) {
        const QSizeF s = in.sizes[i];
        if (x > in.area.left() + 2 && x + s.width() + 2 > in.area.right())
            x = in.area.left() + 2, y += rowHeight + 4, rowHeight = 0.0;
        boxes[i] = QRectF(QPointF(x, y), s);
        x += s.width() + 4, rowHeight = std::max(rowHeight, s.height());
    }
    return boxes;
}

}  // namespace

bool anyOverlap(const std::vector<QRectF>& boxes) {
    for (size_t a = 0; a < boxes.size(); ++a)
        for (size_t b = a + 1; b < boxes.size(); ++b)
            if (boxes[a].intersects(boxes[b])) return true;
    return false;
}

std::vector<QRectF> placeLabels(const LabelPlacementInput& in) {
    std::vector<size_t> order(in.points.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return in.points[a].y() < in.points[b].y(); });
    std::vector<QRectF> boxes = greedy(in, order);
    if (!anyOverlap(boxes)) return boxes;
    // A label placed early can take the only room a later one had: other orders (few labels:
    // a chart shows the float model and a handful of runs) before giving up on proximity.
    if (order.size() <= 4) {
        std::sort(order.begin(), order.end());
        do {
            boxes = greedy(in, order);
            if (!anyOverlap(boxes)) return boxes;
        } while (std::next_permutation(order.begin(), order.end()));
    }
    return stacked(in);
}

}  // namespace ql
