// CSV readers of the FER2013 and manifest formats. See csv.h.
#include "data/csv.h"

#include <algorithm>
#include <charconv>

#include "kernels/common/error.h"

namespace fer::data {

namespace {

// Index of column `column` in the header, or -1.
int find_column(const std::vector<std::string>& header, const std::string& column) {
  const auto it = std::find(header.begin(), header.end(), column);
  return it == header.end() ? -1 : static_cast<int>(it - header.begin());
}

int require_column(const std::vector<std::string>& header, const std::string& column, const std::string& name,
                   const std::string& expected) {
  const int index = find_column(header, column);
  FER_CHECK(index >= 0) << name << ": line 1: the header has no '" << column << "' column (expected " << expected << ")";
  return index;
}

std::string field(const std::vector<std::string>& fields, int column) {
  return column >= 0 && column < static_cast<int>(fields.size()) ? fields[column] : std::string();
}

bool getline_trimmed(std::istream& in, std::string& line) {
  if (!std::getline(in, line)) return false;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

// Parses "v v v ..." into exactly 48*48 values 0..255, naming the line on error.
std::vector<uint8_t> parse_pixels(const std::string& text, const std::string& where) {
  std::vector<uint8_t> pixels;
  pixels.reserve(kFer2013Side * kFer2013Side);
  const char* p = text.data();
  const char* end = p + text.size();
  while (true) {
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    if (p == end) break;
    int value = -1;
    const auto [next, ec] = std::from_chars(p, end, value);
    FER_CHECK(ec == std::errc() && value >= 0 && value <= 255 && (next == end || *next == ' ' || *next == '\t'))
        << where << ": pixel " << pixels.size() + 1 << " is not an integer in 0..255";
    pixels.push_back(static_cast<uint8_t>(value));
    p = next;
  }
  FER_CHECK(pixels.size() == static_cast<size_t>(kFer2013Side * kFer2013Side))
      << where << ": " << pixels.size() << " pixels, expected " << kFer2013Side * kFer2013Side << " (48x48)";
  return pixels;
}

}  // namespace

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::vector<std::string> read_csv_header(std::istream& in, const std::string& name) {
  std::string line;
  FER_CHECK(getline_trimmed(in, line) && !line.empty()) << name << ": empty file, expected a CSV header line";
  if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // a UTF-8 byte order mark from spreadsheet tools
  return split_csv_line(line);
}

std::vector<Record> read_fer2013_csv(std::istream& in, const std::string& name) {
  const std::vector<std::string> header = read_csv_header(in, name);
  const std::string expected = "emotion,pixels[,Usage]";
  const int emotion = require_column(header, "emotion", name, expected);
  const int pixels = require_column(header, "pixels", name, expected);
  const int usage = find_column(header, "Usage");
  std::vector<Record> records;
  std::string line;
  for (int64_t number = 2; getline_trimmed(in, line); ++number) {
    if (line.empty()) continue;
    const std::string where = name + ": line " + std::to_string(number);
    const std::vector<std::string> fields = split_csv_line(line);
    FER_CHECK(static_cast<int>(fields.size()) > std::max(emotion, pixels))
        << where << ": " << fields.size() << " fields, expected at least " << std::max(emotion, pixels) + 1;
    Record r;
    r.label = fields[emotion];
    r.split = field(fields, usage);
    r.pixels = parse_pixels(fields[pixels], where);
    r.line = number;
    records.push_back(std::move(r));
  }
  return records;
}

std::vector<Record> read_manifest_csv(std::istream& in, const std::string& name) {
  const std::vector<std::string> header = read_csv_header(in, name);
  const std::string expected = "path,label,subject[,split]";
  const int path = require_column(header, "path", name, expected);
  const int label = require_column(header, "label", name, expected);
  const int subject = find_column(header, "subject");
  const int split = find_column(header, "split");
  std::vector<Record> records;
  std::string line;
  for (int64_t number = 2; getline_trimmed(in, line); ++number) {
    if (line.empty()) continue;
    const std::vector<std::string> fields = split_csv_line(line);
    Record r;
    r.path = field(fields, path);
    r.label = field(fields, label);
    r.subject = field(fields, subject);
    r.split = field(fields, split);
    r.line = number;
    FER_CHECK(!r.path.empty() && !r.label.empty())
        << name << ": line " << number << ": empty path or label (columns " << expected << ")";
    records.push_back(std::move(r));
  }
  return records;
}

}  // namespace fer::data
