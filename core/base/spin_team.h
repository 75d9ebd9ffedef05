// The threads that run the decode step's parallel regions (issue 11): the packed layers'
// calls (core/infer) and the step's attention and SiLU (core/model). A decode step of a
// packed model is ~100 short regions (q/k/v, o, gate/up and down per block, the head), each
// reading 20-300 µs of weights, with a few µs to tens of µs of serial work between them.
// OpenMP's passive waits put the pool's threads to sleep after every region, and waking one
// costs 10-20 µs at each start and finish: ~15 % of a packed step (OMP_WAIT_POLICY=active
// measured that, BENCHMARKS.md, "Decode on an idle machine"). Active waits for the whole pool
// fix it but spin against OpenBLAS in the float model and in prefill, halving them.
//
// This team keeps its own workers and lets them spin only for a bounded time after a region
// that asks for it (the decode calls), then sleep on a condition variable: within a step the
// next region finds them awake, while sgemm (prefill, the float model) never shares a core
// with a spinning worker for longer than that bound.
#pragma once

#include <cstdint>
#include <functional>

namespace ql {

// Runs fn(i) for i in [0, tasks) on `threads` threads: the caller and threads - 1 workers of
// the process's team; task i on thread i % threads (the caller is thread 0). After their
// tasks the workers wait `spinMicros` spinning for the next call, then sleep. Returns the
// number of distinct threads that ran a task. A call while the team is busy (from another
// thread, or nested in a task) runs its tasks on the calling thread alone. An exception of a
// task ends its thread's share and is rethrown on the caller once every thread has finished.
int runOnTeam(int64_t tasks, int threads, int spinMicros, const std::function<void(int64_t)>& fn);

// Microseconds the decode calls let workers spin: QL_DECODE_SPIN_US when set (0 = sleep at
// once, as OpenMP's passive policy), else kDefaultSpinMicros.
int decodeSpinMicros();
void setDecodeSpinMicros(int micros);  // benches compare settings in one process
constexpr int kDefaultSpinMicros = 200;

}  // namespace ql
