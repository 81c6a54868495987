#include <catch2/catch.hpp>
#include <sstream>

#include "data/classes.h"
#include "data/csv.h"
#include "data/dataset.h"
#include "data/split.h"
#include "tests/data/temp_dir.h"

using fer::data::DatasetFormat;
using fer::data::DatasetOptions;
using fer::test::TempDir;

namespace {

void write_gray(const std::string& path, int w, int h, uint8_t value) {
  fer::data::Image im(w, h, 1);
  std::fill(im.pixels.begin(), im.pixels.end(), value);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  fer::data::write_png(path, im);
}

std::string pixel_row(int count, int value) {
  std::ostringstream s;
  for (int i = 0; i < count; ++i) s << (i ? " " : "") << value;
  return s.str();
}

DatasetOptions options_for(const std::string& path, int size = 5) {
  DatasetOptions o;
  o.path = path;
  o.size = size;
  o.threads = 2;
  return o;
}

}  // namespace

TEST_CASE("class names: aliases map to canonical names, unknown names list the known ones", "[cpu][data]") {
  using fer::data::find_class;
  REQUIRE(find_class("Angry") == "anger");
  REQUIRE(find_class("happy") == "happiness");
  REQUIRE(find_class("SAD") == "sadness");
  REQUIRE(find_class("surprised") == "surprise");
  REQUIRE(find_class("fearful") == "fear");
  REQUIRE(find_class("disgusted") == "disgust");
  REQUIRE(find_class("neutral") == "neutral");
  REQUIRE(find_class("contempt") == "contempt");
  REQUIRE_FALSE(find_class("bored"));
  REQUIRE_THROWS_WITH(fer::data::canonical_class("bored", "somewhere"),
                      Catch::Contains("somewhere") && Catch::Contains("'bored'") && Catch::Contains("happiness (happy"));
  REQUIRE(fer::data::canonical_classes().size() == 8);
  REQUIRE(fer::data::canonical_index("happiness") == 3);  // FER2013's index
}

TEST_CASE("dataset folder format: aliases, nested folders, subjects from file names, resize", "[cpu][data]") {
  TempDir dir("folder");
  write_gray(dir.file("Happy/S010_001_00000017.png"), 9, 7, 200);
  write_gray(dir.file("Happy/session2/S011_002_00000003.png"), 9, 7, 210);
  write_gray(dir.file("angry/S010_004_00000010.png"), 11, 11, 20);
  write_gray(dir.file("angry/S012_005_x.png"), 3, 3, 30);
  fer::data::Dataset ds = fer::data::load_dataset(options_for(dir.path().string()));
  REQUIRE(ds.format == DatasetFormat::Folder);
  REQUIRE(ds.class_names == std::vector<std::string>{"anger", "happiness"});  // canonical order
  REQUIRE(ds.samples.size() == 4);
  REQUIRE(ds.class_counts() == std::vector<int64_t>{2, 2});
  // Samples follow the sorted paths: Happy/S010.., Happy/session2/S011.., angry/S010.., angry/S012...
  REQUIRE(ds.samples[0].subject == "S010");
  REQUIRE(ds.samples[1].subject == "S011");
  REQUIRE(ds.samples[1].label == 1);
  REQUIRE(ds.samples[2].label == 0);
  REQUIRE(ds.samples[3].subject == "S012");
  REQUIRE(ds.has_subjects);
  const fer::data::Image im = ds.image(1);
  REQUIRE(im.width == 5);
  REQUIRE(im.pixels == std::vector<uint8_t>(25, 210));
  REQUIRE(ds.skipped_files.empty());

  DatasetOptions custom = options_for(dir.path().string());
  custom.subject_pattern = R"(^S\d+_(\d+)_)";
  REQUIRE(fer::data::load_dataset(custom).samples[2].subject == "004");
}

