// Item-data roles shared by QuantLens table models.
#pragma once

#include <Qt>

namespace ql {

enum TableRole {
    SortRole = Qt::UserRole,           // numeric value (double) or text for sorting
    LayerNameRole = Qt::UserRole + 1,  // full layer name of the row (empty for totals)
    ExportRole = Qt::UserRole + 2,     // raw text for CSV/TSV (full precision, no units)
};

}  // namespace ql
