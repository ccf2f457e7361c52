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
using tangent::test::Fixture;
using tangent::test::kTolerance;

const std::map<std::string, Fixture>& fixtures() {
  static const auto cases =
      tangent::test::read_fixtures(TANGENT_TEST_DATA_DIR "/nt_branch_kernels.txt");
  return cases;
}

std::map<std::string, CaseErrors>& observed() {
  static std::map<std::string, CaseErrors> errors;
  return errors;
}

template <class Input, class Net>
void check_case(const std::string& name, const Net& net, const Input& x1, const Input& x2) {
  const Fixture& f = fixtures().at(name);
  const tangent::Kernels cross = tangent::kernels(net, x1, x2);
  const tangent::Kernels same = tangent::kernels(net, x1);
  // The single-output entry points give the same numbers as kernels().
  CHECK((tangent::nngp(net, x1, x2).array() == cross.nngp.array()).all());
  CHECK((tangent::ntk(net, x1).array() == same.ntk.array()).all());

  const CaseErrors e = tangent::test::measure(f, cross, same);
  observed()[name] = e;
  INFO(name << ":" << f.description);
  CHECK(e.beyond_tolerance == 0);
  CHECK(e.beyond_nt_rounding == 0);
  CHECK(e.nt_distinct <= kTolerance);
}

template <class Net>
void check_features(const char* name, const Net& net) {
  const Fixture& f = fixtures().at(name);
  check_case(name, net, f.at("x1"), f.at("x2"));
}

template <class Net>
void check_images(const char* name, Eigen::Index height, Eigen::Index width, Eigen::Index channels,
                  const Net& net) {
  const Fixture& f = fixtures().at(name);
  check_case(name, net, tangent::images(f.at("x1"), height, width, channels),
             tangent::images(f.at("x2"), height, width, channels));
}

template <class Net>
void check_sequences(const char* name, Eigen::Index length, Eigen::Index channels, const Net& net) {
  const Fixture& f = fixtures().at(name);
  check_case(name, net, tangent::sequences(f.at("x1"), length, channels),
             tangent::sequences(f.at("x2"), length, channels));
}

struct Case {
  const char* name;
  std::function<void(const char*)> run;
};

#define TANGENT_NT_FEATURES_CASE(NAME, NETWORK) \
  {NAME, [](const char* n) { check_features(n, NETWORK); }},
#define TANGENT_NT_IMAGES_CASE(NAME, H, W, C, NETWORK) \
  {NAME, [](const char* n) { check_images(n, H, W, C, NETWORK); }},
#define TANGENT_NT_SEQUENCES_CASE(NAME, L, C, NETWORK) \
  {NAME, [](const char* n) { check_sequences(n, L, C, NETWORK); }},
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
  REQUIRE(cases().size() == fixtures().size());
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
  for (const auto& [name, e] : observed()) {
    worst.nt_distinct = std::max(worst.nt_distinct, e.nt_distinct);
    worst.nt_same = std::max(worst.nt_same, e.nt_same);
    worst.exact = std::max(worst.exact, e.exact);
    worst.nt_vs_exact = std::max(worst.nt_vs_exact, e.nt_vs_exact);
  }
  std::cout << "branching cases: " << observed().size() << std::scientific << std::setprecision(2)
            << "\nours-nt distinct | ours-nt same-input | ours-exact | nt-exact\n"
            << worst.nt_distinct << "         | " << worst.nt_same << "           | " << worst.exact
            << "   | " << worst.nt_vs_exact << "\n";
}