TEST_CASE("dataset class subset keeps the given order and drops other classes", "[cpu][data]") {
  TempDir dir("subset");
  for (const char* c : {"happy", "sad", "neutral"}) write_gray(dir.file(std::string(c) + "/S001_1.png"), 4, 4, 100);
  DatasetOptions o = options_for(dir.path().string());
  o.classes = {"sad", "happiness"};
  const fer::data::Dataset ds = fer::data::load_dataset(o);
  REQUIRE(ds.class_names == std::vector<std::string>{"sadness", "happiness"});
  REQUIRE(ds.samples.size() == 2);
  REQUIRE(ds.samples[0].label == 1);  // happy folder comes first on disk, label of "happiness"
  o.classes = {"contempt"};
  REQUIRE_THROWS_WITH(fer::data::load_dataset(o), Catch::Contains("no samples of class 'contempt'"));
  o.classes = {"joyful"};
  REQUIRE_THROWS_WITH(fer::data::load_dataset(o), Catch::Contains("class subset") && Catch::Contains("'joyful'"));
}

TEST_CASE("dataset folder format errors: unknown class folder, empty class folder", "[cpu][data]") {
  TempDir unknown("unknown_class");
  write_gray(unknown.file("happy/a.png"), 4, 4, 1);
  write_gray(unknown.file("bored/b.png"), 4, 4, 1);
  REQUIRE_THROWS_WITH(fer::data::load_dataset(options_for(unknown.path().string())),
                      Catch::Contains("bored") && Catch::Contains("unknown class name") && Catch::Contains("surprise (surprised)"));
  TempDir empty("empty_class");
  write_gray(empty.file("happy/a.png"), 4, 4, 1);
  std::filesystem::create_directories(empty.path() / "sad");
  REQUIRE_THROWS_WITH(fer::data::load_dataset(options_for(empty.path().string())),
                      Catch::Contains("sad") && Catch::Contains("holds no images"));
}

TEST_CASE("dataset corrupt images: skipped with a counted warning, or an error under strict", "[cpu][data]") {
  TempDir dir("corrupt_images");
  write_gray(dir.file("happy/S001_good.png"), 4, 4, 1);
  fer::test::write_text(dir.file("happy/S001_broken.png"), "garbage");
  fer::test::write_text(dir.file("happy/S001_notes.txt"), "not an image");
  const fer::data::Dataset ds = fer::data::load_dataset(options_for(dir.path().string()));
  REQUIRE(ds.samples.size() == 1);
  REQUIRE(ds.skipped_files.size() == 2);
  REQUIRE_THAT(ds.skipped_files[0], Catch::Contains("S001_broken.png"));
  REQUIRE_THAT(ds.skipped_files[1], Catch::Contains("S001_notes.txt"));
  DatasetOptions strict = options_for(dir.path().string());
  strict.strict = true;
  REQUIRE_THROWS_WITH(fer::data::load_dataset(strict), Catch::Contains("S001_broken.png") && Catch::Contains("--strict"));
}

TEST_CASE("dataset fer2013 CSV: labels by index, Usage as split, 48x48 resized", "[cpu][data]") {
  TempDir dir("fer2013");
  const std::string csv = dir.file("fer2013.csv");
  fer::test::write_text(csv, "emotion,pixels,Usage\n3," + pixel_row(2304, 255) + ",Training\r\n0,\"" + pixel_row(2304, 0) +
                                 "\",PrivateTest\n");
  DatasetOptions o = options_for(csv, 7);
  const fer::data::Dataset ds = fer::data::load_dataset(o);
  REQUIRE(ds.format == DatasetFormat::Fer2013);
  REQUIRE(ds.class_names == std::vector<std::string>{"anger", "happiness"});
  REQUIRE(ds.samples[0].label == 1);
  REQUIRE(ds.samples[0].split == "Training");
  REQUIRE(ds.samples[1].split == "PrivateTest");
  REQUIRE(ds.image(0).pixels == std::vector<uint8_t>(49, 255));
  REQUIRE(ds.samples[0].subject.empty());
  REQUIRE_FALSE(ds.has_subjects);
  // The Usage column is the fixed split: the PrivateTest row is the test part.
  const fer::data::Split split = fer::data::make_fixed_split(ds, fer::data::SplitOptions{});
  REQUIRE(split.folds[0].train == std::vector<int64_t>{0});
  REQUIRE(split.folds[0].test == std::vector<int64_t>{1});
}

