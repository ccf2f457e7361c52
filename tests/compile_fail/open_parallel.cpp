// Branches that no fan-in combines.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
#ifdef TANGENT_SHOULD_FAIL
  const auto net = tangent::serial(
      tangent::Dense{}, tangent::parallel(tangent::Dense{}, tangent::Dense{}), tangent::Dense{});
#else
  const auto net =
      tangent::serial(tangent::Dense{}, tangent::parallel(tangent::Dense{}, tangent::Dense{}),
                      tangent::FanInProd{}, tangent::Dense{});
#endif
  return tangent::ntk(net, x)(0, 0);
}
