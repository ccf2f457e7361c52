// Branching networks against neural-tangents 0.6.5 itself (float64), on the random
// architectures of tests/data/nt_branch_cases.inc (generator:
// tools/reference/generate_branch_fixtures.py): fully connected residual blocks, nested
// parallels, FanInProd, FanInConcat, LayerNorm, Dropout in train mode and repeat; WideResNet-style
// groups with strided conv shortcuts, convolutional residual blocks, FanInConcat along channels
// and along a spatial axis, FanInProd, LayerNorm over channels or channels and positions,
// Dropout, SumPool, GlobalSumPool and repeat, on images and sequences; cross and same-input.
//
// Each fixture also holds the same recursion evaluated independently in long double on full
// blocks, with the tree walked recursively, and each entry's rounding floor. The criteria are
// those of the other fixtures (support/reference_check.hpp): 1e-12 against the exact value, and
// against neural-tangents 1e-12 plus its own error (large only on same-input diagonals of
// ReLU-family networks, where its angle of a sample with itself is √ε noise instead of 0).

#include <algorithm>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/fixtures.hpp"
#include "support/reference_check.hpp"

namespace {

using tangent::test::CaseErrors;

tangent::test::ReferenceSuite& suite() {
  static tangent::test::ReferenceSuite cases(TANGENT_TEST_DATA_DIR "/nt_branch_kernels.txt");
  return cases;
}

struct Case {
  const char* name;
  std::function<void(const char*)> run;
};

#define TANGENT_NT_FEATURES_CASE(NAME, NETWORK) \
  {NAME, [](const char* n) { suite().check_features(n, NETWORK); }},
#define TANGENT_NT_IMAGES_CASE(NAME, H, W, C, NETWORK) \
  {NAME, [](const char* n) { suite().check_images(n, H, W, C, NETWORK); }},
#define TANGENT_NT_SEQUENCES_CASE(NAME, L, C, NETWORK) \
  {NAME, [](const char* n) { suite().check_sequences(n, L, C, NETWORK); }},
const std::vector<Case>& cases() {
  static const std::vector<Case> all{
#include "nt_branch_cases.inc"
  };
  return all;
}
#undef TANGENT_NT_FEATURES_CASE
#undef TANGENT_NT_IMAGES_CASE
#undef TANGENT_NT_SEQUENCES_CASE

}  // namespace

TEST_CASE("branching networks equal neural-tangents 0.6.5", "[kernels][branching][reference]") {
  REQUIRE(cases().size() == suite().fixtures().size());
  REQUIRE(cases().size() >= 40);
  for (const Case& c : cases()) {
    SECTION(c.name) {
      c.run(c.name);
    }
  }
}

TEST_CASE("report: worst error against neural-tangents for branching networks", "[.report]") {
  for (const Case& c : cases()) c.run(c.name);
  CaseErrors worst;
  for (const auto& [name, e] : suite().observed()) tangent::test::include_worst(worst, e);
  std::cout << "branching cases: " << suite().observed().size() << std::scientific
            << std::setprecision(2)
            << "\nours-nt distinct | ours-nt same-input | ours-exact | nt-exact\n"
            << worst.nt_distinct << "         | " << worst.nt_same << "           | " << worst.exact
            << "   | " << worst.nt_vs_exact << "\n";
}
