// ExpNormalized is kernel only (neural-tangents' apply_fn raises): a finite network of it is a
// compile error that says so; its kernels compile.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
  const auto net = tangent::serial(tangent::Dense{}, tangent::ExpNormalized{}, tangent::Dense{});
  double sum = tangent::ntk(net, x)(0, 0);
#ifdef TANGENT_SHOULD_FAIL
  std::mt19937_64 rng(1);
  const auto params = tangent::init(net, rng, 3);
  sum += tangent::apply(net, params, x)(0, 0);
#endif
  return sum;
}
