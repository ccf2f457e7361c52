// The baseline of the compile_budget.*_header tests: what including Eigen costs the compiler.
#include <Eigen/Dense>
