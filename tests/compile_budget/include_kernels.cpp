// compile_budget.kernels_header: what including the kernels header costs the compiler.
#include <tangent/kernels.hpp>
