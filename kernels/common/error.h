// Error reporting shared by every layer of fer.
//
// FER_CHECK(cond) << "message " << value;   throws fer::Error naming file and line when cond fails.
// FER_THROW() << "message";                  throws unconditionally.
// The message is built with a stream so that shapes, file names and field names can be named.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace fer {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
// Collects a message with <<.
class ErrorBuilder {
 public:
  ErrorBuilder(const char* file, int line, const char* condition) {
    if (condition) stream_ << "check failed: " << condition << ": ";
    location_ = std::string(" [") + file + ":" + std::to_string(line) + "]";
  }
  template <typename T>
  ErrorBuilder& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }
  std::string message() const { return stream_.str() + location_; }

 private:
  std::ostringstream stream_;
  std::string location_;
};

// `Thrower() & builder << ...`: & binds after <<, so the whole message is built first, and the
// [[noreturn]] operator tells the compiler that control does not come back.
struct Thrower {
  [[noreturn]] void operator&(const ErrorBuilder& builder) const { throw Error(builder.message()); }
};
}  // namespace detail
}  // namespace fer

#define FER_THROW() ::fer::detail::Thrower() & ::fer::detail::ErrorBuilder(__FILE__, __LINE__, nullptr)
#define FER_CHECK(cond) \
  if (cond) {           \
  } else                \
    ::fer::detail::Thrower() & ::fer::detail::ErrorBuilder(__FILE__, __LINE__, #cond)
