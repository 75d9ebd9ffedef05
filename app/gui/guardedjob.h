// The end of a background job as a value: its result, or that it was cancelled, or its
// error message, and how long it took — never an exception, since none may cross from the
// worker thread back to the GUI.
#pragma once

#include "base/error.h"

#include <QElapsedTimer>
#include <QString>

#include <atomic>
#include <exception>

namespace ql {

// Runs work(out) on the calling (worker) thread and fills out.cancelled, out.error and
// out.seconds around it. An error thrown after the user asked to cancel counts as the
// cancellation too (an engine may report it as a plain error). `doing` completes
// "unknown error …" for anything that is not a std::exception.
template <class Outcome, class Work>
Outcome guardedJob(Work&& work, const std::atomic<bool>& cancelRequested, const char* doing) {
    Outcome out;
    QElapsedTimer t;
    t.start();
    try {
        work(out);
    } catch (const Cancelled&) {
        out.cancelled = true;
    } catch (const std::exception& e) {
        out.error = QString::fromUtf8(e.what());
        out.cancelled = cancelRequested.load();
    } catch (...) {
        out.error = QStringLiteral("unknown error ") + QString::fromUtf8(doing);
    }
    out.seconds = t.elapsed() / 1000.0;
    return out;
}

}  // namespace ql
