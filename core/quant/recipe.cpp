// Recipe text form: METHOD[:PART...], case-insensitive. The method word picks the registry
// entry (quant/method_registry.h), whose grammar reads the remaining parts and writes the
// canonical form (toString() always writes all parts).
#include "quant/recipe.h"

#include "base/error.h"
#include "quant/method_registry.h"
#include "quant/recipe_parts.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace ql {

namespace recipe_parts {

[[noreturn]] void fail(std::string_view spec, const std::string& what) {
    throw Error("invalid quantization recipe '" + std::string(spec) + "': " + what);
}

long parsePositive(const std::string& digits) {
    if (digits.empty() || digits.size() > 9) return -1;
    long v = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    return v > 0 ? v : -1;
}

std::vector<std::string> splitColons(std::string_view s) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        const size_t colon = s.find(':', start);
        std::string part(s.substr(start, colon == std::string_view::npos ? colon : colon - start));
        std::transform(part.begin(), part.end(), part.begin(),
                       [](unsigned char c) { return char(std::tolower(c)); });
        parts.push_back(std::move(part));
        if (colon == std::string_view::npos) break;
        start = colon + 1;
    }
    return parts;
}

}  // namespace recipe_parts

std::string methodName(QuantMethod m) {
    return methodSpec(m).name;
}

bool Recipe::isCast() const {
    return methodSpec(method).afterSource == AfterSource::Cast;
}

std::string Recipe::toString() const {
    return methodSpec(method).print(*this) + activationSuffix(*this) + smoothSuffix(*this);
}

bool Recipe::needsCalibration() const {
    return smooth || methodSpec(method).needsCalibration;
}

namespace {
// Alpha as written in recipes and labels: the shortest decimal form that reads back the same.
std::string alphaText(double a) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, a, std::chars_format::fixed);
    return ec == std::errc() ? std::string(buf, end) : std::string("?");
}
}  // namespace

std::string smoothSuffix(const Recipe& r) {
    return r.smooth ? "+sq:" + alphaText(r.smoothAlpha) : "";
}

std::string smoothLabel(const Recipe& r) {
    return r.smooth ? " SmoothQuant α" + alphaText(r.smoothAlpha) : "";
}

std::string activationSuffix(const Recipe& r) {
    if (!r.quantizesActivations() || methodSpec(r.method).ownActivations) return "";
    return "+a" + std::to_string(r.actBits) + (r.actPerToken ? ":token" : ":tensor") +
           (r.actSymmetric ? ":sym" : ":asym");
}

std::string activationLabel(const Recipe& r) {
    if (!r.quantizesActivations() || methodSpec(r.method).ownActivations) return "";
    return " A" + std::to_string(r.actBits) + (r.actPerToken ? " per-token" : " per-tensor") +
           (r.actSymmetric ? " sym" : " asym");
}

