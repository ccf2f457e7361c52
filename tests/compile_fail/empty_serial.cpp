// A network without layers.
#include <tangent/tangent.hpp>

std::size_t use() {
#ifdef TANGENT_SHOULD_FAIL
  const auto net = tangent::serial();
#else
  const auto net = tangent::serial(tangent::Dense{});
#endif
  return net.size;
}
