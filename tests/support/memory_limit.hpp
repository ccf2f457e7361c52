#pragma once
// TANGENT_MEMORY_LIMIT set for one scope: tests of memory planning, and tests that tell the
// solver routes apart by what they would allocate.

#include <cstdlib>

namespace tangent::test {

class MemoryLimit {
 public:
  explicit MemoryLimit(const char* value) { setenv("TANGENT_MEMORY_LIMIT", value, 1); }
  ~MemoryLimit() { unsetenv("TANGENT_MEMORY_LIMIT"); }
  MemoryLimit(const MemoryLimit&) = delete;
  MemoryLimit& operator=(const MemoryLimit&) = delete;
};

}  // namespace tangent::test
