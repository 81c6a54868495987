// Error reporting shared by every layer of fer.
//
// FER_CHECK(cond) << "message " << value;   throws fer::Error naming file and line when cond fails.
// FER_THROW() << "message";                  throws unconditionally.
// The message is built with a stream so that shapes, file names and field names can be named.
//
// A fer::Error keeps its parts apart: the words (what a person reads), the failed C++ expression
// and the source location. what() joins them ("check failed: COND: WORDS [FILE:LINE]") for tests
// and debugging; the command line prints error_text(), the words alone unless --debug.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace fer {

class Error : public std::runtime_error {
 public:
  // condition: the failed expression (empty for FER_THROW); location: "FILE:LINE".
  Error(std::string words, std::string condition, std::string location)
      : std::runtime_error(joined(words, condition, location)),
        words_(std::move(words)),
        condition_(std::move(condition)),
        location_(std::move(location)) {}
  const std::string& words() const { return words_; }
  const std::string& condition() const { return condition_; }
  const std::string& location() const { return location_; }

 private:
  static std::string joined(const std::string& words, const std::string& condition, const std::string& location) {
    return (condition.empty() ? "" : "check failed: " + condition + ": ") + words + " [" + location + "]";
  }
  std::string words_, condition_, location_;
};

// What to print for an error: a fer::Error's words, or with `debug` also its expression and
// source location; any other exception's what().
inline std::string error_text(const std::exception& e, bool debug) {
  const auto* error = dynamic_cast<const Error*>(&e);
  return error && !debug ? error->words() : e.what();
}

namespace detail {
// Collects a message with <<.
class ErrorBuilder {
 public:
  ErrorBuilder(const char* file, int line, const char* condition)
      : condition_(condition ? condition : ""), location_(std::string(file) + ":" + std::to_string(line)) {}
  template <typename T>
  ErrorBuilder& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }
  Error error() const { return Error(stream_.str(), condition_, location_); }

 private:
  std::ostringstream stream_;
  std::string condition_, location_;
};

// `Thrower() & builder << ...`: & binds after <<, so the whole message is built first, and the
// [[noreturn]] operator tells the compiler that control does not come back.
struct Thrower {
  [[noreturn]] void operator&(const ErrorBuilder& builder) const { throw builder.error(); }
};
}  // namespace detail
}  // namespace fer

#define FER_THROW() ::fer::detail::Thrower() & ::fer::detail::ErrorBuilder(__FILE__, __LINE__, nullptr)
#define FER_CHECK(cond) \
  if (cond) {           \
  } else                \
    ::fer::detail::Thrower() & ::fer::detail::ErrorBuilder(__FILE__, __LINE__, #cond)
