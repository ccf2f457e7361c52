// A user's layer that forgot its stage rule (output_stage): the message names the member and
// what to write, rather than a template error from deep inside the network's type.
#include <tangent/tangent.hpp>

struct Halve {
  static constexpr std::string_view name = "Halve";
#ifndef TANGENT_SHOULD_FAIL
  template <class In>
  using output_stage = In;
#endif
  void validate(const tangent::LayerSite&) const {}
  tangent::Index output_width(tangent::Index width) const {
    return width;
  }
  template <class S>
  S variance(S q) const {
    return q / 4;
  }
  template <bool WithNtk, class S>
  void propagate_entry(S& q, S& t, const tangent::EntryContext<S>&) const {
    q = q / 4;
    t = t / 4;
  }
};

double use() {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
  return tangent::ntk(tangent::serial(tangent::Dense{}, Halve{}, tangent::Dense{}), x)(0, 0);
}
