// The activations added in milestone 2 against neural-tangents 0.6.5 itself (float64), in the
// fully connected and convolutional networks of tests/data/nt_activation_cases.inc (generator:
// tools/reference/generate_activation_fixtures.py): Gelu, Sin, Cos, Rbf, Gaussian, Exp,
// ExpNormalized, Sign, SigmoidLike, Monomial, RectifiedMonomial, Polynomial, Hermite and Gabor,
// each in at least two FC networks and one CNN (Flatten, AvgPool and GlobalAvgPool readouts),
// cross and same-input, and a few degenerate inputs.
//
// Each fixture also holds the same recursion evaluated independently in high precision and each
// entry's rounding floor; the criteria are those of the other fixtures
// (support/reference_check.hpp): 1e-12 against the exact value, and against neural-tangents
// 1e-12 plus its own measured error.

#include <functional>
#include <iomanip>
#include <iostream>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/fixtures.hpp"
#include "support/reference_check.hpp"

namespace {

using tangent::test::CaseErrors;

tangent::test::ReferenceSuite& suite() {
  static tangent::test::ReferenceSuite cases(TANGENT_TEST_DATA_DIR "/nt_activation_kernels.txt");
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
#include "nt_activation_cases.inc"
  };
  return all;
}
#undef TANGENT_NT_FEATURES_CASE
#undef TANGENT_NT_IMAGES_CASE
#undef TANGENT_NT_SEQUENCES_CASE

}  // namespace

TEST_CASE("activations equal neural-tangents 0.6.5 in FC and conv networks",
          "[kernels][activations][reference]") {
  REQUIRE(cases().size() == suite().fixtures().size());
  REQUIRE(cases().size() >= 40);
  for (const Case& c : cases()) {
    SECTION(c.name) {
      c.run(c.name);
    }
  }
}

TEST_CASE("report: worst error against neural-tangents for activations", "[.report]") {
  for (const Case& c : cases()) c.run(c.name);
  CaseErrors worst;
  for (const auto& [name, e] : suite().observed()) tangent::test::include_worst(worst, e);
  std::cout << "activation cases: " << suite().observed().size() << std::scientific
            << std::setprecision(2)
            << "\nours-nt distinct | ours-nt same-input | ours-exact | ours-exact degenerate | "
               "nt-exact\n"
            << worst.nt_distinct << "         | " << worst.nt_same << "           | " << worst.exact
            << "   | " << worst.exact_degenerate << "              | " << worst.nt_vs_exact << "\n";
}
