// k-fold splitting and its JSON form. See split.h for the algorithm.
#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/files.h"
#include "kernels/common/random.h"

namespace fer::data {

namespace {

struct Group {
  std::vector<int64_t> samples;
  std::vector<int64_t> class_counts;
};

// Groups the given samples by subject, in order of first appearance.
std::vector<Group> group_by_subject(const std::vector<int64_t>& indices, const std::vector<int>& labels,
                                    const std::vector<std::string>& subjects, int num_classes) {
  std::vector<Group> groups;
  std::map<std::string, size_t> by_subject;
  for (int64_t i : indices) {
    size_t g = groups.size();
    if (!subjects[i].empty()) g = by_subject.emplace(subjects[i], groups.size()).first->second;
    if (g == groups.size()) groups.push_back(Group{{}, std::vector<int64_t>(num_classes, 0)});
    groups[g].samples.push_back(i);
    ++groups[g].class_counts[labels[i]];
  }
  return groups;
}

// Part index of each group (see split.h): seeded shuffle, largest first, least deviation.
std::vector<int> deal_groups(const std::vector<Group>& groups, int parts, uint64_t seed) {
  const size_t n = groups.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[random_bits(seed, i) % i]);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return groups[a].samples.size() > groups[b].samples.size(); });

  const size_t classes = groups.empty() ? 0 : groups[0].class_counts.size();
  std::vector<double> target(classes, 0);
  for (const Group& g : groups)
    for (size_t c = 0; c < classes; ++c) target[c] += static_cast<double>(g.class_counts[c]) / parts;
  std::vector<int64_t> counts(parts * classes, 0);  // [part][class]
  std::vector<int64_t> sizes(parts, 0);
  std::vector<int> part_of(n, 0);
  for (size_t rank = 0; rank < n; ++rank) {
    const Group& g = groups[order[rank]];
    int best = static_cast<int>(rank);  // the first `parts` groups open one part each
    if (rank >= static_cast<size_t>(parts)) {
      double best_cost = 0;
      for (int p = 0; p < parts; ++p) {
        double cost = 0;
        for (size_t c = 0; c < classes; ++c) {
          const double before = counts[p * classes + c] - target[c], after = before + g.class_counts[c];
          cost += after * after - before * before;
        }
        if (p == 0 || cost < best_cost || (cost == best_cost && sizes[p] < sizes[best])) best = p, best_cost = cost;
      }
    }
    part_of[order[rank]] = best;
    sizes[best] += static_cast<int64_t>(g.samples.size());
    for (size_t c = 0; c < classes; ++c) counts[best * classes + c] += g.class_counts[c];
  }
  return part_of;
}

void append_sorted(std::vector<int64_t>& out, const std::vector<int64_t>& more) {
  out.insert(out.end(), more.begin(), more.end());
  std::sort(out.begin(), out.end());
}

// Splits `train` into the fold's validation part (the first of round(1 / val_fraction) parts of
// its subjects) and training part; validation stays empty when there are fewer subjects than parts.
void split_validation(const std::vector<int64_t>& train, const std::vector<int>& labels,
                      const std::vector<std::string>& subjects, int num_classes, const SplitOptions& o, uint64_t salt,
                      Fold& fold) {
  const std::vector<Group> train_groups = group_by_subject(train, labels, subjects, num_classes);
  const int val_parts = validation_parts(o.val_fraction);
  if (val_parts == 0 || static_cast<int>(train_groups.size()) < val_parts) {
    fold.train = train;
    return;
  }
  const std::vector<int> part_of = deal_groups(train_groups, val_parts, mix64(o.seed ^ salt));
  for (size_t g = 0; g < train_groups.size(); ++g) append_sorted(part_of[g] == 0 ? fold.val : fold.train, train_groups[g].samples);
}

int class_count(const std::vector<int>& labels) {
  int num_classes = 0;
  for (int l : labels) {
    FER_CHECK(l >= 0) << "split: negative label " << l;
    num_classes = std::max(num_classes, l + 1);
  }
  return num_classes;
}

void check_options(const SplitOptions& o) {
  FER_CHECK(o.val_fraction >= 0 && o.val_fraction < 1) << "protocol.val_fraction must be in [0, 1), got " << o.val_fraction;
}

// "a.png (line 3)", or "line 3" for FER2013 rows, or the path alone: one sample, for a person.
std::string sample_name(const Sample& s) {
  if (s.path.empty()) return "line " + std::to_string(s.line);
  return s.line > 0 ? s.path + " (line " + std::to_string(s.line) + ")" : s.path;
}

// A fixed split is subject-independent when no test subject is also trained or validated on.
void check_test_subjects(const Dataset& dataset, const Fold& fold) {
  std::map<std::string, int64_t> seen;  // subject -> a training or validation sample
  for (const std::vector<int64_t>* part : {&fold.train, &fold.val})
    for (int64_t i : *part)
      if (!dataset.samples[i].subject.empty()) seen.emplace(dataset.samples[i].subject, i);
  for (int64_t i : fold.test) {
    const auto it = seen.find(dataset.samples[i].subject);
    FER_CHECK(it == seen.end()) << "fixed split: subject " << it->first << " is in the test part ("
                                << sample_name(dataset.samples[i]) << ") and trained or validated on ("
                                << sample_name(dataset.samples[it->second])
                                << "): the split column is not subject-independent";
  }
}

}  // namespace

