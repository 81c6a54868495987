#include "train/fields.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "kernels/common/error.h"

namespace fer::train {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The part after the last dot: "lr" of "stage1.lr", so "--set lr=1" finds "stage1.lr".
std::string last_part(const std::string& name) {
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

template <typename T>
T parse_number(const std::string& key, const std::string& text) {
  std::istringstream in(text);
  T value{};
  in >> value;
  FER_CHECK(!in.fail() && in.eof()) << "config key '" << key << "': '" << text << "' is not a "
                                    << (std::is_integral_v<T> ? "whole number" : "number");
  return value;
}

bool parse_bool(const std::string& key, const std::string& text) {
  if (text == "true" || text == "1" || text == "on" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "off" || text == "no") return false;
  FER_THROW() << "config key '" << key << "': '" << text << "' is not true or false";
}

std::string json_scalar_text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

}  // namespace

std::string nearest_name(const std::string& name, const std::vector<std::string>& known) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const std::string& k : known) {
    const size_t d = std::min(edit_distance(name, k), edit_distance(name, last_part(k)));
    if (d < best_distance) best_distance = d, best = k;
  }
  return best;
}

std::string suggestion(const std::string& name, const std::vector<std::string>& known) {
  const std::string best = nearest_name(name, known);
  if (best.empty()) return "";
  const size_t limit = std::max<size_t>(2, name.size() / 2);
  const size_t d = std::min(edit_distance(name, best), edit_distance(name, last_part(best)));
  return d <= limit ? " (did you mean '" + best + "'?)" : "";
}

void FieldSet::add(const std::string& name, int64_t* value, const std::string& help) {
  fields_.push_back({name, help, value, {}});
}
void FieldSet::add(const std::string& name, double* value, const std::string& help) {
  fields_.push_back({name, help, value, {}});
}
void FieldSet::add(const std::string& name, bool* value, const std::string& help) {
  fields_.push_back({name, help, value, {}});
}
void FieldSet::add(const std::string& name, std::string* value, const std::string& help,
                   std::vector<std::string> choices) {
  fields_.push_back({name, help, value, std::move(choices)});
}

std::vector<std::string> FieldSet::names() const {
  std::vector<std::string> out;
  for (const Field& f : fields_) out.push_back(f.name);
  return out;
}

const FieldSet::Field& FieldSet::find(const std::string& key) const {
  for (const Field& f : fields_)
    if (f.name == key) return f;
  FER_THROW() << "unknown config key '" << key << "'" << suggestion(key, names())
              << "; `fer train --help-config` lists every key";
}

void FieldSet::set(const std::string& key, const std::string& text) {
  const Field& f = find(key);
  std::visit(
      [&](auto* target) {
        using T = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_same_v<T, bool>) {
          *target = parse_bool(key, text);
        } else if constexpr (std::is_same_v<T, std::string>) {
          FER_CHECK(f.choices.empty() || std::count(f.choices.begin(), f.choices.end(), text))
              << "config key '" << key << "': '" << text << "' is not one of "
              << nlohmann::json(f.choices).dump() << suggestion(text, f.choices);
          *target = text;
        } else {
          *target = parse_number<T>(key, text);
        }
      },
      f.target);
}

void FieldSet::set_assignment(const std::string& assignment) {
  const size_t eq = assignment.find('=');
  FER_CHECK(eq != std::string::npos && eq > 0)
      << "--set expects key=value, got '" << assignment << "'";
  set(assignment.substr(0, eq), assignment.substr(eq + 1));
}

void FieldSet::load_json(const nlohmann::json& json, const std::string& source) {
  FER_CHECK(json.is_object()) << source << ": a config file holds one JSON object";
  // Flattens nested objects into dotted keys, then sets each (so unknown keys are named).
  std::vector<std::pair<std::string, nlohmann::json>> stack{{"", json}};
  while (!stack.empty()) {
    auto [prefix, object] = stack.back();
    stack.pop_back();
    for (auto it = object.begin(); it != object.end(); ++it) {
      const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
      if (it.value().is_object()) {
        stack.push_back({key, it.value()});
      } else {
        try {
          set(key, json_scalar_text(it.value()));
        } catch (const Error& e) {
          FER_THROW() << source << ": " << e.words();
        }
      }
    }
  }
}

std::string FieldSet::value_text(const Field& f) const {
  return std::visit(
      [](auto* target) -> std::string {
        using T = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return *target;
        } else {
          return nlohmann::json(*target).dump();
        }
      },
      f.target);
}

nlohmann::json FieldSet::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const Field& f : fields_) {
    nlohmann::json* node = &out;
    std::istringstream parts(f.name);
    std::string part;
    std::vector<std::string> path;
    while (std::getline(parts, part, '.')) path.push_back(part);
    for (size_t i = 0; i + 1 < path.size(); ++i) node = &(*node)[path[i]];
    std::visit([&](auto* target) { (*node)[path.back()] = *target; }, f.target);
  }
  return out;
}

std::string FieldSet::help_text() const {
  std::ostringstream out;
  for (const Field& f : fields_) {
    out << "  " << f.name << " = " << value_text(f) << "\n      " << f.help;
    if (!f.choices.empty()) out << " (" << nlohmann::json(f.choices).dump() << ")";
    out << "\n";
  }
  return out.str();
}

}  // namespace fer::train
