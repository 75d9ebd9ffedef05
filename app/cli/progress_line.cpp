#include "progress_line.h"

#include <cstdio>
#include <memory>
#include <string>
#include <utility>

namespace qlcli {

ql::ProgressCallback stderrProgress() {
    auto last = std::make_shared<std::pair<std::string, int>>("", -1);
    return [last](const ql::Progress& p) {
        if (p.fraction < 0) return true;
        const int step = int(p.fraction * 10);
        if (p.phase != last->first || step != last->second) {
            std::fprintf(stderr, "[%3d%%] %-11s %s\n", int(p.fraction * 100), p.phase.c_str(),
                         p.message.c_str());
            *last = {p.phase, step};
        }
        return true;
    };
}

}  // namespace qlcli
