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

namespace {

// A dataset in memory: sample i has the given subject and split value, label i % 2.
fer::data::Dataset split_dataset(const std::vector<std::pair<std::string, std::string>>& subject_split) {
  fer::data::Dataset ds;
  ds.class_names = {"anger", "happiness"};
  ds.has_subjects = true;
  for (size_t i = 0; i < subject_split.size(); ++i) {
    fer::data::Sample s;
    s.path = "img" + std::to_string(i) + ".png";
    s.label = static_cast<int>(i % 2);
    s.subject = subject_split[i].first;
    s.split = subject_split[i].second;
    s.line = static_cast<int64_t>(i) + 2;
    ds.samples.push_back(s);
  }
  return ds;
}

}  // namespace

TEST_CASE("fixed split: the split values are the parts; test rows are never trained on", "[cpu][data]") {
  const auto ds = split_dataset({{"A", "train"}, {"A", "Training"}, {"B", "valid"}, {"C", "test"}, {"C", "PrivateTest"},
                                 {"D", "PublicTest"}, {"E", "train"}});
  const Split split = fer::data::make_fixed_split(ds, options(5, 1, 0.25));
  REQUIRE(split.kind == fer::data::SplitKind::Fixed);
  REQUIRE(split.folds.size() == 1);
  REQUIRE(split.folds[0].train == std::vector<int64_t>{0, 1, 6});
  REQUIRE(split.folds[0].val == std::vector<int64_t>{2, 5});
  REQUIRE(split.folds[0].test == std::vector<int64_t>{3, 4});

  // Without validation rows, validation is dealt from the training subjects (here 2 parts).
  const auto no_val = split_dataset({{"A", "train"}, {"B", "train"}, {"B", "train"}, {"C", "train"}, {"D", "test"}});
  const fer::data::Fold fold = fer::data::make_fixed_split(no_val, options(5, 1, 0.5)).folds[0];
  REQUIRE(fold.test == std::vector<int64_t>{4});
  REQUIRE_FALSE(fold.val.empty());
  REQUIRE(fold.train.size() + fold.val.size() == 4);
  std::set<std::string> train_subjects;
  for (int64_t i : fold.train) train_subjects.insert(no_val.samples[i].subject);
  for (int64_t i : fold.val) REQUIRE(train_subjects.count(no_val.samples[i].subject) == 0);

  fer::test::TempDir dir("fixed_json");
  fer::data::save_split(dir.file("split.json"), split);
  const Split back = fer::data::load_split(dir.file("split.json"), 7);
  REQUIRE(back.kind == fer::data::SplitKind::Fixed);
  REQUIRE(back.folds[0].test == split.folds[0].test);
}

TEST_CASE("fixed split errors: a subject in train and test, a row without a value, no test rows, unknown values", "[cpu][data]") {
  REQUIRE_THROWS_WITH(fer::data::make_fixed_split(split_dataset({{"A", "train"}, {"B", "train"}, {"A", "test"}}), options(5)),
                      Catch::Contains("subject A is in the test part (img2.png (line 4))") &&
                          Catch::Contains("img0.png (line 2)") && Catch::Contains("not subject-independent"));
  REQUIRE_THROWS_WITH(fer::data::make_fixed_split(split_dataset({{"A", "train"}, {"B", ""}, {"C", "test"}}), options(5)),
                      Catch::Contains("img1.png (line 3) has no split value"));
  REQUIRE_THROWS_WITH(fer::data::make_fixed_split(split_dataset({{"A", "train"}, {"B", "valid"}}), options(5)),
                      Catch::Contains("1 training and 0 test samples"));
  REQUIRE_THROWS_WITH(fer::data::split_part("holdout", "m.csv: line 7"),
                      Catch::Contains("m.csv: line 7: split value 'holdout'") && Catch::Contains("PrivateTest"));
}
