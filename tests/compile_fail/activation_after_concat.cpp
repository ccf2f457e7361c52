// An activation straight after FanInConcat: a concatenation of channels is not Gaussian.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
#ifdef TANGENT_SHOULD_FAIL
  const auto net =
      tangent::serial(tangent::Dense{}, tangent::parallel(tangent::Dense{}, tangent::Dense{}),
                      tangent::FanInConcat{}, tangent::ReLU{});
#else
  const auto net =
      tangent::serial(tangent::Dense{}, tangent::parallel(tangent::Dense{}, tangent::Dense{}),
                      tangent::FanInConcat{}, tangent::Dense{}, tangent::ReLU{});
#endif
  return tangent::ntk(net, x)(0, 0);
}
