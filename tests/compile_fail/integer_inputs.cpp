// Integer inputs: kernels are computed in double or float only.
#include <tangent/tangent.hpp>

double use() {
#ifdef TANGENT_SHOULD_FAIL
  const Eigen::MatrixXi x = Eigen::MatrixXi::Ones(2, 3);
  return static_cast<double>(tangent::nngp(tangent::Dense{}, x)(0, 0));
#else
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
  return tangent::nngp(tangent::Dense{}, x)(0, 0);
#endif
}
