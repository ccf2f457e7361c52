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
using tangent::test::Fixture;
using tangent::test::kTolerance;

const std::map<std::string, Fixture>& fixtures() {
  static const auto cases =
      tangent::test::read_fixtures(TANGENT_TEST_DATA_DIR "/nt_conv_kernels.txt");
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

#define TANGENT_NT_IMAGES_CASE(NAME, H, W, C, NETWORK) \
  {NAME, [](const char* n) { check_images(n, H, W, C, NETWORK); }},
#define TANGENT_NT_SEQUENCES_CASE(NAME, L, C, NETWORK) \
  {NAME, [](const char* n) { check_sequences(n, L, C, NETWORK); }},
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
  REQUIRE(cases().size() == fixtures().size());
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
  for (const auto& [name, e] : observed()) {
    const bool pooled = fixtures().at(name).description.find("Pool") != std::string::npos;
    CaseErrors& group = pooled ? full_blocks : diagonal_blocks;
    group.nt_distinct = std::max(group.nt_distinct, e.nt_distinct);
    group.nt_same = std::max(group.nt_same, e.nt_same);
    group.exact = std::max(group.exact, e.exact);
    group.nt_vs_exact = std::max(group.nt_vs_exact, e.nt_vs_exact);
  }
  std::cout
      << "conv cases: " << observed().size() << std::scientific << std::setprecision(2)
      << "\n                        ours-nt distinct | ours-nt same-input | ours-exact | nt-exact";
  for (const auto& [label, e] : {std::pair{"no pooling (diagonal):", diagonal_blocks},
                                 std::pair{"pooling (full blocks): ", full_blocks}}) {
    std::cout << "\n"
              << label << " " << e.nt_distinct << "         | " << e.nt_same << "           | "
              << e.exact << "   | " << e.nt_vs_exact;
  }
  std::cout << "\n";
}
