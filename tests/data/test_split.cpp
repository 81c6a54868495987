#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "data/split.h"
#include "tests/data/temp_dir.h"

using fer::data::Split;
using fer::data::SplitOptions;

namespace {

// 23 subjects with uneven sample counts; labels cycle so that every class is spread.
struct Toy {
  std::vector<int> labels;
  std::vector<std::string> subjects;
};

Toy make_toy(int subjects = 23, int classes = 7) {
  Toy t;
  for (int s = 0; s < subjects; ++s)
    for (int k = 0; k < 3 + (s * 5) % 7; ++k) {
      t.labels.push_back((s + k) % classes);
      t.subjects.push_back(std::string("S").append(std::to_string(s)));
    }
  return t;
}

SplitOptions options(int folds, uint64_t seed = 3, double val = 0.2) {
  SplitOptions o;
  o.folds = folds;
  o.seed = seed;
  o.val_fraction = val;
  return o;
}

}  // namespace

TEST_CASE("kfold split: subject-independent, each sample tested once, train/val/test disjoint", "[cpu][data]") {
  const Toy toy = make_toy();
  const Split split = fer::data::make_kfold_split(toy.labels, toy.subjects, options(5));
  REQUIRE(split.folds.size() == 5);
  std::vector<int> tested(toy.labels.size(), 0);
  std::map<std::string, int> fold_of_subject;
  for (size_t f = 0; f < split.folds.size(); ++f) {
    const fer::data::Fold& fold = split.folds[f];
    REQUIRE_FALSE(fold.test.empty());
    REQUIRE_FALSE(fold.val.empty());
    REQUIRE(fold.train.size() + fold.val.size() + fold.test.size() == toy.labels.size());
    std::set<std::string> test_subjects, val_subjects, train_subjects;
    for (int64_t i : fold.test) {
      ++tested[i];
      test_subjects.insert(toy.subjects[i]);
      const auto [it, fresh] = fold_of_subject.emplace(toy.subjects[i], static_cast<int>(f));
      REQUIRE(it->second == static_cast<int>(f));  // no subject in two test folds
    }
    for (int64_t i : fold.val) val_subjects.insert(toy.subjects[i]);
    for (int64_t i : fold.train) train_subjects.insert(toy.subjects[i]);
    for (const std::string& s : test_subjects) {
      REQUIRE(val_subjects.count(s) == 0);
      REQUIRE(train_subjects.count(s) == 0);
    }
    for (const std::string& s : val_subjects) REQUIRE(train_subjects.count(s) == 0);
  }
  REQUIRE(tested == std::vector<int>(toy.labels.size(), 1));
}

TEST_CASE("kfold split: stratified, each fold's class mix is near the overall mix", "[cpu][data]") {
  const Toy toy = make_toy(41, 3);
  const Split split = fer::data::make_kfold_split(toy.labels, toy.subjects, options(5));
  std::vector<double> total(3, 0);
  for (int l : toy.labels) ++total[l];
  for (const fer::data::Fold& fold : split.folds) {
    std::vector<double> counts(3, 0);
    for (int64_t i : fold.test) ++counts[toy.labels[i]];
    for (int c = 0; c < 3; ++c) REQUIRE(std::abs(counts[c] - total[c] / 5) <= 0.25 * total[c] / 5 + 2);
  }
}

TEST_CASE("kfold split: deterministic for a seed, different across seeds", "[cpu][data]") {
  const Toy toy = make_toy();
  const Split a = fer::data::make_kfold_split(toy.labels, toy.subjects, options(5, 11));
  const Split b = fer::data::make_kfold_split(toy.labels, toy.subjects, options(5, 11));
  const Split c = fer::data::make_kfold_split(toy.labels, toy.subjects, options(5, 12));
  bool differs = false;
  for (int f = 0; f < 5; ++f) {
    REQUIRE(a.folds[f].test == b.folds[f].test);
    REQUIRE(a.folds[f].val == b.folds[f].val);
    differs |= a.folds[f].test != c.folds[f].test;
  }
  REQUIRE(differs);
}

TEST_CASE("kfold split: samples without subjects are groups of one; too few subjects is an error", "[cpu][data]") {
  const std::vector<int> labels = {0, 1, 0, 1, 0};
  const Split split = fer::data::make_kfold_split(labels, std::vector<std::string>(5), options(5, 1, 0));
  for (const fer::data::Fold& f : split.folds) {
    REQUIRE(f.test.size() == 1);
    REQUIRE(f.train.size() == 4);
    REQUIRE(f.val.empty());
  }
  const std::vector<std::string> three = {"a", "a", "b", "c", "c"};
  REQUIRE_THROWS_WITH(fer::data::make_kfold_split(labels, three, options(4)),
                      Catch::Contains("3 subjects") && Catch::Contains("fewer than 4 folds"));
}

TEST_CASE("kfold split: JSON round trip and validation on load", "[cpu][data]") {
  fer::test::TempDir dir("split_json");
  const Toy toy = make_toy();
  const Split split = fer::data::make_kfold_split(toy.labels, toy.subjects, options(4, 99));
  const std::string path = dir.file("split.json");
  fer::data::save_split(path, split);
  const Split back = fer::data::load_split(path, static_cast<int64_t>(toy.labels.size()));
  REQUIRE(back.options.folds == 4);
  REQUIRE(back.options.seed == 99);
  REQUIRE(back.options.val_fraction == 0.2);
  REQUIRE(back.num_samples == split.num_samples);
  for (int f = 0; f < 4; ++f) {
    REQUIRE(back.folds[f].train == split.folds[f].train);
    REQUIRE(back.folds[f].val == split.folds[f].val);
    REQUIRE(back.folds[f].test == split.folds[f].test);
  }
  REQUIRE_THROWS_WITH(fer::data::load_split(path, 5), Catch::Contains("the dataset has 5"));
  fer::test::write_text(dir.file("bad.json"), "{\"format\": \"fer-kfold-split-1\", \"folds\": 2}");
  REQUIRE_THROWS_WITH(fer::data::load_split(dir.file("bad.json")), Catch::Contains("bad.json"));
}
