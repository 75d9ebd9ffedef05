// Folders QuantLens fills with exported files (compare tables, reports). Nothing that
// QuantLens did not write is ever overwritten: the folder must be new, empty, or hold the
// marker file ".quantlens-output" that claimOutputFolder writes before anything else, so
// that even an interrupted export is recognized. Replacing an earlier export needs the
// user's consent (--force on the command line, a confirmation in the workbench).
#pragma once

#include <string>

namespace ql {

enum class OutputFolder { New, Empty, Ours };

// Checks `dir` before any work: throws ql::Error (one line naming the path) when its
// parent is missing or not a folder, when it is a file or a symbolic link, when it is not
// writable, or when it is a non-empty folder without QuantLens's marker.
OutputFolder checkOutputFolder(const std::string& dir);

// Creates `dir` (not its parents) if needed and writes the marker, holding `kind`
// (e.g. "quantlens-compare"), crash-safely. Throws ql::Error naming the path.
void claimOutputFolder(const std::string& dir, const std::string& kind);

}  // namespace ql
