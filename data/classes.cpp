// Class-name table. See classes.h.
#include "data/classes.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "kernels/common/error.h"

namespace fer::data {

namespace {

struct ClassEntry {
  std::string name;
  std::vector<std::string> aliases;
};

const std::vector<ClassEntry>& class_table() {
  static const std::vector<ClassEntry> table = {
      {"anger", {"angry", "mad"}},
      {"disgust", {"disgusted", "disgusting"}},
      {"fear", {"fearful", "afraid", "scared"}},
      {"happiness", {"happy", "joy", "smile"}},
      {"sadness", {"sad"}},
      {"surprise", {"surprised"}},
      {"neutral", {"calm"}},
      {"contempt", {"contemptuous"}},
  };
  return table;
}

}  // namespace

std::string to_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

const std::vector<std::string>& canonical_classes() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const ClassEntry& e : class_table()) out.push_back(e.name);
    return out;
  }();
  return names;
}

std::optional<std::string> find_class(const std::string& name) {
  const std::string key = to_lower(name);
  for (const ClassEntry& e : class_table())
    if (key == e.name || std::find(e.aliases.begin(), e.aliases.end(), key) != e.aliases.end()) return e.name;
  return std::nullopt;
}

std::string known_classes_text() {
  std::string text;
  for (const ClassEntry& e : class_table()) {
    text += (text.empty() ? "" : ", ") + e.name;
    std::string aliases;
    for (const std::string& a : e.aliases) aliases += (aliases.empty() ? "" : ", ") + a;
    text += " (" + aliases + ")";
  }
  return text;
}

std::string canonical_class(const std::string& name, const std::string& context) {
  const std::optional<std::string> found = find_class(name);
  FER_CHECK(found) << context << ": unknown class name '" << name << "'; known classes (aliases): "
                   << known_classes_text();
  return *found;
}

int canonical_index(const std::string& canonical) {
  const std::vector<std::string>& names = canonical_classes();
  const auto it = std::find(names.begin(), names.end(), canonical);
  FER_CHECK(it != names.end()) << "canonical_index: '" << canonical << "' is not a canonical class name";
  return static_cast<int>(it - names.begin());
}

}  // namespace fer::data
