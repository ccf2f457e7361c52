#pragma once
// Reads the reference files of tests/data/ written by tools/reference/*.py: a sequence of
// "case <name> <description>" headers, each followed by "<label> <rows> <cols>" matrices.

#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include <Eigen/Core>

namespace tangent::test {

struct Fixture {
  std::string name;
  std::string description;
  std::map<std::string, Eigen::MatrixXd> matrices;

  const Eigen::MatrixXd& at(const std::string& label) const {
    const auto found = matrices.find(label);
    if (found == matrices.end()) throw std::runtime_error(name + ": no matrix " + label);
    return found->second;
  }
};

inline std::map<std::string, Fixture> read_fixtures(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open fixture file " + path);
  std::map<std::string, Fixture> cases;
  Fixture* current = nullptr;
  std::string word;
  while (in >> word) {
    if (word == "#") {
      std::getline(in, word);
    } else if (word == "case") {
      Fixture fixture;
      in >> fixture.name;
      std::getline(in, fixture.description);
      current = &(cases[fixture.name] = fixture);
    } else {
      if (current == nullptr) throw std::runtime_error(path + ": matrix before any case");
      Eigen::Index rows = 0;
      Eigen::Index cols = 0;
      in >> rows >> cols;
      Eigen::MatrixXd m(rows, cols);
      for (Eigen::Index r = 0; r < rows; ++r) {
        for (Eigen::Index c = 0; c < cols; ++c) in >> m(r, c);
      }
      if (!in) throw std::runtime_error(path + ": truncated matrix " + word);
      current->matrices[word] = m;
    }
  }
  return cases;
}

}  // namespace tangent::test
