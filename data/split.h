// Subject-independent, stratified k-fold splits with an inner validation split.
//
// Samples are grouped by subject (a sample without a subject is a group of its own), so no
// subject appears in two folds. Groups are dealt to folds largest first: the k largest open one
// fold each, every later group goes to the fold where it increases the squared deviation from
// the per-class target (class total / k) least, ties to the smaller fold, then the lower index.
// Group order before the size sort is a seeded shuffle, so a seed fixes the split. Each fold's
// validation set is made the same way from its training subjects only (round(1 / val_fraction)
// parts, the first part is validation), so model selection never sees the test fold.
// A fixed split is the data's own (manifest split column, FER2013 Usage): one fold whose parts
// are the samples' split values; without validation rows the validation set is made from the
// training rows' subjects as above. It must have training and test rows, and no subject in the
// test part may also be in the training or validation part.
// Splits are saved as JSON so that a run can be reproduced exactly.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace fer::data {

struct SplitOptions {
  int folds = 10;
  double val_fraction = 0.1;  // of the training subjects; 0 leaves validation empty
  uint64_t seed = 0;
};

struct Fold {
  std::vector<int64_t> train, val, test;  // sample indices, ascending
};

enum class SplitKind { KFold, Fixed };
const char* split_kind_name(SplitKind kind);  // "kfold", "fixed"

struct Split {
  SplitOptions options;  // folds is 1 for a fixed split
  SplitKind kind = SplitKind::KFold;
  int64_t num_samples = 0;
  std::vector<Fold> folds;
};

// The parts a fold's training subjects are dealt into for validation: max(2, round(1 / val_fraction)),
// 0 when val_fraction is 0. With fewer training subjects than parts, validation stays empty.
int validation_parts(double val_fraction);

// labels[i] in [0, num_classes), subjects[i] possibly empty. Throws when there are fewer
// subjects than folds.
Split make_kfold_split(const std::vector<int>& labels, const std::vector<std::string>& subjects, const SplitOptions& options);
Split make_kfold_split(const Dataset& dataset, const SplitOptions& options);
// options.folds is not used (a fixed split has one fold). Throws naming a sample without a split
// value, and a test subject that is also in the training or validation part.
Split make_fixed_split(const Dataset& dataset, const SplitOptions& options);

void save_split(const std::string& path, const Split& split);
// Throws naming the file when it is not a valid split, or (expected_samples >= 0) when it was
// made for a dataset of another size.
Split load_split(const std::string& path, int64_t expected_samples = -1);

}  // namespace fer::data
