#pragma once
// Comparison of computed kernels with a reference fixture holding neural-tangents' values, an
// independent high-precision evaluation of the same recursion ("exact") and each entry's float64
// rounding floor (see tools/reference/). Criteria, for every entry, with tol = max(1e-12, floor):
// - against exact: |ours − exact| ≤ tol·|exact|;
// - against neural-tangents: |ours − nt| ≤ tol·|nt| + |nt − exact|, i.e. 1e-12 wherever its own
//   rounding allows, and its own measured error where it does not.

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>

#include <Eigen/Core>
#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/fixtures.hpp"

namespace tangent::test {

inline constexpr double kTolerance = 1e-12;

inline double relative(double value, double reference) {
  const double diff = std::abs(value - reference);
  return diff == 0 ? 0 : diff / std::abs(reference);
}

struct CaseErrors {
  double nt_distinct = 0;             // ours vs nt, entries between distinct inputs, regular cases
  double nt_same = 0;                 // ours vs nt, same-input entries (diagonal, or equal rows)
  double exact = 0;                   // ours vs exact, every entry of the regular cases
  double exact_degenerate = 0;        // ours vs exact, every entry of the degenerate cases
  int beyond_tolerance = 0;           // entries where |ours − exact| > tol·|exact|
  double nt_vs_exact = 0;             // nt vs exact, regular cases (neural-tangents' own rounding)
  double nt_vs_exact_degenerate = 0;  // nt vs exact, degenerate cases
  int beyond_nt_rounding = 0;         // entries where |ours − nt| > tol·|nt| + |nt − exact|
};

inline void measure_matrix(CaseErrors& e, const Eigen::MatrixXd& ours, const Eigen::MatrixXd& nt,
                           const Eigen::MatrixXd& exact, const Eigen::MatrixXd& floor,
                           const std::function<bool(Eigen::Index, Eigen::Index)>& same,
                           bool degenerate) {
  for (Eigen::Index i = 0; i < ours.rows(); ++i) {
    for (Eigen::Index j = 0; j < ours.cols(); ++j) {
      const double vs_nt = relative(ours(i, j), nt(i, j));
      if (same(i, j)) {
        e.nt_same = std::max(e.nt_same, vs_nt);
      } else if (!degenerate) {
        e.nt_distinct = std::max(e.nt_distinct, vs_nt);
      }
      const double tol = std::max(kTolerance, floor(i, j));
      double& worst_exact = degenerate ? e.exact_degenerate : e.exact;
      worst_exact = std::max(worst_exact, relative(ours(i, j), exact(i, j)));
      if (relative(ours(i, j), exact(i, j)) > tol) ++e.beyond_tolerance;
      double& worst_nt = degenerate ? e.nt_vs_exact_degenerate : e.nt_vs_exact;
      worst_nt = std::max(worst_nt, relative(nt(i, j), exact(i, j)));
      const double allowed = tol * std::abs(nt(i, j)) + std::abs(nt(i, j) - exact(i, j));
      if (std::abs(ours(i, j) - nt(i, j)) > allowed) ++e.beyond_nt_rounding;
    }
  }
}

inline CaseErrors measure(const Fixture& f, const tangent::Kernels& cross,
                          const tangent::Kernels& same) {
  CaseErrors e;
  const bool degenerate = f.name.find("degenerate") != std::string::npos;
  const auto equal_rows = [&](Eigen::Index i, Eigen::Index j) {
    return (f.at("x1").row(i).array() == f.at("x2").row(j).array()).all();
  };
  const auto diagonal = [](Eigen::Index i, Eigen::Index j) { return i == j; };
  const Eigen::MatrixXd& floor12 = f.at("rounding_floor12");
  const Eigen::MatrixXd& floor11 = f.at("rounding_floor11");
  measure_matrix(e, cross.nngp, f.at("nngp12"), f.at("exact_nngp12"), floor12, equal_rows,
                 degenerate);
  measure_matrix(e, cross.ntk, f.at("ntk12"), f.at("exact_ntk12"), floor12, equal_rows, degenerate);
  measure_matrix(e, same.nngp, f.at("nngp11"), f.at("exact_nngp11"), floor11, diagonal, degenerate);
  measure_matrix(e, same.ntk, f.at("ntk11"), f.at("exact_ntk11"), floor11, diagonal, degenerate);
  return e;
}

/// The worst of two cases' errors, field by field (the counts add up).
inline void include_worst(CaseErrors& worst, const CaseErrors& e) {
  worst.nt_distinct = std::max(worst.nt_distinct, e.nt_distinct);
  worst.nt_same = std::max(worst.nt_same, e.nt_same);
  worst.exact = std::max(worst.exact, e.exact);
  worst.exact_degenerate = std::max(worst.exact_degenerate, e.exact_degenerate);
  worst.nt_vs_exact = std::max(worst.nt_vs_exact, e.nt_vs_exact);
  worst.nt_vs_exact_degenerate = std::max(worst.nt_vs_exact_degenerate, e.nt_vs_exact_degenerate);
  worst.beyond_tolerance += e.beyond_tolerance;
  worst.beyond_nt_rounding += e.beyond_nt_rounding;
}

/// The cases of one fixture file: each checked against neural-tangents and the exact values by
/// the criteria above, its errors kept for the report.
class ReferenceSuite {
 public:
  explicit ReferenceSuite(const std::string& path) : fixtures_(read_fixtures(path)) {}

  const std::map<std::string, Fixture>& fixtures() const { return fixtures_; }
  const std::map<std::string, CaseErrors>& observed() const { return observed_; }

  /// Case `name` of `net` on inputs x1 and x2 (cross) and on x1 alone (same-input).
  template <class Net, class Input>
  void check(const std::string& name, const Net& net, const Input& x1, const Input& x2) {
    const Fixture& f = fixtures_.at(name);
    const tangent::Kernels cross = tangent::kernels(net, x1, x2);
    const tangent::Kernels same = tangent::kernels(net, x1);
    // The single-output entry points give the same numbers as kernels().
    CHECK((tangent::nngp(net, x1, x2).array() == cross.nngp.array()).all());
    CHECK((tangent::ntk(net, x1).array() == same.ntk.array()).all());

    const CaseErrors e = measure(f, cross, same);
    observed_[name] = e;
    INFO(name << ":" << f.description);
    CHECK(e.beyond_tolerance == 0);
    CHECK(e.beyond_nt_rounding == 0);
    CHECK(e.nt_distinct <= kTolerance);
  }
  template <class Net>
  void check_features(const std::string& name, const Net& net) {
    const Fixture& f = fixtures_.at(name);
    check(name, net, f.at("x1"), f.at("x2"));
  }
  template <class Net>
  void check_images(const std::string& name, Eigen::Index height, Eigen::Index width,
                    Eigen::Index channels, const Net& net) {
    const Fixture& f = fixtures_.at(name);
    check(name, net, tangent::images(f.at("x1"), height, width, channels),
          tangent::images(f.at("x2"), height, width, channels));
  }
  template <class Net>
  void check_sequences(const std::string& name, Eigen::Index length, Eigen::Index channels,
                       const Net& net) {
    const Fixture& f = fixtures_.at(name);
    check(name, net, tangent::sequences(f.at("x1"), length, channels),
          tangent::sequences(f.at("x2"), length, channels));
  }

 private:
  std::map<std::string, Fixture> fixtures_;
  std::map<std::string, CaseErrors> observed_;
};

}  // namespace tangent::test
