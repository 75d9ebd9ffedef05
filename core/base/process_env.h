// Process-level environment for the engine's front ends (CLI, GUI).
#pragma once

namespace ql {

// OpenMP (libtorch's thread pool) spin-waits by default; on a 2-core machine with any
// other load that made 2 threads 2-5x slower than 1. OMP_WAIT_POLICY is read once when
// libgomp loads, before main(), so a front end calls this first thing in main(): if the
// variable is unset it sets it to "passive" and re-executes the program (Linux only).
// Returns normally when nothing needed doing or re-execution failed.
void ensurePassiveOpenMpWait(char** argv);

} // namespace ql
