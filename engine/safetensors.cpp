// safetensors reader and atomic writer. See safetensors.h for the format and the checks.
#include "engine/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "engine/files.h"

namespace fer {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; fer writes host memory as is");

namespace {

using json = nlohmann::json;

constexpr const char* kMetadataKey = "__metadata__";
// A header larger than this is not a header but a corrupted length field.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

struct Header {
  std::vector<Entry> entries;  // sorted by begin
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;     // file offset of the data section
};

DType parse_dtype(const std::string& path, const std::string& name, const json& value) {
  FER_CHECK(value.is_string()) << "safetensors '" << path << "': tensor '" << name
                               << "' has a non-string dtype " << value.dump();
  const std::string dtype = value.get<std::string>();
  if (dtype == "F32") return DType::F32;
  if (dtype == "F64") return DType::F64;
  FER_THROW() << "safetensors '" << path << "': tensor '" << name << "' has dtype '" << dtype
              << "', fer reads F32 and F64 only";
}

// A JSON array of non-negative integers, `what` naming the field in errors.
std::vector<uint64_t> parse_uint_array(const std::string& path, const std::string& name, const json& value,
                                       const char* what) {
  FER_CHECK(value.is_array()) << "safetensors '" << path << "': tensor '" << name << "' has a " << what
                              << " that is not an array: " << value.dump();
  std::vector<uint64_t> out;
  for (const json& v : value) {
    FER_CHECK(v.is_number_unsigned()) << "safetensors '" << path << "': tensor '" << name << "' has a "
                                      << what << " with a value that is not a non-negative integer: "
                                      << value.dump();
    out.push_back(v.get<uint64_t>());
  }
  return out;
}

Entry parse_entry(const std::string& path, const std::string& name, const json& value) {
  FER_CHECK(value.is_object() && value.contains("dtype") && value.contains("shape") &&
            value.contains("data_offsets"))
      << "safetensors '" << path << "': tensor '" << name
      << "' needs an object with dtype, shape and data_offsets, got " << value.dump();
  Entry e;
  e.name = name;
  e.dtype = parse_dtype(path, name, value["dtype"]);
  for (uint64_t d : parse_uint_array(path, name, value["shape"], "shape"))
    e.shape.push_back(static_cast<int64_t>(d));
  const std::vector<uint64_t> offsets = parse_uint_array(path, name, value["data_offsets"], "data_offsets");
  FER_CHECK(offsets.size() == 2 && offsets[0] <= offsets[1])
      << "safetensors '" << path << "': tensor '" << name << "' has data_offsets "
      << value["data_offsets"].dump() << ", expected [begin, end] with begin <= end";
  e.begin = offsets[0];
  e.end = offsets[1];
  const uint64_t expected = static_cast<uint64_t>(shape_numel(e.shape)) * dtype_size(e.dtype);
  FER_CHECK(e.end - e.begin == expected)
      << "safetensors '" << path << "': tensor '" << name << "' holds " << (e.end - e.begin)
      << " bytes, but " << dtype_name(e.dtype) << shape_str(e.shape) << " needs " << expected;
  return e;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& value) {
  FER_CHECK(value.is_object()) << "safetensors '" << path << "': __metadata__ is not an object";
  std::map<std::string, std::string> metadata;
  for (const auto& [key, v] : value.items()) {
    FER_CHECK(v.is_string()) << "safetensors '" << path << "': __metadata__ field '" << key
                             << "' is not a string";
    metadata[key] = v.get<std::string>();
  }
  return metadata;
}

// Offsets must lie inside the data section and must not overlap.
void check_layout(const std::string& path, std::vector<Entry>& entries, uint64_t data_bytes) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t previous_end = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    FER_CHECK(e.end <= data_bytes) << "safetensors '" << path << "': tensor '" << e.name
                                   << "' ends at data byte " << e.end << ", but the file holds only "
                                   << data_bytes << " bytes of data (truncated?)";
    FER_CHECK(previous == nullptr || e.begin >= previous_end || e.begin == e.end)
        << "safetensors '" << path << "': tensor '" << e.name << "' (bytes " << e.begin << ".." << e.end
        << ") overlaps tensor '" << previous->name << "' (ending at " << previous_end << ")";
    if (e.end > previous_end) previous_end = e.end, previous = &e;
  }
}

