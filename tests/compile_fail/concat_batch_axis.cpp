// FanInConcat<0> would concatenate samples, which neural-tangents' axis 0 (the batch) is.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
  const tangent::Dense dense{.width = 4};
#ifdef TANGENT_SHOULD_FAIL
  const auto net = tangent::serial(dense, tangent::parallel(dense, dense),
                                   tangent::FanInConcat<0>{}, tangent::Dense{});
#else
  const auto net = tangent::serial(dense, tangent::parallel(dense, dense),
                                   tangent::FanInConcat<-1>{}, tangent::Dense{});
#endif
  return tangent::ntk(net, x)(0, 0);
}
