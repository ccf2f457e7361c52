// Convolutional kernels against neural-tangents 0.6.5 itself (float64), on the random CNNs of
// tests/data/nt_conv_cases.inc (generator: tools/reference/generate_conv_fixtures.py): 1-D and
// 2-D, filters 1–3 wide and non-square, strides 1–2, all paddings, with and without pooling,
// Flatten and GlobalAvgPool readouts, both parameterizations.
//
// Each fixture also holds the same recursion evaluated independently, in long double on full
// P×P blocks with non-separable window sums, and each entry's rounding floor; the criteria are
// those of the fully connected fixtures (support/reference_check.hpp): 1e-12 against the exact
// value everywhere (the floors stay below it in these cases), and against neural-tangents to
// 1e-12 plus its own error. Its own error is large on same-input diagonals of ReLU-family
// networks: its angle of a sample with itself at the same position is rounding noise of order
// √ε instead of 0 (reference note §10), and convolutions and pooling spread that noise over the
// sample's own block; tangent makes those angles exactly 0.

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
  static tangent::test::ReferenceSuite cases(TANGENT_TEST_DATA_DIR "/nt_conv_kernels.txt");
  return cases;
}

struct Case {
  const char* name;
  std::function<void(const char*)> run;
};

#define TANGENT_NT_IMAGES_CASE(NAME, H, W, C, NETWORK) \
  {NAME, [](const char* n) { suite().check_images(n, H, W, C, NETWORK); }},
#define TANGENT_NT_SEQUENCES_CASE(NAME, L, C, NETWORK) \
  {NAME, [](const char* n) { suite().check_sequences(n, L, C, NETWORK); }},
const std::vector<Case>& cases() {
  static const std::vector<Case> all{
#include "nt_conv_cases.inc"
  };
  return all;
}
#undef TANGENT_NT_IMAGES_CASE
#undef TANGENT_NT_SEQUENCES_CASE

}  // namespace

TEST_CASE("convolutional kernels equal neural-tangents 0.6.5", "[kernels][conv][reference]") {
  REQUIRE(cases().size() == suite().fixtures().size());
  REQUIRE(cases().size() >= 30);
  for (const Case& c : cases()) {
    SECTION(c.name) {
      c.run(c.name);
    }
  }
}

TEST_CASE("report: worst error against neural-tangents for convolutional networks", "[.report]") {
  for (const Case& c : cases()) c.run(c.name);
  CaseErrors diagonal_blocks;
  CaseErrors full_blocks;
  for (const auto& [name, e] : suite().observed()) {
    const bool pooled = suite().fixtures().at(name).description.find("Pool") != std::string::npos;
    tangent::test::include_worst(pooled ? full_blocks : diagonal_blocks, e);
  }
  std::cout
      << "conv cases: " << suite().observed().size() << std::scientific << std::setprecision(2)
      << "\n                        ours-nt distinct | ours-nt same-input | ours-exact | nt-exact";
  for (const auto& [label, e] : {std::pair{"no pooling (diagonal):", diagonal_blocks},
                                 std::pair{"pooling (full blocks): ", full_blocks}}) {
    std::cout << "\n"
              << label << " " << e.nt_distinct << "         | " << e.nt_same << "           | "
              << e.exact << "   | " << e.nt_vs_exact;
  }
  std::cout << "\n";
}
