// The human side of a RUNDIR: SVG plots (plots/) of the losses and accuracies per epoch (whole-
// number epoch ticks; a one-epoch stage is a point) and of the pooled confusion matrix (a heat map:
// class names on both axes, counts on shades of the row's share, recall per class), and one
// self-contained report.html (sample grids inlined as data URIs under their column names, plots
// inlined as SVG) that shows the run time, the per-fold and mean±std accuracies, the data (size,
// subjects, split kind, skipped files), the confusion matrix, the plots, the sample grids and
// the configuration.
// Everything is rebuilt from config.json, metrics.jsonl and summary.json, so `fer eval` can redo it.
// The ablation's report (write_comparison_report) is built the same way from comparison.json.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace fer::train {

// "5-fold cross-validation, subject-independent", or "the data's own fixed split, not
// subject-independent (the data has no subject IDs)": from summary.json's "data" object.
std::string split_description(const nlohmann::json& data);
// "5 subject-independent folds", or "5 folds, not subject-independent (the data has no subject
// IDs)": from comparison.json's folds and subject_independent (fer ablate).
std::string ablation_folds_text(const nlohmann::json& comparison);

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y)
};

// A line plot with axes, ticks and a legend, as a standalone <svg> element. x is a whole number
// (an epoch, a unit) and its ticks fall on whole numbers; a series of one point is drawn as a dot.
std::string svg_line_plot(const std::string& title, const std::string& x_label,
                          const std::vector<PlotSeries>& series);

void write_report(const std::string& run_dir);

// OUT/report.html of `fer ablate` (train/ablate.h), from OUT/comparison.json and the unit run
// folders: the table of train/ablate.h's comparison_table, the units' summed run time, the data
// (comparison.json's, from the first unit), accuracy per mode with its 95% interval, accuracy per unit and mode (a line per mode), per-class recall per mode, and the last sample
// grids of stage 1 and stage 2 of each generator mode's first unit.
void write_comparison_report(const std::string& ablation_dir);

}  // namespace fer::train
