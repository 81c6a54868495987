// Named configuration fields: one registry binds dotted names ("stage1.lr") to the members of the
// config structs, so JSON files, `--set key=value` and config.json all go through one place.
// Unknown names are errors that suggest the nearest known name.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

namespace fer::train {

// The known name closest to `name` (edit distance), for "did you mean" messages.
std::string nearest_name(const std::string& name, const std::vector<std::string>& known);
// " (did you mean 'x'?)" or "" when nothing is close.
std::string suggestion(const std::string& name, const std::vector<std::string>& known);

class FieldSet {
 public:
  void add(const std::string& name, int64_t* value, const std::string& help);
  void add(const std::string& name, double* value, const std::string& help);
  void add(const std::string& name, bool* value, const std::string& help);
  // choices: the allowed values (empty: any string).
  void add(const std::string& name, std::string* value, const std::string& help,
           std::vector<std::string> choices = {});

  // "key=value" or key and value; throws naming the key (and the nearest name when unknown).
  void set(const std::string& key, const std::string& value);
  void set_assignment(const std::string& assignment);
  // Nested objects address dotted names: {"stage1": {"lr": 1e-4}} sets "stage1.lr".
  void load_json(const nlohmann::json& json, const std::string& source);
  nlohmann::json to_json() const;  // nested by the dots
  std::vector<std::string> names() const;
  std::string help_text() const;  // one line per field: name, current value, help

 private:
  using Target = std::variant<int64_t*, double*, bool*, std::string*>;
  struct Field {
    std::string name, help;
    Target target;
    std::vector<std::string> choices;
  };
  const Field& find(const std::string& key) const;
  std::string value_text(const Field& field) const;
  std::vector<Field> fields_;
};

}  // namespace fer::train