TEST_CASE("dataset fer2013 CSV errors name the line", "[cpu][data]") {
  std::istringstream short_row("emotion,pixels,Usage\n3," + pixel_row(2304, 1) + ",Training\n2," + pixel_row(2303, 1) + ",Training\n");
  REQUIRE_THROWS_WITH(fer::data::read_fer2013_csv(short_row, "f.csv"),
                      Catch::Contains("f.csv: line 3") && Catch::Contains("2303 pixels, expected 2304"));
  std::istringstream bad_value("emotion,pixels\n1,1 2 x\n");
  REQUIRE_THROWS_WITH(fer::data::read_fer2013_csv(bad_value, "f.csv"), Catch::Contains("line 2: pixel 3"));
  std::istringstream no_pixels("emotion,usage\n");
  REQUIRE_THROWS_WITH(fer::data::read_fer2013_csv(no_pixels, "f.csv"), Catch::Contains("no 'pixels' column"));
  TempDir dir("fer2013_label");
  fer::test::write_text(dir.file("x.csv"), "emotion,pixels\n9," + pixel_row(2304, 1) + "\n");
  REQUIRE_THROWS_WITH(fer::data::load_dataset(options_for(dir.file("x.csv"))),
                      Catch::Contains("line 2") && Catch::Contains("class index 9"));
}

TEST_CASE("dataset manifest CSV: paths relative to the manifest, subjects, splits, auto detection", "[cpu][data]") {
  TempDir dir("manifest");
  write_gray(dir.file("img/a.png"), 6, 6, 10);
  write_gray(dir.file("img/b.png"), 6, 6, 20);
  write_gray(dir.file("img/c.png"), 6, 6, 30);
  fer::test::write_text(dir.file("manifest.csv"), "path,label,subject,split\nimg/a.png,fearful,P1,train\nimg/b.png,2,P2,test\n\"img/c.png\",Surprised,P1,\n");
  for (const std::string& path : {dir.path().string(), dir.file("manifest.csv")}) {
    const fer::data::Dataset ds = fer::data::load_dataset(options_for(path));
    REQUIRE(ds.format == DatasetFormat::Manifest);
    REQUIRE(ds.class_names == std::vector<std::string>{"fear", "surprise"});
    REQUIRE(ds.samples.size() == 3);
    REQUIRE(ds.samples[1].label == 0);  // canonical index 2 is fear
    REQUIRE(ds.samples[2].subject == "P1");
    REQUIRE(ds.samples[0].split == "train");
    REQUIRE(ds.image(2).pixels == std::vector<uint8_t>(25, 30));
  }
  DatasetOptions forced = options_for(dir.path().string());
  forced.format = DatasetFormat::Folder;  // the img folder is not a class
  REQUIRE_THROWS_WITH(fer::data::load_dataset(forced), Catch::Contains("'img'"));
}

TEST_CASE("dataset manifest errors: missing file names the line, missing columns, unknown formats", "[cpu][data]") {
  TempDir dir("manifest_missing");
  write_gray(dir.file("a.png"), 4, 4, 1);
  fer::test::write_text(dir.file("list.csv"), "path,label,subject\na.png,happy,S1\nmissing.png,sad,S2\n");
  REQUIRE_THROWS_WITH(fer::data::load_dataset(options_for(dir.file("list.csv"))),
                      Catch::Contains("line 3") && Catch::Contains("missing.png") && Catch::Contains("does not exist"));
  fer::test::write_text(dir.file("other.csv"), "file,class\na.png,happy\n");
  REQUIRE_THROWS_WITH(fer::data::load_dataset(options_for(dir.file("other.csv"))), Catch::Contains("neither a 'pixels'"));
  std::istringstream no_label("path,subject\na.png,S1\n");
  REQUIRE_THROWS_WITH(fer::data::read_manifest_csv(no_label, "m.csv"), Catch::Contains("no 'label' column"));
  REQUIRE_THROWS_WITH(fer::data::parse_dataset_format("xml"), Catch::Contains("auto, folder, fer2013, manifest"));
  REQUIRE_THROWS_WITH(fer::data::load_dataset(options_for(dir.file("nothing_here"))), Catch::Contains("does not exist"));
}

