// A 201-layer network (Dense + 100 × (ReLU, Dense)) built, checked and evaluated: the CTest
// test compile_budget.deep_network times out if its compile time grows out of bounds.
#include <utility>

#include <tangent/tangent.hpp>

namespace {

template <std::size_t... Is>
auto deep(std::index_sequence<Is...>) {
  return tangent::serial(
      tangent::Dense{.w_std = 1.4},
      ((void)Is, tangent::serial(tangent::ReLU{}, tangent::Dense{.w_std = 1.4}))...);
}

}  // namespace

double deep_network_ntk() {
  const auto net = deep(std::make_index_sequence<100>{});
  static_assert(decltype(net)::size == 201);
  return tangent::ntk(net, Eigen::MatrixXd::Ones(2, 3))(0, 1);
}
