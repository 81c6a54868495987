// Canonical expression class names and their aliases.
//
// Canonical order (the index a FER2013 CSV stores, contempt appended for CK+):
//   0 anger, 1 disgust, 2 fear, 3 happiness, 4 sadness, 5 surprise, 6 neutral, 7 contempt.
// A dataset's labels index ITS class list (Dataset::class_names), which is this order restricted
// to the classes present, or the subset the user chose, in the order the user gave.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace fer::data {

const std::vector<std::string>& canonical_classes();

// The canonical name of `name` (case-insensitive; aliases such as angry, happy, sad, surprised,
// fearful, disgusted), or nothing when it is unknown.
std::optional<std::string> find_class(const std::string& name);

// Like find_class, but throws naming `context` (a file or line), the unknown name, and every
// canonical name with its aliases.
std::string canonical_class(const std::string& name, const std::string& context);

// Position of a canonical name in canonical_classes().
int canonical_index(const std::string& canonical);

// ASCII lower case, for names compared case-insensitively (class names, file extensions).
std::string to_lower(std::string s);

// "anger (angry, mad), disgust (disgusted), ..." for error messages and --help.
std::string known_classes_text();

}  // namespace fer::data
