// A network of Dense + BLOCKS × (ReLU, Dense) layers built, checked and evaluated. The CTest test
// compile_budget.deep_network compiles it with 100 blocks (201 layers) and with 1 block, and
// bounds what the 200 extra layers cost the compiler (cmake/TangentCompileBudget.cmake).
#include <utility>

#include <tangent/tangent.hpp>

#ifndef TANGENT_BUDGET_BLOCKS
#define TANGENT_BUDGET_BLOCKS 100
#endif

namespace {

template <std::size_t... Is>
auto deep(std::index_sequence<Is...>) {
  return tangent::serial(
      tangent::Dense{.w_std = 1.4},
      ((void)Is, tangent::serial(tangent::ReLU{}, tangent::Dense{.w_std = 1.4}))...);
}

}  // namespace

double deep_network_ntk() {
  const auto net = deep(std::make_index_sequence<TANGENT_BUDGET_BLOCKS>{});
  static_assert(decltype(net)::size == 2 * TANGENT_BUDGET_BLOCKS + 1);
  return tangent::ntk(net, Eigen::MatrixXd::Ones(2, 3))(0, 1);
}
