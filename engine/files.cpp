#include "engine/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "kernels/common/error.h"

namespace fer {

namespace {

namespace fs = std::filesystem;

// Writes all bytes or throws; `fd` belongs to the temporary file of `path`.
void write_all(int fd, const char* data, size_t bytes, const std::string& path) {
  while (bytes > 0) {
    const ssize_t n = ::write(fd, data, bytes);
    if (n < 0 && errno == EINTR) continue;
    FER_CHECK(n > 0) << "cannot write " << path << ": " << std::strerror(errno);
    data += n;
    bytes -= static_cast<size_t>(n);
  }
}

bool is_orphan_temporary(const std::string& name) {
  const size_t dot = name.rfind(".tmp.");
  if (dot == std::string::npos || dot == 0 || name.size() - dot != 11) return false;
  for (size_t i = dot + 5; i < name.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(name[i]))) return false;
  return true;
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(const ByteSink&)>& produce) {
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  FER_CHECK(fd >= 0) << "cannot write " << path << ": no temporary file next to it: " << std::strerror(errno);
  try {
    ::fchmod(fd, 0644);  // mkstemp creates 0600; the result is an ordinary file
    produce([&](const void* data, size_t bytes) { write_all(fd, static_cast<const char*>(data), bytes, path); });
    FER_CHECK(::fsync(fd) == 0) << "cannot write " << path << ": fsync failed: " << std::strerror(errno);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  const bool closed = ::close(fd) == 0;
  const int err = errno;
  if (!closed || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int why = closed ? errno : err;
    ::unlink(tmp.c_str());
    FER_THROW() << "cannot write " << path << ": " << (closed ? "rename" : "close") << " failed: " << std::strerror(why);
  }
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  write_file_atomically(path, [&](const ByteSink& sink) { sink(bytes.data(), bytes.size()); });
}

int64_t remove_orphan_temporaries(const std::string& dir) {
  if (!fs::is_directory(dir)) return 0;
  int64_t removed = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file() && is_orphan_temporary(entry.path().filename().string()))
      removed += fs::remove(entry.path()) ? 1 : 0;
  return removed;
}

}  // namespace fer
