// Something that is not a layer inside serial(...).
#include <tangent/tangent.hpp>

std::size_t use() {
#ifdef TANGENT_SHOULD_FAIL
  const auto net = tangent::serial(tangent::Dense{}, 42);
#else
  const auto net = tangent::serial(tangent::Dense{}, tangent::Identity{});
#endif
  return net.size;
}
