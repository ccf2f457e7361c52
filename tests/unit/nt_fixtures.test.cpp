// The fully connected kernels against neural-tangents 0.6.5 itself (float64), on the random
// architectures of tests/data/nt_fc_cases.inc (generator: tools/reference/generate_fc_fixtures.py).
//
// Each fixture also holds the same recursion evaluated with 40 digits (mpmath) from the same
// binary inputs, the "exact" values, and each entry's rounding floor: the error any float64
// evaluation carries when a pair is nearly collinear at some layer (64·ε/sin θ, see the
// generator). The tolerance of an entry is tol = max(1e-12, floor); the floor exceeds 1e-12 only
// in the degenerate cases, for the pair of a zero row and a row scaled by 1e-6, which a bias
// makes nearly identical. Criteria, for every entry:
// - against exact: |ours − exact| ≤ tol·|exact|;
// - against neural-tangents: |ours − nt| ≤ tol·|nt| + |nt − exact|, i.e. 1e-12 wherever
//   neural-tangents' own rounding allows, and its own (measured) error where it does not. That
//   happens in two documented places: same-input diagonal NTK entries of ReLU-family networks
//   (it computes the angle of a sample with itself from √(q11·q22 − q12²) with q11 and q12 from
//   different reductions, so θ is noise of order √ε instead of 0: errors up to ~1e-8, reference
//   note §10), and Erf of very large variances (rows scaled by 1e6), where its
//   (1 + 2q11)(1 + 2q22) − 4q12² cancels catastrophically.
// Entries between distinct inputs of the non-degenerate cases are also held to plain 1e-12
// relative agreement with neural-tangents.

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/fixtures.hpp"
#include "support/reference_check.hpp"

namespace {

using tangent::test::CaseErrors;

tangent::test::ReferenceSuite& suite() {
  static tangent::test::ReferenceSuite cases(TANGENT_TEST_DATA_DIR "/nt_fc_kernels.txt");
  return cases;
}

struct Case {
  const char* name;
  std::function<void(const char*)> run;
};

#define TANGENT_NT_CASE(NAME, NETWORK) \
  {NAME, [](const char* n) { suite().check_features(n, NETWORK); }},
const std::vector<Case>& cases() {
  static const std::vector<Case> all{
#include "nt_fc_cases.inc"
  };
  return all;
}
#undef TANGENT_NT_CASE

}  // namespace

TEST_CASE("fully connected kernels equal neural-tangents 0.6.5", "[kernels][reference]") {
  REQUIRE(cases().size() == suite().fixtures().size());
  REQUIRE(cases().size() >= 30);
  for (const Case& c : cases()) {
    SECTION(c.name) {
      c.run(c.name);
    }
  }
}

TEST_CASE("report: worst error against neural-tangents per layer type", "[.report]") {
  for (const Case& c : cases()) c.run(c.name);
  std::map<std::string, CaseErrors> per_layer;
  for (const auto& [name, e] : suite().observed()) {
    std::set<std::string> layers;
    std::istringstream words(suite().fixtures().at(name).description);
    for (std::string word; std::getline(words, word, '-');) {
      layers.insert(word.substr(word.find_first_not_of(' ')));
    }
    for (const std::string& layer : layers) tangent::test::include_worst(per_layer[layer], e);
  }
  std::cout << "cases: " << suite().observed().size()
            << " (worst relative errors over the cases that contain the layer)\n"
            << "layer     | ours-nt distinct | ours-nt same-input | ours-exact | nt-exact | "
               "degenerate cases: ours-exact | nt-exact\n";
  for (const auto& [layer, e] : per_layer) {
    std::cout << std::setw(9) << std::left << layer << " | " << std::scientific
              << std::setprecision(2) << e.nt_distinct << "         | " << e.nt_same
              << "           | " << e.exact << "   | " << e.nt_vs_exact << " | "
              << e.exact_degenerate << "                    | " << e.nt_vs_exact_degenerate << "\n";
  }
}
