// Distributed kernels from an installed tangent equal the single-process ones, on every process.
#include <cstdio>

#include <tangent/distributed.hpp>
#include <tangent/tangent.hpp>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int status = 1;
  {
    const tangent::distributed::Grid grid(MPI_COMM_WORLD);
    const auto net = tangent::serial(tangent::Dense{.width = 8, .b_std = 0.1}, tangent::ReLU{},
                                     tangent::Dense{.width = 1});
    const Eigen::MatrixXd x = Eigen::MatrixXd::Random(20, 3);
    const Eigen::MatrixXd k = tangent::distributed::ntk(net, x, grid).replicated();
    if ((k.array() == tangent::ntk(net, x).array()).all()) status = 0;
    if (grid.rank() == 0 && status == 0) std::printf("distributed consumer ok\n");
  }
  MPI_Finalize();
  return status;
}