TEST_CASE("dataset cache: pixels are dropped when the dataset exceeds the cache and decoded on demand", "[cpu][data]") {
  TempDir dir("cache");
  write_gray(dir.file("happy/S001_a.png"), 8, 8, 77);
  DatasetOptions o = options_for(dir.path().string());
  o.cache_bytes = 0;
  o.channels = 3;
  const fer::data::Dataset ds = fer::data::load_dataset(o);
  REQUIRE(ds.samples[0].pixels.empty());
  REQUIRE(ds.image(0).pixels == std::vector<uint8_t>(5 * 5 * 3, 77));
}

TEST_CASE("dataset subjects: names that miss the pattern are an error naming examples and the pattern", "[cpu][data]") {
  TempDir dir("subjects");
  for (int s = 1; s <= 3; ++s)
    for (const char* c : {"happy", "sad"}) write_gray(dir.file(std::string(c) + "/P00" + std::to_string(s) + "_000.png"), 4, 4, 9);
  DatasetOptions o = options_for(dir.path().string());
  REQUIRE_THROWS_WITH(fer::data::load_dataset(o), Catch::Contains("6 of 6 file names do not match the subject pattern '^(S\\d+)_'") &&
                                                      Catch::Contains("happy/P001_000.png") && Catch::Contains("--no-subjects") &&
                                                      Catch::Contains("--subject-pattern"));
  o.subject_pattern = "^(P\\d+)_";
  const fer::data::Dataset by_p = fer::data::load_dataset(o);
  REQUIRE(by_p.has_subjects);
  REQUIRE(by_p.subject_count() == 3);
  o.subject_pattern = "^P\\d+_";
  REQUIRE_THROWS_WITH(fer::data::load_dataset(o), Catch::Contains("'^P\\d+_'") && Catch::Contains("no capture group"));
  o.subject_pattern = "^(S\\d+)_";
  o.no_subjects = true;  // said explicitly: every image is a group of its own
  const fer::data::Dataset none = fer::data::load_dataset(o);
  REQUIRE_FALSE(none.has_subjects);
  REQUIRE(none.subject_count() == 0);
  REQUIRE(none.samples.size() == 6);

  write_gray(dir.file("m/a.png"), 4, 4, 1);
  write_gray(dir.file("m/b.png"), 4, 4, 1);
  fer::test::write_text(dir.file("m/manifest.csv"), "path,label\na.png,happy\nb.png,sad\n");
  REQUIRE_THROWS_WITH(fer::data::load_dataset(options_for(dir.file("m"))),
                      Catch::Contains("2 of 2 rows have no subject") && Catch::Contains("'subject' column") &&
                          Catch::Contains("line 2, line 3") && Catch::Contains("--no-subjects"));
  fer::test::write_text(dir.file("m/manifest.csv"), "path,label,subject\na.png,happy,S1\nb.png,sad,\n");
  REQUIRE_THROWS_WITH(fer::data::load_dataset(options_for(dir.file("m"))),
                      Catch::Contains("1 of 2 rows have no subject") && Catch::Contains("line 3"));
}

