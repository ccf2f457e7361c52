// A kernel stored in float handed to the distributed factorisations, which need double.
#include <tangent/distributed.hpp>
#include <tangent/tangent.hpp>

double use(const tangent::distributed::Grid& grid) {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(4, 3);
  const Eigen::MatrixXd y = Eigen::MatrixXd::Ones(4, 1);
#ifdef TANGENT_SHOULD_FAIL
  const auto k = tangent::distributed::ntk<float>(tangent::Dense{}, x, grid);
  auto predictor = tangent::distributed::gradient_descent_mse(k, y);
#else
  auto predictor = tangent::distributed::gradient_descent_mse(
      tangent::distributed::ntk(tangent::Dense{}, x, grid), y);
#endif
  return predictor.spectrum().values[0];
}
