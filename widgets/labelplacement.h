// Where the labels of a chart's points go (InferBenchChart): pure geometry, no widgets, so
// that a test can give it points that defeat a greedy placement.
#pragma once

#include <QPointF>
#include <QRectF>
#include <QSizeF>

#include <vector>

namespace ql {

struct LabelPlacementInput {
    QRectF area;                  // the labels stay inside it (2 px margin)
    std::vector<QPointF> points;  // label i belongs to points[i]
    std::vector<QSizeF> sizes;    // sizes[i]: label i's box
    std::vector<QRectF> markers;  // what a label should not cover (any number)
};

// One box per label, inside the area. Each label sits beside its point when there is room,
// else elsewhere (the caller draws a leader line), covering no marker where it can. No two
// boxes overlap whenever the labels fit side by side in rows of the area: the greedy pass
// (top to bottom) is tried in other orders when it leaves an overlap, then the labels are
// stacked in rows from the area's top left.
std::vector<QRectF> placeLabels(const LabelPlacementInput& in);

// Whether any two of the boxes intersect.
bool anyOverlap(const std::vector<QRectF>& boxes);

}  // namespace ql
