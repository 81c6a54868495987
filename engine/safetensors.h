// The safetensors file format (https://github.com/huggingface/safetensors), used for fixtures and
// checkpoints so that both interoperate with the Python ecosystem.
//
// Layout of a file: u64 little-endian N, then N bytes of JSON header
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value", ...}}      (optional, string values only)
// then the raw little-endian data; offsets are relative to the start of the data section.
// Supported dtypes: F32 and F64 (the two fer has). Tensors load onto the cpu.
//
// Loading validates everything (sizes, offsets in range and not overlapping, byte count matching
// shape and dtype, known dtype, well-formed JSON) and throws fer::Error naming the file and,
// where it applies, the tensor. Saving writes a temporary file in the same folder, fsyncs it and
// renames it over the target, so a crash never leaves a half-written file under the final name.
#pragma once
#include <map>
#include <string>

#include "engine/tensor.h"

namespace fer {

std::map<std::string, Tensor> load_safetensors(const std::string& path);
// The "__metadata__" map alone (empty when the file has none); the header is still validated.
std::map<std::string, std::string> load_safetensors_metadata(const std::string& path);

// Tensors on any device are copied to the host to be written. Names must not be "__metadata__".
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace fer
