// Text of the Generate tab's columns from a finished comparison: the tokens each column
// shows, their tooltips (float probability and KL, teacher-forced on the float text) and
// the column headers. Pure functions of the result, so the page and its tests agree.
#pragma once

#include "run/generation_compare.h"

#include <QString>
#include <QStringList>

namespace ql {

// The tokens a column shows: each one's share of the text (GeneratedText::textPieces), but
// a final stop token's.
QStringList shownPieces(const GeneratedText& out);
// A piece as it reads inside a tooltip: quoted, line breaks and tabs made visible.
QString quotedPiece(const std::string& piece);
// One tooltip per shown token of output `output` (0: the float model).
QStringList tokenToolTips(const GenerationComparison& c, int output);
// The column's header (rich text): name, token count and speed; for runs the first
// divergence, mean KL and top-1 agreement.
QString columnHeader(const GenerationComparison& c, int output);

}  // namespace ql