Split make_kfold_split(const std::vector<int>& labels, const std::vector<std::string>& subjects, const SplitOptions& o) {
  FER_CHECK(labels.size() == subjects.size()) << "kfold split: " << labels.size() << " labels but " << subjects.size() << " subjects";
  FER_CHECK(o.folds >= 2) << "kfold split: need at least 2 folds, got " << o.folds;
  check_options(o);
  const int num_classes = class_count(labels);
  std::vector<int64_t> all(labels.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  const std::vector<Group> groups = group_by_subject(all, labels, subjects, num_classes);
  FER_CHECK(static_cast<int>(groups.size()) >= o.folds)
      << "kfold split: " << groups.size() << " subjects (samples without a subject count one each) is fewer than "
      << o.folds << " folds; a subject-independent split needs at least one subject per fold";
  const std::vector<int> fold_of = deal_groups(groups, o.folds, mix64(o.seed));

  Split split{o, SplitKind::KFold, static_cast<int64_t>(labels.size()), std::vector<Fold>(o.folds)};
  for (int f = 0; f < o.folds; ++f) {
    std::vector<int64_t> train, test;
    for (size_t g = 0; g < groups.size(); ++g) append_sorted(fold_of[g] == f ? test : train, groups[g].samples);
    split.folds[f].test = test;
    split_validation(train, labels, subjects, num_classes, o, 0x5A17ull + static_cast<uint64_t>(f), split.folds[f]);
  }
  return split;
}

Split make_kfold_split(const Dataset& dataset, const SplitOptions& options) {
  std::vector<int> labels;
  std::vector<std::string> subjects;
  for (const Sample& s : dataset.samples) {
    labels.push_back(s.label);
    subjects.push_back(s.subject);
  }
  return make_kfold_split(labels, subjects, options);
}

Split make_fixed_split(const Dataset& dataset, const SplitOptions& o) {
  check_options(o);
  std::vector<int> labels;
  std::vector<std::string> subjects;
  std::vector<int64_t> train, val, test;
  for (size_t i = 0; i < dataset.samples.size(); ++i) {
    const Sample& s = dataset.samples[i];
    FER_CHECK(!s.split.empty()) << "fixed split: " << sample_name(s)
                                << " has no split value (manifest: the split column; FER2013: Usage)";
    const SplitPart part = split_part(s.split, "fixed split: " + sample_name(s));
    (part == SplitPart::Train ? train : part == SplitPart::Val ? val : test).push_back(static_cast<int64_t>(i));
    labels.push_back(s.label);
    subjects.push_back(s.subject);
  }
  FER_CHECK(!train.empty() && !test.empty()) << "fixed split: " << train.size() << " training and " << test.size()
                                              << " test samples; the split values must name both (train, test)";
  SplitOptions options = o;
  options.folds = 1;
  Split split{options, SplitKind::Fixed, static_cast<int64_t>(dataset.samples.size()), std::vector<Fold>(1)};
  Fold& fold = split.folds[0];
  fold.test = test;
  if (val.empty()) {
    split_validation(train, labels, subjects, class_count(labels), o, 0x5A17ull, fold);
  } else {
    fold.train = train;
    fold.val = val;
  }
  check_test_subjects(dataset, fold);
  return split;
}

int validation_parts(double val_fraction) {
  return val_fraction > 0 ? std::max(2, static_cast<int>(std::lround(1 / val_fraction))) : 0;
}

const char* split_kind_name(SplitKind kind) { return kind == SplitKind::Fixed ? "fixed" : "kfold"; }

void save_split(const std::string& path, const Split& split) {
  nlohmann::json j;
  j["format"] = "fer-kfold-split-1";
  j["kind"] = split_kind_name(split.kind);
  j["folds"] = split.options.folds;
  j["val_fraction"] = split.options.val_fraction;
  j["seed"] = split.options.seed;
  j["num_samples"] = split.num_samples;
  for (const Fold& f : split.folds) j["fold"].push_back({{"train", f.train}, {"val", f.val}, {"test", f.test}});
  write_file_atomically(path, j.dump(1) + "\n");
}

Split load_split(const std::string& path, int64_t expected_samples) {
  std::ifstream in(path);
  FER_CHECK(in) << "split file " << path << ": cannot open it";
  Split split;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    FER_CHECK(j.at("format") == "fer-kfold-split-1")
        << "split file " << path << ": not a fer split (its format field is not fer-kfold-split-1)";
    const std::string kind = j.value("kind", "kfold");
    FER_CHECK(kind == "kfold" || kind == "fixed") << "split file " << path << ": kind '" << kind << "' is not kfold or fixed";
    split.kind = kind == "fixed" ? SplitKind::Fixed : SplitKind::KFold;
    split.options.folds = j.at("folds").get<int>();
    split.options.val_fraction = j.at("val_fraction").get<double>();
    split.options.seed = j.at("seed").get<uint64_t>();
    split.num_samples = j.at("num_samples").get<int64_t>();
    for (const nlohmann::json& f : j.at("fold"))
      split.folds.push_back(Fold{f.at("train").get<std::vector<int64_t>>(), f.at("val").get<std::vector<int64_t>>(),
                                 f.at("test").get<std::vector<int64_t>>()});
  } catch (const nlohmann::json::exception& e) {
    FER_THROW() << "split file " << path << ": " << e.what();
  }
  FER_CHECK(static_cast<int>(split.folds.size()) == split.options.folds)
      << "split file " << path << ": " << split.folds.size() << " folds listed, " << split.options.folds << " declared";
  for (const Fold& f : split.folds)
    for (const std::vector<int64_t>* part : {&f.train, &f.val, &f.test})
      for (int64_t i : *part)
        FER_CHECK(i >= 0 && i < split.num_samples) << "split file " << path << ": sample index " << i << " outside [0, " << split.num_samples << ")";
  FER_CHECK(expected_samples < 0 || expected_samples == split.num_samples)
      << "split file " << path << " was made for " << split.num_samples << " samples, the dataset has " << expected_samples;
  return split;
}

}  // namespace fer::data