TEST_CASE("dataset skipped files: empty, truncated, huge header, non-image; listed, then a count", "[cpu][data]") {
  TempDir dir("skipped");
  write_gray(dir.file("happy/S001_good.png"), 6, 6, 1);
  std::ifstream in(dir.file("happy/S001_good.png"), std::ios::binary);
  std::string png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fer::test::write_text(dir.file("happy/S001_empty.png"), "");
  fer::test::write_text(dir.file("happy/S001_truncated.png"), png.substr(0, png.size() / 2));
  std::string huge = png;  // IHDR claims 60000 x 60000 (0x0000EA60)
  for (int at : {16, 20}) huge.replace(at, 4, std::string("\0\0\xEA\x60", 4));
  fer::test::write_text(dir.file("happy/S001_huge.png"), huge);
  fer::test::write_text(dir.file("happy/README.txt"), "text");  // needs no subject: it is no image
  fer::test::write_text(dir.file("happy/S001_zz_garbage.jpg"), "\xFF\xD8 garbage");
  // A JPEG whose start-of-frame claims 60000 x 60000.
  fer::test::write_text(dir.file("happy/S001_huge.jpg"), std::string("\xFF\xD8\xFF\xC0\x00\x0B\x08\xEA\x60\xEA\x60\x01\x01\x11\x00", 15));
  const fer::data::Dataset ds = fer::data::load_dataset(options_for(dir.path().string()));
  REQUIRE(ds.samples.size() == 1);
  REQUIRE(ds.skipped_files.size() == 6);
  const auto reason = [&](const std::string& name) {
    for (const std::string& f : ds.skipped_files)
      if (f.find(name) != std::string::npos) return f;
    return std::string("(not skipped)");
  };
  REQUIRE_THAT(reason("S001_empty.png"), Catch::Contains("empty"));
  REQUIRE_THAT(reason("S001_truncated.png"), Catch::Contains("cannot decode") || Catch::Contains("truncated"));
  REQUIRE_THAT(reason("S001_huge.png"), Catch::Contains("claims 60000x60000 pixels, more than the limit"));
  REQUIRE_THAT(reason("S001_huge.jpg"), Catch::Contains("claims 60000x60000 pixels, more than the limit"));
  REQUIRE_THAT(reason("README.txt"), Catch::Contains("not an image file"));
  const std::string text = fer::data::left_out_text(ds, 4);
  REQUIRE_THAT(text, Catch::StartsWith("dataset: skipped 6 of 7 files:") && Catch::Contains("S001_empty.png") &&
                         Catch::EndsWith("... and 2 more"));
  DatasetOptions strict = options_for(dir.path().string());
  strict.strict = true;
  REQUIRE_THROWS_WITH(fer::data::load_dataset(strict), Catch::Contains("--strict"));
}

TEST_CASE("dataset class subset leaves other folders out, even unknown names; manifest paths stay inside", "[cpu][data]") {
  TempDir dir("subset_folders");
  for (const char* c : {"happy", "sad", "neutral", "bored", "extras"}) write_gray(dir.file(std::string(c) + "/S001_1.png"), 4, 4, 1);
  DatasetOptions o = options_for(dir.path().string());
  o.classes = {"happiness", "sad"};
  const fer::data::Dataset ds = fer::data::load_dataset(o);
  REQUIRE(ds.class_names == std::vector<std::string>{"happiness", "sadness"});
  REQUIRE(ds.samples.size() == 2);
  REQUIRE(ds.ignored_folders == std::vector<std::string>{"bored", "extras", "neutral"});
  REQUIRE_THAT(fer::data::left_out_text(ds), Catch::Contains("outside the class subset") && Catch::Contains("bored extras neutral"));
  REQUIRE_THROWS_WITH(fer::data::load_dataset(options_for(dir.path().string())), Catch::Contains("'bored'"));

  TempDir root("manifest_escape");
  write_gray(root.file("data/a.png"), 4, 4, 1);
  write_gray(root.file("outside.png"), 4, 4, 1);
  for (const std::string& bad : {std::string("../outside.png"), std::string("sub/../../outside.png"), root.file("outside.png")}) {
    INFO(bad);
    fer::test::write_text(root.file("data/manifest.csv"), "path,label,subject\na.png,happy,S1\n" + bad + ",sad,S2\n");
    REQUIRE_THROWS_WITH(fer::data::load_dataset(options_for(root.file("data"))),
                        Catch::Contains("line 3") && Catch::Contains("'" + bad + "' leaves the dataset folder"));
  }
}
