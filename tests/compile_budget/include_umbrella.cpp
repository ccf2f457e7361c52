// compile_budget.umbrella_header: what including the umbrella header costs the compiler.
#include <tangent/tangent.hpp>
