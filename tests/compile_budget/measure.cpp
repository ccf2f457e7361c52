// Runs a compiler command and records what the compilation cost in units that the machine's load
// cannot change: the compiler's peak resident memory and the size of the object it wrote. Its
// CPU time is recorded too, for people, not for a verdict (it grows when other jobs share the
// cores' caches). Used as the CXX_COMPILER_LAUNCHER of the compile-budget targets:
//   tangent_compile_measure <compiler> <arguments...>
// writes "<object>.budget" next to the object named by `-o <object>`.
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs("usage: tangent_compile_measure <compiler> <arguments...>\n", stderr);
    return 2;
  }
  std::string object;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "-o") object = argv[i + 1];
  }
  const pid_t child = fork();
  if (child < 0) {
    std::perror("tangent_compile_measure: fork");
    return 2;
  }
  if (child == 0) {
    execvp(argv[1], argv + 1);
    std::perror("tangent_compile_measure: exec");
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (wait4(child, &status, 0, &usage) < 0) {
    std::perror("tangent_compile_measure: wait4");
    return 2;
  }
  if (!WIFEXITED(status)) return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  if (WEXITSTATUS(status) != 0 || object.empty()) return WEXITSTATUS(status);
  // ru_maxrss is the largest child waited for: the compiler proper (cc1plus), in KiB on Linux.
  std::ofstream record(object + ".budget");
  record << "peak_kib " << usage.ru_maxrss << "\ncpu_s "
         << static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
         << '\n';
  return record ? 0 : 2;
}
