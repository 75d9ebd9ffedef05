// quant-private: helpers the methods' recipe grammars share (quant/method_registry.cpp,
// quant/codebook4_recipe.cpp), so every bad recipe gets the same one-line message shape.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ql::recipe_parts {

// "invalid quantization recipe 'SPEC': WHAT" as ql::Error.
[[noreturn]] void fail(std::string_view spec, const std::string& what);

// A positive decimal integer without sign or trailing characters; -1 if invalid.
long parsePositive(const std::string& digits);

// The lower-cased parts between colons ("a:b" -> {"a", "b"}; "" -> {""}).
std::vector<std::string> splitColons(std::string_view s);

}  // namespace ql::recipe_parts
