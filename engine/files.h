// Files that are complete or absent. write_file_atomically writes PATH.tmp.XXXXXX (mkstemp) in
// the same folder, fsyncs it and renames it over PATH (atomic within one file system): readers
// never see half a file, an interruption leaves the old file, and a full disk is an error that
// names the path instead of an empty file. On any failure the temporary file is removed.
// Single-threaded per path.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace fer {

using ByteSink = std::function<void(const void* data, size_t bytes)>;

// `produce` writes the file's bytes, in pieces, into the sink it is given.
void write_file_atomically(const std::string& path, const std::function<void(const ByteSink&)>& produce);
void write_file_atomically(const std::string& path, std::string_view bytes);

// Removes, under `dir` and its subfolders, what a process killed inside write_file_atomically
// leaves: files named "<name>.tmp.XXXXXX" (six letters or digits). Returns how many it removed.
int64_t remove_orphan_temporaries(const std::string& dir);

}  // namespace fer
