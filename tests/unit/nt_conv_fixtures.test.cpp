// Convolutional kernels against neural-tangents 0.6.5 itself (float64), on the random CNNs of
// tests/data/nt_conv_cases.inc (generator: tools/reference/generate_conv_fixtures.py): 1-D and
// 2-D, filters 1–3 wide and non-square, strides 1–2, all paddings, with and without pooling,
// Flatten and GlobalAvgPool readouts, both parameterizations.
//
// Tolerance: 1e-12 relative on every entry between distinct inputs. Same-input diagonal entries
// of networks with a ReLU-family activation are checked at 1e-7: neural-tangents' angle of a
// sample with itself at the same position is rounding noise of order √ε instead of 0 (reference
// note §10), and convolutions and pooling spread that noise over the sample's own block; tangent
// makes those angles exactly 0.

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/fixtures.hpp"

namespace {

using tangent::test::Fixture;

const std::map<std::string, Fixture>& fixtures() {
  static const auto cases =
      tangent::test::read_fixtures(TANGENT_TEST_DATA_DIR "/nt_conv_kernels.txt");
  return cases;
}

constexpr double kTolerance = 1e-12;
constexpr double kReluDiagonalTolerance = 1e-7;

double relative(double value, double reference) {
  const double diff = std::abs(value - reference);
  return diff == 0 ? 0 : diff / std::abs(reference);
}

bool has_relu_family(const std::string& description) {
  for (const char* name : {"ReLU", "Abs", "ABReLU"}) {
    if (description.find(name) != std::string::npos) return true;
  }
  return false;
}

struct CaseErrors {
  double distinct = 0;  // entries between distinct inputs
  double diagonal = 0;  // same-input diagonal entries
};

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

  CaseErrors e;
  const auto track = [](double& worst, double value, double reference) {
    worst = std::max(worst, relative(value, reference));
  };
  for (Eigen::Index i = 0; i < cross.nngp.rows(); ++i) {
    for (Eigen::Index j = 0; j < cross.nngp.cols(); ++j) {
      track(e.distinct, cross.nngp(i, j), f.at("nngp12")(i, j));
      track(e.distinct, cross.ntk(i, j), f.at("ntk12")(i, j));
    }
    for (Eigen::Index j = 0; j < same.nngp.cols(); ++j) {
      double& worst = i == j ? e.diagonal : e.distinct;
      track(worst, same.nngp(i, j), f.at("nngp11")(i, j));
      track(worst, same.ntk(i, j), f.at("ntk11")(i, j));
    }
  }
  observed()[name] = e;
  INFO(name << ":" << f.description);
  CHECK(e.distinct <= kTolerance);
  CHECK(e.diagonal <= (has_relu_family(f.description) ? kReluDiagonalTolerance : kTolerance));
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
  CaseErrors flatten;
  CaseErrors pooled;
  for (const auto& [name, e] : observed()) {
    const std::string& description = fixtures().at(name).description;
    const bool global = description.find("GlobalAvgPool") != std::string::npos;
    CaseErrors& group =
        global || description.find("AvgPool") != std::string::npos ? pooled : flatten;
    group.distinct = std::max(group.distinct, e.distinct);
    group.diagonal = std::max(group.diagonal, e.diagonal);
  }
  std::cout << "conv cases: " << observed().size() << std::scientific << std::setprecision(2)
            << "\nwithout pooling (diagonal blocks): distinct " << flatten.distinct
            << ", same-input diagonal " << flatten.diagonal
            << "\nwith pooling (full blocks):        distinct " << pooled.distinct
            << ", same-input diagonal " << pooled.diagonal << "\n";
}
