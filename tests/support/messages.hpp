#pragma once
// The message of an exception a call throws, for tests of error sentences.

#include <stdexcept>
#include <string>

namespace tangent::test {

/// The `what()` of the `E` that `call` throws, or "(nothing thrown)"; other exceptions pass.
template <class E = std::invalid_argument, class Call>
std::string message_of(Call&& call) {
  try {
    call();
  } catch (const E& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

}  // namespace tangent::test
