#pragma once
// Output of the examples: the CSV behind every plot, and the PNG drawn from it by gnuplot
// (Debian's gnuplot-nox) when it is installed. The gnuplot script is kept next to the PNG so the
// plot can be restyled without rerunning the computation.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace examples {

/// True when a `gnuplot` executable is on the PATH.
inline bool have_gnuplot() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::error_code error;
    const auto candidate = std::filesystem::path(dir) / "gnuplot";
    if (std::filesystem::is_regular_file(candidate, error)) return true;
  }
  return false;
}

/// Opens `path` for writing (creating its folder), or throws naming the file.
inline std::ofstream open_output(const std::filesystem::path& path) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  out.precision(10);
  return out;
}

/// Writes `script` (gnuplot commands; the terminal and output lines are added here) next to
/// `png` and runs gnuplot on it inside that folder, so the script names its files without a
/// folder (and still works after the folder moves). gnuplot runs without a shell: no path can
/// inject commands. Returns false, with a note on stdout, when gnuplot is missing or fails; the
/// CSV the script reads is then the example's only output.
inline bool plot_png(const std::filesystem::path& png, const std::string& script, int width = 1200,
                     int height = 700) {
  const std::filesystem::path script_path = std::filesystem::path(png).replace_extension(".gp");
  {
    std::ofstream out = open_output(script_path);
    out << "set terminal pngcairo size " << width << "," << height << " font 'Sans,11' noenhanced\n"
        << "set output '" << png.filename().string() << "'\n"
        << "set datafile separator ','\n"
        << script;
  }
  if (!have_gnuplot()) {
    std::printf(
        "gnuplot not found (Debian: apt install gnuplot-nox): wrote only the CSV; the "
        "plot script is %s\n",
        script_path.string().c_str());
    return false;
  }
  std::error_code error;
  std::filesystem::remove(png, error);
  std::fflush(stdout);
  const std::string folder =
      script_path.has_parent_path() ? script_path.parent_path().string() : ".";
  const std::string script_name = script_path.filename().string();
  const pid_t child = fork();
  if (child == 0) {
    if (chdir(folder.c_str()) == 0) {
      execlp("gnuplot", "gnuplot", script_name.c_str(), static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  int status = 0;
  const bool ran = child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
                   WEXITSTATUS(status) == 0;
  if (!ran || !std::filesystem::exists(png)) {
    std::printf("gnuplot failed on %s: wrote only the CSV\n", script_path.string().c_str());
    return false;
  }
  return true;
}

}  // namespace examples
