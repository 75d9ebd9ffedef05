// core-private: wall time of a forward pass by stage, for finding where a decode step's time
// goes besides the weight reads (bench-infer with QL_DECODE_PROFILE set).
#pragma once

#include <vector>

namespace ql {

// Wall time of the forward pass by stage, summed on the calling thread while the environment
// variable QL_DECODE_PROFILE is set (read once; unset: no clock is read). bench-infer reports
// it per decode step: where a step's time goes besides the weight reads.
enum class Stage {
    Embed,
    Norm,
    QkvProj,
    Rope,
    Attention,
    OProj,
    MlpProj,
    MlpAct,
    Head,
    Logits,
    Count
};
bool stageProfiling();
const char* stageName(Stage s);
std::vector<double> takeStageSeconds();  // seconds per Stage since the last call, then zeroed

// Marks the end of a stage: the time since the previous mark goes to `s`.
class StageClock {
public:
    StageClock();
    void mark(Stage s);

private:
    bool on_;
    double last_ = 0.0;
};

}  // namespace ql
