// A user's activation that forgot variance(): the message names the missing member.
#include <tangent/tangent.hpp>

struct Cube {
  static constexpr std::string_view name = "Cube";
  template <class S>
  S value(S x) const {
    return x * x * x;
  }
  template <class S>
  S derivative(S x) const {
    return 3 * x * x;
  }
  template <class S>
  tangent::Moments<S> moments(S q11, S q12, S q22) const {
    // E[u³v³] and E[9u²v²] for a centred Gaussian pair (Isserlis).
    return {9 * q11 * q22 * q12 + 6 * q12 * q12 * q12, 9 * (q11 * q22 + 2 * q12 * q12)};
  }
#ifndef TANGENT_SHOULD_FAIL
  template <class S>
  S variance(S q) const {
    return 15 * q * q * q;
  }
#endif
  void validate(const tangent::LayerSite&) const {}
};

double use() {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
  return tangent::ntk(tangent::serial(tangent::Dense{}, Cube{}, tangent::Dense{}), x)(0, 0);
}
