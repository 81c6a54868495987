#include "train/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/files.h"
#include "kernels/common/error.h"

namespace fer::train {

namespace fs = std::filesystem;

namespace {

const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  FER_CHECK(in.good()) << "cannot read " << path.string();
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string base64(const std::string& bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += table[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (i + 1 < bytes.size() ? uint8_t(bytes[i + 1]) << 8 : 0);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? table[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// The width in pixels that a PNG's header (IHDR, bytes 16..19, big-endian) gives.
int64_t png_width(const std::string& png) {
  FER_CHECK(png.size() >= 24) << "a sample grid of " << png.size() << " bytes is too short for a PNG header";
  int64_t width = 0;
  for (size_t i = 16; i < 20; ++i) width = width * 256 + static_cast<uint8_t>(png[i]);
  return width;
}

std::string png_tag(const std::string& png, const std::string& alt, int64_t display_width) {
  return "<img alt=\"" + alt + "\" width=\"" + std::to_string(display_width) + "\" src=\"data:image/png;base64," +
         base64(png) + "\">";
}

std::string fixed(double v, int digits = 2) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

std::vector<nlohmann::json> read_metrics(const fs::path& path) {
  std::vector<nlohmann::json> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) records.push_back(nlohmann::json::parse(line));
  return records;
}

// The pooled confusion matrix as a heat map: true classes in rows, predicted in columns, each
// cell's count written on a shade of its share of the row (the row's recall on the diagonal),
// and each row's recall at its right.
std::string svg_confusion(const nlohmann::json& pooled, const std::vector<std::string>& classes) {
  const auto rows = pooled.at("confusion").get<std::vector<std::vector<int64_t>>>();
  const auto recall = pooled.at("recall").get<std::vector<double>>();
  size_t longest = 0;
  for (const std::string& c : classes) longest = std::max(longest, c.size());
  const double cell = std::max<double>(44, 7.0 * static_cast<double>(longest) + 8), left = 36 + 7.0 * longest, top = 56;
  const double k = static_cast<double>(rows.size()), W = left + cell * k + 70, H = top + cell * k + 12;
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << left + cell * k / 2 << "\" y=\"16\" text-anchor=\"middle\" font-weight=\"bold\">predicted</text>\n"
    << "<text transform=\"translate(14," << top + cell * k / 2 << ") rotate(-90)\" text-anchor=\"middle\" "
    << "font-weight=\"bold\">true</text>\n<text x=\"" << left + cell * k + 35 << "\" y=\"" << top - 8
    << "\" text-anchor=\"middle\">recall</text>\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const double at = static_cast<double>(i);
    s << "<text x=\"" << left + cell * (at + 0.5) << "\" y=\"" << top - 8 << "\" text-anchor=\"middle\">" << classes[i]
      << "</text><text x=\"" << left - 6 << "\" y=\"" << top + cell * (at + 0.5) + 4 << "\" text-anchor=\"end\">"
      << classes[i] << "</text>\n";
  }
  for (size_t t = 0; t < rows.size(); ++t) {
    int64_t total = 0;
    for (int64_t c : rows[t]) total += c;
    for (size_t p = 0; p < rows.size(); ++p) {
      const double share = total ? static_cast<double>(rows[t][p]) / static_cast<double>(total) : 0;
      const auto channel = [&](int dark) { return std::lround(255 - share * (255 - dark)); };  // white to dark blue
      const double x = left + cell * static_cast<double>(p), y = top + cell * static_cast<double>(t);
      s << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << cell << "\" height=\"" << cell << "\" fill=\"rgb("
        << channel(8) << "," << channel(48) << "," << channel(107) << ")\" stroke=\"#ccc\"/><text x=\"" << x + cell / 2
        << "\" y=\"" << y + cell / 2 + 4 << "\" text-anchor=\"middle\" fill=\"" << (share > 0.5 ? "white" : "black")
        << "\">" << rows[t][p] << "</text>\n";
    }
    s << "<text x=\"" << left + cell * k + 35 << "\" y=\"" << top + cell * (static_cast<double>(t) + 0.5) + 4
      << "\" text-anchor=\"middle\">" << fixed(100 * recall[t], 1) << "%</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

// The newest sample grid of each (fold, stage) of a run's metrics: "fold 0, stage1" -> path.
std::map<std::string, std::string> last_samples(const std::vector<nlohmann::json>& metrics) {
  std::map<std::string, std::string> last;
  for (const nlohmann::json& r : metrics)
    if (r.contains("samples"))
      last["fold " + std::to_string(r.at("fold").get<int64_t>()) + ", " + r.at("stage").get<std::string>()] = r["samples"];
  return last;
}

// A sample grid (FoldTrainer::write_samples: columns x, x_rec, then x_hat per expression; the
// PNG itself has no text) under a row of its column names, scaled by a whole factor so that each
// column is at least 64 pixels wide.
std::string sample_grid_html(const fs::path& path, const std::string& title, const std::vector<std::string>& classes) {
  std::vector<std::string> columns = {"x", "x_rec"};
  columns.insert(columns.end(), classes.begin(), classes.end());
  const std::string png = read_file(path);
  const int64_t width = png_width(png), count = static_cast<int64_t>(columns.size());
  const int64_t scale = std::max<int64_t>(2, (64 * count + width - 1) / std::max<int64_t>(1, width));
  std::ostringstream h;
  h << "<h3>" << title << "</h3><div class=\"grid\"><div class=\"columns\" style=\"grid-template-columns:repeat("
    << count << ",1fr)\">";
  for (const std::string& c : columns) h << "<span>" << c << "</span>";
  h << "</div>" << png_tag(png, title, width * scale) << "</div>\n";
  return h.str();
}

const char* const kStyle =
    "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}img{image-rendering:pixelated}"
    "svg{margin:4px;border:1px solid #eee;vertical-align:top}pre{background:#f6f6f6;padding:1em}"
    ".grid{display:inline-block;margin:4px;border:1px solid #ccc}.grid img{display:block}"
    ".columns{display:grid;font-size:11px;text-align:center;overflow-wrap:anywhere;padding:2px 0}";

// One row per label: a dot at the mean and a bar over [low, high], on a common horizontal axis.
std::string svg_interval_plot(const std::string& title, const std::vector<std::string>& labels,
                              const std::vector<double>& means, const std::vector<double>& lows,
                              const std::vector<double>& highs) {
  const double W = 560, row = 26, left = 110, right = 30, top = 34, bottom = 30;
  const double H = top + bottom + row * static_cast<double>(labels.size());
  double x0 = 1e300, x1 = -1e300;
  for (size_t i = 0; i < labels.size(); ++i) x0 = std::min(x0, lows[i]), x1 = std::max(x1, highs[i]);
  if (!(x0 < x1)) x0 -= 0.01, x1 += 0.01;
  const double pad = 0.05 * (x1 - x0);
  x0 -= pad, x1 += pad;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (W - left - right); };
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"10\" y=\"18\" font-size=\"13\">" << title << "</text>\n";
  for (int i = 0; i <= 4; ++i) {
    const double x = x0 + (x1 - x0) * i / 4;
    s << "<line x1=\"" << px(x) << "\" x2=\"" << px(x) << "\" y1=\"" << top - 6 << "\" y2=\"" << H - bottom
      << "\" stroke=\"#ddd\"/><text x=\"" << px(x) << "\" y=\"" << H - bottom + 15 << "\" text-anchor=\"middle\">"
      << fixed(100 * x, 1) << "%</text>\n";
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    const double y = top + row * (static_cast<double>(i) + 0.5);
    const char* color = kColors[i % 8];
    s << "<text x=\"" << left - 8 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">" << labels[i] << "</text>"
      << "<line x1=\"" << px(lows[i]) << "\" x2=\"" << px(highs[i]) << "\" y1=\"" << y << "\" y2=\"" << y
      << "\" stroke=\"" << color << "\" stroke-width=\"3\"/><circle cx=\"" << px(means[i]) << "\" cy=\"" << y
      << "\" r=\"5\" fill=\"" << color << "\"/>\n";
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace

std::string svg_line_plot(const std::string& title, const std::string& x_label, const std::vector<PlotSeries>& series) {
  const double W = 520, H = 300, left = 60, right = 150, top = 30, bottom = 40;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& s : series)
    for (auto [x, y] : s.points) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;  // one epoch: its point in the middle, over its tick
  if (y1 == y0) {  // flat: a band around the value, which keeps an accuracy's ticks in range
    const double pad = std::max(0.1 * std::abs(y0), 0.01);
    y0 -= pad, y1 += pad;
  }
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (W - left - right); };
  auto py = [&](double y) { return H - bottom - (y - y0) / (y1 - y0) * (H - top - bottom); };
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << left << "\" y=\"18\" font-size=\"13\">" << title << "</text>\n";
  for (int i = 0; i <= 4; ++i) {
    const double y = y0 + (y1 - y0) * i / 4;
    s << "<line x1=\"" << left << "\" x2=\"" << W - right << "\" y1=\"" << py(y) << "\" y2=\"" << py(y)
      << "\" stroke=\"#ddd\"/><text x=\"" << left - 5 << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\">"
      << fixed(y, 3) << "</text>\n";
  }
  const auto x_step = std::max<int64_t>(1, static_cast<int64_t>(std::ceil((x1 - x0) / 5)));
  for (auto x = static_cast<int64_t>(std::ceil(x0)); static_cast<double>(x) <= x1; x += x_step)
    s << "<text x=\"" << px(static_cast<double>(x)) << "\" y=\"" << H - bottom + 15 << "\" text-anchor=\"middle\">" << x
      << "</text>\n";
  s << "<text x=\"" << (left + W - right) / 2 << "\" y=\"" << H - 8 << "\" text-anchor=\"middle\">" << x_label << "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const char* color = kColors[i % 8];
    if (series[i].points.size() == 1)  // a line needs two points
      s << "<circle cx=\"" << px(series[i].points[0].first) << "\" cy=\"" << py(series[i].points[0].second)
        << "\" r=\"3\" fill=\"" << color << "\"/>\n";
    s << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
    for (auto [x, y] : series[i].points) s << px(x) << "," << py(y) << " ";
    s << "\"/>\n<text x=\"" << W - right + 10 << "\" y=\"" << top + 14 * i + 10 << "\" fill=\"" << color << "\">"
      << series[i].name << "</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

std::string split_description(const nlohmann::json& data) {
  const std::string kind = data.at("split") == "fixed" ? "the data's own fixed split"
                                                       : std::to_string(data.at("folds").get<int64_t>()) + "-fold cross-validation";
  return kind + (data.at("subject_independent").get<bool>() ? ", subject-independent"
                                                            : ", not subject-independent (the data has no subject IDs)");
}

std::string ablation_folds_text(const nlohmann::json& c) {
  const std::string folds = std::to_string(c.at("folds").get<int64_t>());
  return c.at("subject_independent").get<bool>() ? folds + " subject-independent folds"
                                                 : folds + " folds, not subject-independent (the data has no subject IDs)";
}

namespace {

// Text for HTML: file names in the data section may hold any character.
std::string html_text(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : std::string(1, c);
  return out;
}

// The data section: size, subjects, split kind, and what loading left out (summary.json "data").
std::string data_html(const nlohmann::json& data, size_t classes) {
  std::ostringstream h;
  h << "<h2>Data</h2>\n<p>" << data.at("images") << " images of " << classes << " classes, " << data.at("subjects")
    << " subjects (" << data.at("format").get<std::string>() << ", " << html_text(data.at("path").get<std::string>())
    << "). Split: " << split_description(data) << ". Skipped files: " << data.at("skipped") << ".</p>\n";
  if (!data.at("skipped_files").empty()) {
    h << "<ul>";
    for (const nlohmann::json& f : data.at("skipped_files")) h << "<li>" << html_text(f.get<std::string>()) << "</li>";
    h << "</ul>\n";
  }
  return h.str();
}

// The loss, accuracy and judge curves of each (fold, stage) by epoch, written to plots/ and
// returned as inline SVG.
std::string curves_html(const fs::path& dir, const std::vector<nlohmann::json>& metrics) {
  struct Plot {
    std::string title;
    std::map<std::string, PlotSeries> series;
  };
  std::map<std::string, Plot> plots;  // by file name
  auto add = [&](const std::string& kind, const nlohmann::json& r, const std::string& series, double epoch, double value) {
    const std::string fold = std::to_string(r.at("fold").get<int64_t>()), stage = r.at("stage");
    Plot& plot = plots[kind + "_fold" + fold + "_" + stage];
    plot.title = kind + " (fold " + fold + ", " + stage + ")";
    plot.series[series].name = series;
    plot.series[series].points.push_back({epoch, value});
  };
  for (const nlohmann::json& r : metrics) {
    const double epoch = r.at("epoch").get<double>() + 1;
    if (r.contains("loss"))
      for (auto it = r["loss"].begin(); it != r["loss"].end(); ++it) add("losses", r, it.key(), epoch, it.value());
    if (r.contains("synthesis"))  // the judge's scores of G's faces (train/synthesis.h)
      for (auto it = r["synthesis"].begin(); it != r["synthesis"].end(); ++it)
        if (!it.value().is_null()) add("synthesis", r, it.key(), epoch, it.value());
    for (const char* acc : {"train_accuracy", "val_accuracy"})
      if (r.contains(acc)) add("accuracy", r, acc, epoch, r[acc]);
  }
  std::ostringstream html;
  for (const auto& [name, plot] : plots) {
    std::vector<PlotSeries> series;
    for (const auto& [_, s] : plot.series) series.push_back(s);
    const std::string svg = svg_line_plot(plot.title, "epoch", series);
    write_file_atomically((dir / "plots" / (name + ".svg")).string(), svg);
    html << svg;
  }
  return html.str();
}

std::string fold_table(const nlohmann::json& summary) {
  std::ostringstream h;
  h << "<table><tr><th>fold</th><th>test accuracy</th><th>test images</th><th>best epoch</th>"
       "<th>validation accuracy</th></tr>";
  for (const nlohmann::json& f : summary.at("folds"))
    h << "<tr><td>" << f.at("fold") << "</td><td>" << fixed(100 * f.at("accuracy").get<double>()) << "%</td><td>"
      << f.at("test_images") << "</td><td>" << f.at("best_epoch").get<int64_t>() + 1 << "</td><td>"
      << fixed(100 * f.at("best_val_accuracy").get<double>()) << "%</td></tr>";
  h << "</table>\n";
  return h.str();
}

// "0.8 s", "45 s", "3 min 05 s", "2 h 07 min".
std::string duration_text(double seconds) {
  const auto s = static_cast<int64_t>(std::lround(seconds));
  char text[48];
  if (seconds < 9.95)
    std::snprintf(text, sizeof text, "%.1f s", seconds);
  else if (s < 60)
    std::snprintf(text, sizeof text, "%lld s", static_cast<long long>(s));
  else if (s < 3600)
    std::snprintf(text, sizeof text, "%lld min %02lld s", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else
    std::snprintf(text, sizeof text, "%lld h %02lld min", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  return text;
}

std::string run_time_html(const nlohmann::json& summary) {
  return "<p>Run time: " + duration_text(summary.at("run_seconds").get<double>()) + " (wall time of the fer train" +
         (summary.at("resumed").get<bool>() ? " --resume command that finished the run)" : " command)") + ".</p>\n";
}

std::string samples_html(const fs::path& run, const std::string& title_prefix, const std::vector<std::string>& classes) {
  std::ostringstream h;
  for (const auto& [key, path] : last_samples(read_metrics(run / "metrics.jsonl")))
    if (fs::exists(run / path)) h << sample_grid_html(run / path, title_prefix + key, classes);
  return h.str();
}

// `fer train --profile`'s profile.json as tables: phases by wall time, the 15 costliest kernels.
std::string profile_html(const fs::path& path) {
  if (!fs::exists(path)) return "";
  const nlohmann::json profile = nlohmann::json::parse(read_file(path));
  const double wall = profile.at("wall_seconds").get<double>();
  std::vector<nlohmann::json> phases = profile.at("phases");
  std::sort(phases.begin(), phases.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a.at("wall_seconds").get<double>() > b.at("wall_seconds").get<double>();
  });
  std::ostringstream h;
  h << "<h2>Where the time went (--profile)</h2>\n<p>" << duration_text(wall) << " of wall time, "
    << duration_text(profile.at("cpu_seconds").get<double>()) << " of CPU time (all threads). Each phase's "
    << "own time, without the phases inside it; profile.json holds every number.</p>\n"
    << "<table><tr><th>phase</th><th>wall s</th><th>share</th><th>CPU s</th><th>entered</th></tr>";
  for (const nlohmann::json& p : phases)
    h << "<tr><td>" << p.at("name").get<std::string>() << "</td><td>" << fixed(p.at("wall_seconds").get<double>())
      << "</td><td>" << fixed(wall > 0 ? 100 * p.at("wall_seconds").get<double>() / wall : 0, 1) << "%</td><td>"
      << fixed(p.at("cpu_seconds").get<double>()) << "</td><td>" << p.at("entries") << "</td></tr>";
  h << "</table>\n<table><tr><th>kernel</th><th>shape</th><th>calls</th><th>ms in all</th></tr>";
  const nlohmann::json& kernels = profile.at("kernels");
  for (size_t i = 0; i < std::min<size_t>(15, kernels.size()); ++i)
    h << "<tr><td>" << kernels[i].at("op").get<std::string>() << "</td><td>"
      << html_text(kernels[i].at("detail").get<std::string>()) << "</td><td>" << kernels[i].at("calls")
      << "</td><td>" << fixed(kernels[i].at("total_ms").get<double>(), 1) << "</td></tr>";
  h << "</table>\n";
  return h.str();
}

}  // namespace

void write_report(const std::string& run_dir) {
  const fs::path dir = run_dir;
  const nlohmann::json summary = nlohmann::json::parse(read_file(dir / "summary.json"));
  const nlohmann::json config = nlohmann::json::parse(read_file(dir / "config.json"));
  const auto classes = summary.at("classes").get<std::vector<std::string>>();
  fs::create_directories(dir / "plots");
  const std::string curves = curves_html(dir, read_metrics(dir / "metrics.jsonl"));

  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>fer run: " << summary.at("mode").get<std::string>()
    << "</title><style>" << kStyle << "</style></head><body>\n"
    << "<h1>fer run: mode " << summary.at("mode").get<std::string>() << "</h1>\n" << run_time_html(summary)
    << "<h2>Accuracy</h2>\n<p>Mean over " << summary.at("folds").size() << " test fold(s): <b>"
    << fixed(100 * summary.at("mean_accuracy").get<double>()) << "% ± "
    << fixed(100 * summary.at("std_accuracy").get<double>()) << "%</b> (model selected on the validation split)</p>\n"
    << fold_table(summary) << data_html(summary.at("data"), classes.size())
    << "<h2>Confusion matrix (all test folds pooled)</h2>\n";
  if (!summary.at("folds").empty()) {
    const std::string svg = svg_confusion(summary.at("pooled"), classes);
    write_file_atomically((dir / "plots" / "confusion.svg").string(), svg);
    h << svg;
  }
  h << "\n<h2>Training curves</h2>\n" << curves << "\n<h2>Samples (last epoch of each stage)</h2>\n"
    << "<p>Rows: a validation face x, its reconstruction x_rec, then x_hat for each expression (the columns); "
    << "the lower rows show new identities from the prior, x_pf, for each expression.</p>\n"
    << samples_html(dir, "", classes) << profile_html(dir / "profile.json") << "<h2>Configuration</h2><pre>" << config.dump(2) << "</pre></body></html>\n";
  write_file_atomically((dir / "report.html").string(), h.str());
}

}  // namespace fer::train

namespace fer::train {

namespace {

std::string signed_points(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%+.2f", 100 * v);
  return text;
}

std::string comparison_html_table(const nlohmann::json& c) {
  std::ostringstream h;
  const std::string reference = c.at("reference");
  h << "<table><tr><th>mode</th><th>test accuracy</th><th>95% CI of the mean</th><th>diff to " << reference
    << "</th><th>95% CI (paired t)</th><th>95% CI (bootstrap)</th><th>p (paired t)</th><th>wins / ties / losses</th>"
       "<th>verdict</th></tr>";
  for (const std::string m : c.at("modes")) {
    const nlohmann::json& pm = c.at("per_mode").at(m);
    h << "<tr><th>" << m << "</th><td>" << fixed(100 * pm.at("mean").get<double>()) << "% ± "
      << fixed(100 * pm.at("std").get<double>()) << "</td><td>[" << fixed(100 * pm.at("ci_low").get<double>()) << ", "
      << fixed(100 * pm.at("ci_high").get<double>()) << "]</td>";
    if (!c.at("paired").contains(m)) {
      h << "<td colspan=\"6\">reference</td></tr>";
      continue;
    }
    const nlohmann::json& p = c.at("paired").at(m);
    h << "<td>" << signed_points(p.at("mean_diff")) << "</td><td>[" << signed_points(p.at("t_low")) << ", "
      << signed_points(p.at("t_high")) << "]</td><td>[" << signed_points(p.at("boot_low")) << ", "
      << signed_points(p.at("boot_high")) << "]</td><td>" << fixed(p.at("p_value").get<double>(), 3) << "</td><td>"
      << p.at("wins") << " / " << p.at("ties") << " / " << p.at("losses") << "</td><td>"
      << (p.at("significant").get<bool>() ? (p.at("mean_diff").get<double>() > 0 ? "higher" : "lower")
                                          : "not significant")
      << "</td></tr>";
  }
  h << "</table>";
  return h.str();
}

// The judge's mean scores of each generator mode's faces at the end of stage 1 and stage 2.
std::string judge_html_table(const nlohmann::json& c) {
  static const char* const kScores[] = {"judge_real", "fidelity_transfer", "fidelity_prior", "identity",
                                        "identity_unrelated", "reconstruction", "diversity", "diversity_real"};
  std::ostringstream h;
  h << "<table><tr><th>mode</th><th>after</th>";
  for (const char* k : kScores) h << "<th>" << k << "</th>";
  h << "</tr>";
  bool any = false;
  for (const std::string m : c.at("modes")) {
    const nlohmann::json& pm = c.at("per_mode").at(m);
    if (!pm.contains("synthesis")) continue;
    for (auto it = pm.at("synthesis").begin(); it != pm.at("synthesis").end(); ++it) {
      any = true;
      h << "<tr><th>" << m << "</th><td>" << it.key() << "</td>";
      for (const char* k : kScores)
        h << "<td>" << (it.value().contains(k) ? fixed(it.value().at(k).get<double>(), 3) : "") << "</td>";
      h << "</tr>";
    }
  }
  h << "</table>";
  return any ? h.str() : "<p>No generator mode was judged.</p>";
}

std::string recall_html_table(const nlohmann::json& c) {
  std::ostringstream h;
  h << "<table><tr><th>mode</th>";
  for (const std::string k : c.at("classes")) h << "<th>" << k << "</th>";
  h << "</tr>";
  for (const std::string m : c.at("modes")) {
    h << "<tr><th>" << m << "</th>";
    for (const double r : c.at("per_mode").at(m).at("pooled").at("recall")) h << "<td>" << fixed(100 * r, 1) << "%</td>";
    h << "</tr>";
  }
  h << "</table>";
  return h.str();
}

// The sum of the units' run times (their summary.json files); comparison.json holds results only,
// so that a resumed ablation's or one with --jobs equals an uninterrupted one.
double units_run_seconds(const fs::path& dir, const nlohmann::json& c) {
  double seconds = 0;
  for (const nlohmann::json& unit : c.at("units"))
    for (const auto& [_, run] : unit.at("run").items())
      seconds += nlohmann::json::parse(read_file(dir / run.get<std::string>() / "summary.json")).at("run_seconds").get<double>();
  return seconds;
}

}  // namespace

void write_comparison_report(const std::string& ablation_dir) {
  const fs::path dir = ablation_dir;
  const nlohmann::json c = nlohmann::json::parse(read_file(dir / "comparison.json"));
  const auto modes = c.at("modes").get<std::vector<std::string>>();
  const auto classes = c.at("classes").get<std::vector<std::string>>();
  std::vector<double> means, lows, highs;
  std::vector<PlotSeries> per_unit;
  for (const std::string& m : modes) {
    const nlohmann::json& pm = c.at("per_mode").at(m);
    means.push_back(pm.at("mean"));
    lows.push_back(pm.at("ci_low"));
    highs.push_back(pm.at("ci_high"));
    PlotSeries s{m, {}};
    const auto acc = pm.at("accuracies").get<std::vector<double>>();
    for (size_t i = 0; i < acc.size(); ++i) s.points.push_back({static_cast<double>(i + 1), acc[i]});
    per_unit.push_back(s);
  }
  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>fer ablation</title><style>" << kStyle
    << "</style></head><body>\n<h1>fer ablation</h1>\n<p>" << c.at("units").size() << " unit(s): "
    << c.at("repeats").get<int64_t>() << " repeat(s) × " << ablation_folds_text(c)
    << ", every mode on the same splits and seeds. Test accuracy of the recognizer "
       "selected on each fold's inner validation split; differences are paired by unit, in points. A difference "
       "is called significant when both 95% intervals exclude 0. The units' run times add up to "
    << duration_text(units_run_seconds(dir, c)) << " (with --jobs they overlap).</p>\n"
    << comparison_html_table(c) << data_html(c.at("data"), classes.size()) << "\n<h2>Accuracy per mode (mean, 95% t interval)</h2>\n"
    << svg_interval_plot("test accuracy", modes, means, lows, highs)
    << "\n<h2>Accuracy per unit</h2>\n<p>Units in the order (repeat, fold): ";
  for (size_t i = 0; i < c.at("units").size(); ++i)
    h << (i ? ", " : "") << i + 1 << " = r" << c.at("units")[i].at("repeat") << " f" << c.at("units")[i].at("fold");
  h << ".</p>\n" << svg_line_plot("test accuracy per unit", "unit", per_unit)
    << "\n<h2>Per-class recall (test folds pooled)</h2>\n" << recall_html_table(c)
    << "\n<h2>G's faces as the judge sees them (mean over units)</h2>\n<p>The judge is each fold's baseline "
       "recognizer, trained on real faces only. fidelity: the share of G's faces (transfers of validation faces, "
       "and new identities from the prior) that it classifies as their target expression, next to its accuracy on "
       "the real validation faces (judge_real). identity: centred cosine of the identity network's embeddings of a "
       "face and its transfers (identity_unrelated: of two different faces). reconstruction: mean |G(E(x), y) - x|. "
       "diversity: mean |a - b| between prior faces (diversity_real: between real faces).</p>\n"
    << judge_html_table(c)
    << "\n<h2>Sample grids (first unit of each generator mode)</h2>\n<p>Rows: a validation face x, its "
       "reconstruction x_rec, then the face with each expression (the columns); lower rows: new identities from the "
       "prior.</p>\n";
  for (const std::string& m : modes) {
    const fs::path run = dir / c.at("units").at(0).at("run").at(m).get<std::string>();
    if (fs::exists(run / "metrics.jsonl")) h << samples_html(run, m + ": ", classes);
  }
  h << "<h2>Settings</h2><pre>" << c.at("settings").dump(2) << "</pre></body></html>\n";
  write_file_atomically((dir / "report.html").string(), h.str());
}

}  // namespace fer::train
