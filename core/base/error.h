// Error types of the QuantLens engine. Every failure the user can cause (bad files,
// unsupported models, impossible settings) is reported as ql::Error with one clear
// message; cancellation is ql::Cancelled. Neither crosses a thread boundary: callers
// on other threads catch them and turn them into values.
#pragma once

#include <stdexcept>
#include <string>

namespace ql {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled by the user") {}
};

} // namespace ql
