// The CSV readers of the dataset formats, on streams so that tests and fuzzers need no files.
//
//   FER2013:  emotion,pixels[,Usage]  (columns found by name, any order); pixels are 48*48
//             space-separated values 0..255; emotion is the canonical index 0..6.
//   manifest: path,label,subject[,split]  (path and label required); path relative to the
//             manifest's folder; label a class name, an alias or a canonical index.
// Quoted fields ("a,b", "" for a quote) and CRLF line ends are accepted. Errors name the file and
// the line (1-based, the header is line 1). The readers check syntax only: whether a label is a
// known class or a path exists is checked by load_dataset.
#pragma once
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace fer::data {

constexpr int kFer2013Side = 48;

// One row of a dataset listing before labels are mapped and images are read.
struct Record {
  std::string path;             // manifest: as written in the file; FER2013: empty
  std::string label;            // as written: a class name, alias or index
  std::string subject;          // empty when the format has none
  std::string split;            // manifest split column or FER2013 Usage; may be empty
  std::vector<uint8_t> pixels;  // FER2013: 48*48 gray values; otherwise empty
  int64_t line = 0;             // line in the source file, for error messages
};

std::vector<std::string> split_csv_line(const std::string& line);

// Reads the header line and returns its fields; throws naming `name` when the input is empty.
std::vector<std::string> read_csv_header(std::istream& in, const std::string& name);

std::vector<Record> read_fer2013_csv(std::istream& in, const std::string& name);
std::vector<Record> read_manifest_csv(std::istream& in, const std::string& name);

}  // namespace fer::data
