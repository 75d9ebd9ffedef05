// Process-level environment for the engine's front ends (CLI, GUI).
#pragma once

#include <cstdint>

namespace ql {

// Largest thread count a user may ask for (--threads, QUANTLENS_THREADS).
constexpr int kMaxThreads = 256;

// The thread count a front end is asked for, read before any library sizes its pool:
// the last "--threads N" / "--threads=N" of argv[1..argc), else QUANTLENS_THREADS; 0 when
// neither is set or the value is not an integer in 1..kMaxThreads (the command itself
// reports a bad --threads).
int requestedThreads(int argc, char** argv);

// Gives the allocator's free memory back to the OS (malloc_trim), also the free holes in
// the middle of the heap. With keepFreedMemory the heap reuses freed blocks without page
// faults; the block-streamed engine calls this between decoder blocks so that what one
// block freed does not stay resident as fragmentation.
void releaseFreeMemory();

// Resident set size of this process now (VmRSS), 0 if unknown. Cheap: one /proc read.
uint64_t residentBytes();

// Peak resident set size of this process (VmHWM), 0 if unknown. resetPeakResident() starts
// a new peak at the current RSS (Linux clear_refs "5"), so that a run can report the peak
// of each phase; false when the kernel does not allow it (then peaks are cumulative).
uint64_t peakResidentBytes();
bool resetPeakResident();

// Makes the allocator keep freed memory for reuse instead of returning large blocks to
// the OS (page-fault storms); called by prepareProcessEnvironment. Only with
// QL_MALLOC_KEEP=1 (it trades peak memory for system time).
void keepFreedMemory();

// Call first thing in main(). OpenMP (libtorch's intra-op pool) and OpenBLAS (its own
// pthread pool, used by libtorch's matrix products) size their pools and read their wait
// policy from the environment once, when they load, before main(). So this sets
// OMP_WAIT_POLICY=passive if unset (spinning made 2 threads 2-5x slower than 1 on a loaded
// 2-core machine) and OPENBLAS_THREAD_TIMEOUT=4 if unset (its idle workers sleep at once
// instead of calling sched_yield for ~0.1 s) and, for threads > 0, OMP_NUM_THREADS,
// OPENBLAS_NUM_THREADS and MKL_NUM_THREADS to `threads`, then re-executes the program (Linux) when
// anything changed. Returns normally when nothing needed doing or re-execution failed.
void prepareProcessEnvironment(char** argv, int threads);

// Kept for callers written against the earlier API: prepareProcessEnvironment(argv, 0).
void ensurePassiveOpenMpWait(char** argv);

// Bounds OpenBLAS's own pool at run time (openblas_set_num_threads, looked up with dlsym;
// nothing happens when the process has no OpenBLAS). threads >= 1.
void setBlasThreads(int threads);

}  // namespace ql