namespace {

// "aB[:token|tensor][:sym|asym]" after the '+' of a recipe.
void parseActivationSide(std::string_view spec, std::string_view side, Recipe& r) {
    using recipe_parts::fail;
    const std::vector<std::string> parts = recipe_parts::splitColons(side);
    const std::string& bits = parts[0];
    const long b =
        bits.size() > 1 && bits[0] == 'a' ? recipe_parts::parsePositive(bits.substr(1)) : -1;
    if (b != 16 && (b < 2 || b > 8))
        fail(spec, "bad activation bits '" + bits +
                       "' after '+' (expected a2 .. a8, or a16 for float activations, e.g. a8)");
    if (parts.size() > 3)
        fail(spec, "too many activation parts (expected +aB[:token|tensor][:sym|asym])");
    if (b == 16 && parts.size() > 1)
        fail(spec, "a16 keeps activations in float and takes no further parts");
    r.actBits = b == 16 ? 0 : int(b);
    if (parts.size() > 1) {
        if (parts[1] == "token" || parts[1] == "tensor")
            r.actPerToken = parts[1] == "token";
        else
            fail(spec, "bad activation granularity '" + parts[1] + "' (expected token or tensor)");
    }
    if (parts.size() > 2) {
        if (parts[2] == "sym" || parts[2] == "asym")
            r.actSymmetric = parts[2] == "sym";
        else
            fail(spec, "bad activation symmetry '" + parts[2] + "' (expected sym or asym)");
    }
}

// "sq[:ALPHA]" after a '+': SmoothQuant with migration strength ALPHA in [0, 1].
void parseSmoothing(std::string_view spec, std::string_view side, Recipe& r) {
    using recipe_parts::fail;
    const std::vector<std::string> parts = recipe_parts::splitColons(side);
    if (parts.size() > 2) fail(spec, "too many SmoothQuant parts (expected +sq[:ALPHA])");
    r.smooth = true;
    if (parts.size() < 2) return;
    const std::string& a = parts[1];
    double alpha = -1.0;
    // from_chars: independent of the C locale (the GUI's may write decimal commas).
    const auto [end, ec] =
        std::from_chars(a.data(), a.data() + a.size(), alpha, std::chars_format::fixed);
    const bool digits = !a.empty() && a.find_first_not_of("0123456789.") == std::string::npos;
    if (!digits || ec != std::errc() || end != a.data() + a.size() ||
        !(alpha >= 0.0 && alpha <= 1.0))
        fail(spec, "bad SmoothQuant alpha '" + a + "' (expected a number 0 .. 1, e.g. sq:0.5)");
    r.smoothAlpha = alpha;
}

// Why a method's registry entry offers no "+sq", from what the entry declares.
std::string noSmoothingReason(const MethodSpec& m) {
    if (m.ownActivations)
        return "it handles activation outliers itself (its outlier columns stay in fp16), "
               "the problem SmoothQuant solves by migrating them into the weights";
    if (m.afterSource == AfterSource::Cast)
        return "a cast has no weight grid to trade activation range against";
    if (m.needsCalibration)
        return "it chooses its own per-input-channel scales from the activations; use it "
               "alone, or +sq with rtn, gptq, nf4, fp4 or a llama.cpp format";
    return "+sq goes with rtn, gptq, nf4, fp4 and the llama.cpp formats";
}

// The parts after the weight recipe: at most one activation side "+aB..." and one
// SmoothQuant part "+sq[:ALPHA]", in that order.
void parseSides(std::string_view full, const std::vector<std::string_view>& sides,
                const MethodSpec& m, Recipe& r) {
    using recipe_parts::fail;
    bool act = false;
    for (const std::string_view side : sides) {
        if (side.empty()) fail(full, "nothing after '+' (expected an activation side, e.g. +a8)");
        const std::string word = recipe_parts::splitColons(side)[0];
        if (word == "sq") {
            if (r.smooth) fail(full, "more than one '+sq' part");
            if (!(m.options & kOptSmoothQuant))
                fail(full, "'" + std::string(m.name) +
                               "' takes no SmoothQuant part: " + noSmoothingReason(m));
            parseSmoothing(full, side, r);
            continue;
        }
        if (r.smooth) fail(full, "the activation side comes before '+sq' (e.g. rtn:int8+a8+sq)");
        if (act)
            fail(full, "more than one '+' activation side (one at most, then +sq: rtn:int8+a8+sq)");
        if (m.ownActivations)
            fail(full, "'" + std::string(m.name) +
                           "' quantizes activations itself and takes no '+' part");
        parseActivationSide(full, side, r);
        act = true;
    }
    // Static ranges are calibrated on the unsmoothed inputs before the scales exist.
    if (r.smooth && r.quantizesActivations() && !r.actPerToken)
        fail(full, "SmoothQuant goes with per-token activations only (+aB:token), not :tensor");
}

}  // namespace

Recipe Recipe::parse(std::string_view full) {
    using recipe_parts::fail;
    std::vector<std::string_view> sides;
    for (size_t plus = full.find('+'); plus != std::string_view::npos;) {
        const size_t next = full.find('+', plus + 1);
        sides.push_back(
            full.substr(plus + 1, next == std::string_view::npos ? next : next - plus - 1));
        plus = next;
    }
    const std::string_view spec = full.substr(0, full.find('+'));
    const std::vector<std::string> parts = recipe_parts::splitColons(spec);
    if (parts[0].empty()) fail(full, "missing method (e.g. rtn:int8:channel:sym)");
    for (size_t i = 1; i < parts.size(); ++i)
        if (parts[i].empty()) fail(full, "empty part " + std::to_string(i + 1));
    const MethodSpec* m = findMethod(parts[0]);
    if (!m) fail(full, "unknown method '" + parts[0] + "' (expected " + knownMethodNames() + ")");
    Recipe r;
    r.method = m->id;
    m->parse(full, parts, r);
    parseSides(full, sides, *m, r);
    return r;
}

}  // namespace ql