Header read_header(const std::string& path, std::ifstream& file) {
  file.seekg(0, std::ios::end);
  const uint64_t file_bytes = static_cast<uint64_t>(file.tellg());
  file.seekg(0);
  FER_CHECK(file_bytes >= 8) << "safetensors '" << path << "': truncated: " << file_bytes
                             << " bytes, fewer than the 8-byte header length";
  uint64_t header_bytes = 0;
  file.read(reinterpret_cast<char*>(&header_bytes), 8);
  FER_CHECK(header_bytes <= kMaxHeaderBytes)
      << "safetensors '" << path << "': corrupted: header length " << header_bytes << " is implausible";
  FER_CHECK(8 + header_bytes <= file_bytes) << "safetensors '" << path << "': truncated: the header needs "
                                            << header_bytes << " bytes, the file has " << file_bytes - 8
                                            << " after the length";
  std::string text(header_bytes, '\0');
  file.read(text.data(), static_cast<std::streamsize>(header_bytes));
  FER_CHECK(file) << "safetensors '" << path << "': cannot read the header";

  const json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  FER_CHECK(!parsed.is_discarded()) << "safetensors '" << path << "': corrupted: the header is not valid JSON";
  FER_CHECK(parsed.is_object()) << "safetensors '" << path << "': corrupted: the header is not a JSON object";
  Header header;
  header.data_start = 8 + header_bytes;
  for (const auto& [name, value] : parsed.items()) {
    if (name == kMetadataKey) {
      header.metadata = parse_metadata(path, value);
    } else {
      header.entries.push_back(parse_entry(path, name, value));
    }
  }
  check_layout(path, header.entries, file_bytes - header.data_start);
  return header;
}

std::ifstream open_for_reading(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  FER_CHECK(file.is_open()) << "safetensors '" << path << "': cannot open: " << std::strerror(errno);
  return file;
}

std::string build_header(const std::map<std::string, Tensor>& host_tensors,
                         const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : host_tensors) {
    const uint64_t bytes = t.nbytes();
    header[name] = {{"dtype", t.dtype() == DType::F32 ? "F32" : "F64"},
                    {"shape", t.shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // keeps the data section 8-byte aligned
  return text;
}

}  // namespace

std::map<std::string, Tensor> load_safetensors(const std::string& path) {
  std::ifstream file = open_for_reading(path);
  const Header header = read_header(path, file);
  std::map<std::string, Tensor> tensors;
  for (const Entry& e : header.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype, Device::CPU);
    file.seekg(static_cast<std::streamoff>(header.data_start + e.begin));
    file.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(e.end - e.begin));
    FER_CHECK(file) << "safetensors '" << path << "': cannot read the data of tensor '" << e.name << "'";
    tensors.emplace(e.name, std::move(t));
  }
  return tensors;
}

std::map<std::string, std::string> load_safetensors_metadata(const std::string& path) {
  std::ifstream file = open_for_reading(path);
  return read_header(path, file).metadata;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::map<std::string, Tensor> host;
  for (const auto& [name, t] : tensors) {
    FER_CHECK(name != kMetadataKey) << "safetensors '" << path << "': '" << name << "' is a reserved name";
    FER_CHECK(t.defined()) << "safetensors '" << path << "': tensor '" << name << "' is undefined";
    host.emplace(name, t.to(Device::CPU));
  }
  const std::string header = build_header(host, metadata);

  write_file_atomically(path, [&](const ByteSink& sink) {
    const uint64_t header_bytes = header.size();
    sink(&header_bytes, 8);
    sink(header.data(), header.size());
    for (const auto& [name, t] : host) sink(t.raw_data(), t.nbytes());
  });
}

}  // namespace fer
