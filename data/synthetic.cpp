// The procedural face renderer. See synthetic.h for what it draws and why.
//
// Face coordinates: the image spans [-0.5, 0.5] on both axes at scale 1, y points down, the face
// centre is near the origin. Sizes below are fractions of the image side.
#include "data/synthetic.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/parallel.h"
#include "engine/files.h"
#include "kernels/common/random.h"

namespace fer::data {

namespace {

// ---- random draws ---------------------------------------------------------------------------

// One stream of the counter-based generator, keyed by what it describes.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0, uint64_t d = 0)
      : key_(mix64(mix64(mix64(mix64(seed) ^ a) ^ b) ^ c) ^ d) {}
  float uniform() { return random_uniform(key_, counter_++); }
  float range(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  bool chance(float p) { return uniform() < p; }
  int pick(int n) { return std::min(n - 1, static_cast<int>(uniform() * n)); }
  float normal() {  // Box-Muller
    const float u1 = std::max(uniform(), 1e-7f), u2 = uniform();
    return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853f * u2);
  }

 private:
  uint64_t key_;
  uint64_t counter_ = 0;
};

// Stream tags, so identity, expression and noise draws never share counters.
enum Stream : uint64_t { kIdentity = 1, kImage = 2, kNoise = 3 };

// ---- colours and shapes ---------------------------------------------------------------------

struct Rgb {
  float r, g, b;
};
Rgb operator*(Rgb c, float k) { return {c.r * k, c.g * k, c.b * k}; }
Rgb mix(Rgb a, Rgb b, float t) { return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t}; }

struct Vec {
  float x, y;
};

float length(float x, float y) { return std::sqrt(x * x + y * y); }

// Approximate signed distance to an axis-aligned ellipse (Quilez): exact on the axes, close
// enough elsewhere for a one-pixel coverage ramp.
float ellipse(Vec p, Vec c, float rx, float ry) {
  const float qx = (p.x - c.x) / rx, qy = (p.y - c.y) / ry;
  const float k0 = length(qx, qy), k1 = length(qx / rx, qy / ry);
  return k1 > 0 ? k0 * (k0 - 1) / k1 : -std::min(rx, ry);
}

// Distance to the segment a-b, minus a radius (a capsule).
float capsule(Vec p, Vec a, Vec b, float r) {
  const float bx = b.x - a.x, by = b.y - a.y, px = p.x - a.x, py = p.y - a.y;
  const float t = std::clamp((px * bx + py * by) / std::max(bx * bx + by * by, 1e-12f), 0.0f, 1.0f);
  return length(px - t * bx, py - t * by) - r;
}

float intersect(float a, float b) { return std::max(a, b); }

// ---- identity and expression ----------------------------------------------------------------

struct Identity {
  float face_rx, face_ry, face_cy, jaw_taper;
  Rgb skin, hair, brow_color, iris, background;
  int hair_style;  // 0 short, 1 long, 2 fringe, 3 receding
  float eye_dx, eye_y, eye_rx, eye_ry;
  float brow_gap, brow_thick, brow_arch;
  float nose_len, nose_w;
  float mouth_y, mouth_w, lip_thick;
  bool glasses, beard;
  float rest_corner, rest_brow, rest_eye;  // the subject's own resting expression
};

Identity make_identity(uint64_t seed, int subject) {
  Rng r(seed, kIdentity, static_cast<uint64_t>(subject));
  Identity id{};
  id.face_rx = r.range(0.25f, 0.31f);
  id.face_ry = r.range(0.34f, 0.40f);
  id.face_cy = r.range(0.0f, 0.04f);
  id.jaw_taper = r.range(0.05f, 0.35f);
  id.skin = mix(Rgb{0.95f, 0.82f, 0.72f}, Rgb{0.42f, 0.28f, 0.2f}, r.range(0.0f, 1.0f));
  static const std::array<Rgb, 5> hair_colors = {
      Rgb{0.08f, 0.06f, 0.05f}, Rgb{0.3f, 0.18f, 0.1f}, Rgb{0.75f, 0.6f, 0.35f}, Rgb{0.6f, 0.6f, 0.6f}, Rgb{0.5f, 0.2f, 0.1f}};
  // One draw per statement: the order of draws inside one expression is unspecified in C++.
  const Rgb hair_color = hair_colors[r.pick(5)];
  id.hair = hair_color * r.range(0.8f, 1.1f);
  id.brow_color = mix(id.hair, Rgb{0.1f, 0.08f, 0.07f}, 0.5f);
  id.iris = mix(Rgb{0.15f, 0.1f, 0.05f}, Rgb{0.3f, 0.45f, 0.6f}, r.range(0.0f, 1.0f));
  id.background = Rgb{0.5f, 0.5f, 0.5f} * r.range(0.5f, 1.5f);
  id.hair_style = r.pick(4);
  id.eye_dx = r.range(0.095f, 0.125f);
  id.eye_y = r.range(-0.05f, -0.01f);
  id.eye_rx = r.range(0.042f, 0.056f);
  id.eye_ry = r.range(0.019f, 0.026f);
  id.brow_gap = r.range(0.05f, 0.07f);
  id.brow_thick = r.range(0.008f, 0.015f);
  id.brow_arch = r.range(0.0f, 0.015f);
  id.nose_len = r.range(0.1f, 0.13f);
  id.nose_w = r.range(0.035f, 0.05f);
  id.mouth_y = id.eye_y + id.nose_len + r.range(0.07f, 0.09f);
  id.mouth_w = r.range(0.07f, 0.095f);
  id.lip_thick = r.range(0.008f, 0.016f);
  id.glasses = r.chance(0.2f);
  id.beard = r.chance(0.12f);
  id.rest_corner = r.range(-0.25f, 0.2f);
  id.rest_brow = r.range(-0.25f, 0.25f);
  id.rest_eye = r.range(-0.1f, 0.1f);
  return id;
}

// Facial action cues. 0 is the average neutral face; eye_open and mouth_width are relative
// changes (+0.5 = half as large again).
struct Cues {
  float brow_raise, brow_inner, eye_open, lip_corner, mouth_open, mouth_width, nose_wrinkle, upper_lip, cheek;
};

// Full-intensity cues of each expression, in synthetic_expressions() order. Shared cues make
// the pairs people confuse overlap: fear and surprise both raise the brows, widen the eyes and
// open the mouth; anger and disgust both lower the brows, narrow the eyes and wrinkle the nose;
// sadness differs from neutral only by inner brows and lip corners.
constexpr std::array<Cues, 7> kPrototypes = {{
    {0, 0, 0, 0, 0, 0, 0, 0, 0},                          // neutral
    {-0.9f, -1.0f, -0.25f, -0.3f, 0, -0.2f, 0.4f, 0, 0},   // anger
    {-0.5f, -0.4f, -0.3f, -0.5f, 0.1f, -0.05f, 1.0f, 1.0f, 0.4f},  // disgust
    {0.7f, 0.8f, 0.45f, -0.3f, 0.35f, 0.25f, 0, 0.15f, 0},        // fear
    {0.05f, 0, -0.2f, 1.0f, 0.3f, 0.25f, 0, 0, 1.0f},             // happiness
    {-0.1f, 0.9f, -0.2f, -0.8f, 0, -0.05f, 0, 0, 0},              // sadness
    {1.0f, 0.2f, 0.6f, 0, 1.0f, -0.3f, 0, 0, 0},                  // surprise
}};

Cues expression_cues(const Identity& id, int expression, Rng& r) {
  const Cues& p = kPrototypes[expression];
  const float k = r.range(0.3f, 1.0f);  // intensity
  auto cue = [&](float proto, float rest) { return rest + k * proto + 0.08f * r.normal(); };
  Cues c{};
  c.brow_raise = cue(p.brow_raise, id.rest_brow);
  c.brow_inner = cue(p.brow_inner, 0);
  c.eye_open = cue(p.eye_open, id.rest_eye);
  c.lip_corner = cue(p.lip_corner, id.rest_corner);
  c.mouth_open = std::max(0.0f, cue(p.mouth_open, 0));
  c.mouth_width = cue(p.mouth_width, 0);
  c.nose_wrinkle = std::max(0.0f, cue(p.nose_wrinkle, 0));
  c.upper_lip = std::max(0.0f, cue(p.upper_lip, 0));
  c.cheek = std::max(0.0f, cue(p.cheek, 0));
  return c;
}

// Pose, light and sensor of one picture.
struct Shot {
  float roll, yaw, scale, tx, ty;
  float light_x, light_y, light_strength, brightness, contrast, noise;
};

Shot make_shot(Rng& r) {
  Shot s{};
  s.roll = r.range(-0.14f, 0.14f);  // about +-8 degrees
  s.yaw = r.range(-1.0f, 1.0f);
  s.scale = r.range(0.9f, 1.1f);
  s.tx = r.range(-0.03f, 0.03f);
  s.ty = r.range(-0.03f, 0.03f);
  const float angle = r.range(0.0f, 6.2831853f);
  s.light_x = std::cos(angle);
  s.light_y = std::sin(angle);
  s.light_strength = r.range(0.0f, 0.5f);
  s.brightness = r.range(-0.08f, 0.08f);
  s.contrast = r.range(0.8f, 1.15f);
  s.noise = r.range(0.005f, 0.03f);
  return s;
}

// Face coordinates are magnified by this much in the picture, so that the face fills the frame
// like the aligned crops of CK+ or FER2013 (hair and neck partly cut off).
constexpr float kFaceZoom = 1.3f;

// ---- the painter ----------------------------------------------------------------------------

// Composites shapes back to front at one point; `pixel` is the pixel width in face units, so a
// signed distance d covers the pixel by clamp(0.5 - d / pixel).
class Painter {
 public:
  Painter(Rgb background, float pixel) : color_(background), pixel_(pixel) {}
  void fill(float distance, Rgb c, float alpha = 1.0f) {
    const float coverage = std::clamp(0.5f - distance / pixel_, 0.0f, 1.0f) * alpha;
    if (coverage > 0) color_ = mix(color_, c, coverage);
  }
  Rgb color() const { return color_; }

 private:
  Rgb color_;
  float pixel_;
};

// Everything with a fixed position in one picture, computed once per image.
struct Layout {
  const Identity* id;
  Cues cue;
  float shift;  // horizontal shift of the inner features from yaw (they sit in front of the face)
  float yaw;
};

// The lower face narrows towards the chin by jaw_taper.
float face_shape(Vec p, const Identity& id) {
  const float below = std::clamp((p.y - id.face_cy) / id.face_ry, 0.0f, 1.0f);
  return ellipse(p, {0, id.face_cy}, id.face_rx * (1 - id.jaw_taper * below * below), id.face_ry);
}

void paint_head(Painter& paint, Vec p, const Layout& L) {
  const Identity& id = *L.id;
  const float top = id.face_cy - id.face_ry;
  if (id.hair_style == 1)  // long hair behind the head and shoulders
    paint.fill(intersect(ellipse(p, {0, id.face_cy + 0.04f}, id.face_rx * 1.3f, id.face_ry * 1.12f),
                         p.y - (id.face_cy + id.face_ry * 0.95f)),
               id.hair);
  paint.fill(intersect(std::abs(p.x) - id.face_rx * 0.5f, top + id.face_ry * 1.5f - p.y), id.skin * 0.85f);  // neck
  for (float s : {-1.0f, 1.0f})
    paint.fill(ellipse(p, {s * id.face_rx * 0.97f, id.eye_y + 0.035f}, 0.03f, 0.055f), id.skin * 0.9f);  // ears
  paint.fill(face_shape(p, id), id.skin);
  if (id.beard) {  // chin beard below the lower lip and a moustache above the upper lip
    paint.fill(intersect(face_shape(p, id), id.mouth_y + 0.025f - p.y), id.hair, 0.75f);
    paint.fill(capsule(p, {L.shift - id.mouth_w, id.mouth_y - 0.018f}, {L.shift + id.mouth_w, id.mouth_y - 0.022f}, 0.009f), id.hair, 0.75f);
  }
  // Hair cap: a slightly larger head above a hairline that dips at the temples.
  static constexpr std::array<float, 4> kHairline = {0.55f, 0.55f, 0.3f, 0.75f};
  const float hairline = id.face_cy - id.face_ry * kHairline[id.hair_style] + 0.1f * (p.x / id.face_rx) * (p.x / id.face_rx) +
                         (id.hair_style == 2 ? 0.012f * std::sin(p.x * 90.0f) : 0.0f);
  paint.fill(intersect(ellipse(p, {0, id.face_cy - 0.015f}, id.face_rx * 1.07f, id.face_ry * 1.05f), p.y - hairline), id.hair);
}

void paint_brows_and_eyes(Painter& paint, Vec p, const Layout& L) {
  const Identity& id = *L.id;
  const Cues& c = L.cue;
  const float open = std::clamp(1 + c.eye_open, 0.15f, 1.9f);
  for (float s : {-1.0f, 1.0f}) {
    const float near = 1 - 0.12f * s * L.yaw;  // the eye turned away looks narrower
    const Vec eye = {s * id.eye_dx * near + L.shift, id.eye_y};
    const float rx = id.eye_rx * near, ry = id.eye_ry * open;
    // Brows: raised or lowered as a whole, inner ends raised (sadness, fear) or pulled down (anger).
    const float base = id.eye_y - id.brow_gap - 0.028f * c.brow_raise;
    const Vec inner = {eye.x - s * rx * 0.9f, base - 0.028f * c.brow_inner + 0.008f * std::max(0.0f, -c.brow_raise)};
    const Vec outer = {eye.x + s * rx * 1.25f, base + 0.006f - 0.01f * c.brow_inner * (c.brow_inner > 0 ? -0.5f : 0.3f)};
    const Vec mid = {(inner.x + outer.x) / 2, (inner.y + outer.y) / 2 - id.brow_arch};
    paint.fill(std::min(capsule(p, inner, mid, id.brow_thick), capsule(p, mid, outer, id.brow_thick * 0.8f)), id.brow_color);
    // Eye: sclera with the lower lid pushed up by the cheeks, iris and pupil inside it.
    const float lower_lid = eye.y + ry * (1 - 0.6f * std::min(c.cheek, 1.0f));
    const float sclera = intersect(ellipse(p, eye, rx, ry), p.y - lower_lid);
    paint.fill(sclera, Rgb{0.93f, 0.93f, 0.9f});
    const float iris_r = id.eye_ry * 1.05f;
    const Vec iris_c = {eye.x + 0.15f * rx * L.yaw, eye.y};
    paint.fill(intersect(ellipse(p, iris_c, iris_r, iris_r), sclera), id.iris);
    paint.fill(intersect(ellipse(p, iris_c, iris_r * 0.45f, iris_r * 0.45f), sclera), Rgb{0.03f, 0.03f, 0.03f});
    const float lid_line = intersect(std::abs(ellipse(p, eye, rx, ry)) - 0.0045f, p.y - eye.y + 0.3f * ry);
    paint.fill(lid_line, id.brow_color * 0.6f, 0.9f);
    if (c.eye_open > 0.25f)  // the upper-lid crease of wide-open eyes
      paint.fill(intersect(std::abs(ellipse(p, {eye.x, eye.y - 0.006f}, rx * 1.1f, ry * 1.35f)) - 0.003f, p.y - eye.y + ry * 0.5f),
                 id.skin * 0.6f, std::min(1.0f, c.eye_open));
    if (id.glasses)
      paint.fill(std::abs(ellipse(p, {eye.x, eye.y + 0.005f}, id.eye_rx * 1.75f, 0.048f)) - 0.005f, Rgb{0.1f, 0.1f, 0.12f});
  }
  if (id.glasses)
    paint.fill(capsule(p, {L.shift - id.eye_dx + id.eye_rx * 1.75f, id.eye_y}, {L.shift + id.eye_dx - id.eye_rx * 1.75f, id.eye_y}, 0.004f),
               Rgb{0.1f, 0.1f, 0.12f});
}

void paint_nose(Painter& paint, Vec p, const Layout& L) {
  const Identity& id = *L.id;
  const Cues& c = L.cue;
  const float nose_x = L.shift * 1.4f;  // the tip stands furthest out, so yaw moves it most
  const float tip_y = id.eye_y + id.nose_len - 0.012f * c.nose_wrinkle;
  const float shade = L.yaw > 0 ? -1.0f : 1.0f;
  paint.fill(capsule(p, {nose_x + shade * 0.012f, id.eye_y + 0.03f}, {nose_x + shade * 0.02f, tip_y - 0.01f}, 0.006f),
             id.skin * 0.7f, 0.35f);
  const float wide = id.nose_w * (0.5f + 0.15f * c.nose_wrinkle);
  for (float s : {-1.0f, 1.0f})
    paint.fill(ellipse(p, {nose_x + s * wide, tip_y}, 0.011f, 0.0065f), id.skin * 0.3f, 0.8f);
  for (int k = 0; k < 3; ++k)  // nose-bridge wrinkles (disgust, anger)
    paint.fill(capsule(p, {nose_x - 0.016f, id.eye_y + 0.012f * k}, {nose_x + 0.016f, id.eye_y + 0.012f * k + 0.002f}, 0.0025f),
               id.skin * 0.45f, std::clamp(c.nose_wrinkle - 0.15f, 0.0f, 0.8f));
  // Nasolabial folds deepen with the cheeks (smile) and the nose wrinkle (disgust).
  const float fold = std::clamp(0.6f * c.cheek + 0.5f * c.nose_wrinkle, 0.0f, 0.8f);
  for (float s : {-1.0f, 1.0f})
    paint.fill(capsule(p, {nose_x + s * (id.nose_w + 0.01f), tip_y - 0.005f},
                       {L.shift + s * (id.mouth_w * 1.2f), id.mouth_y + 0.01f}, 0.0035f),
               id.skin * 0.55f, fold);
}

void paint_mouth(Painter& paint, Vec p, const Layout& L) {
  const Identity& id = *L.id;
  const Cues& c = L.cue;
  const float w = id.mouth_w * std::clamp(1 + 0.4f * c.mouth_width, 0.5f, 1.6f);
  const float u = (p.x - L.shift) / w;  // -1 .. 1 across the mouth
  const float profile = std::sqrt(std::max(0.0f, 1 - u * u));
  // Lip corners up (smile) or down (sadness, disgust): a parabola through the mouth centre.
  const float mid = id.mouth_y - 0.04f * c.lip_corner * u * u + 0.012f * c.lip_corner;
  const float open = 0.085f * std::min(c.mouth_open, 1.3f);
  const float upper = mid - (0.35f * open + 0.012f * c.upper_lip) * profile;
  const float lower = mid + 0.65f * open * profile;
  const float outside = std::abs(p.x - L.shift) - w;
  const float lip_shape = 0.4f + 0.6f * profile;
  const float lips = intersect(outside - 0.003f,
                               intersect(upper - id.lip_thick * lip_shape - p.y, p.y - lower - id.lip_thick * 1.3f * lip_shape));
  paint.fill(lips, mix(id.skin, Rgb{0.6f, 0.25f, 0.25f}, 0.45f) * 0.85f);
  if (open > 0.002f) {
    const float cavity = intersect(outside + 0.004f, intersect(upper - p.y, p.y - lower));
    paint.fill(cavity, Rgb{0.12f, 0.05f, 0.05f});
    // Teeth show in a smile: the upper part of the opening.
    paint.fill(intersect(cavity, p.y - (upper + 0.45f * (lower - upper))), Rgb{0.92f, 0.9f, 0.85f},
               std::clamp(1.5f * c.lip_corner, 0.0f, 0.95f));
  }
  paint.fill(intersect(std::abs(p.y - mid) - 0.0035f, outside), Rgb{0.2f, 0.08f, 0.08f}, 0.85f);  // the lips' seam
}

// Converts the painted colour to the output: lighting, brightness/contrast, gray, noise.
Rgb light(Rgb color, Vec p, const Shot& shot) {
  const float k = std::max(0.2f, 1 + shot.light_strength * (shot.light_x * p.x + shot.light_y * p.y) * 2);
  return color * k;
}

// "S001" for subject 0: the default subject pattern ^(S\d+)_ of CK+-style names finds it.
std::string subject_id(int subject) {
  char id[16];
  std::snprintf(id, sizeof id, "S%03d", subject + 1);
  return id;
}

uint8_t to_byte(float v) { return static_cast<uint8_t>(std::clamp(std::lround(v * 255.0f), 0L, 255L)); }

}  // namespace

const std::vector<std::string>& synthetic_expressions() {
  static const std::vector<std::string> names = {"neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise"};
  return names;
}

Image render_synthetic_face(const SynthOptions& o, int subject, int expression, int index) {
  FER_CHECK(o.size >= 8 && o.size <= 1024 && (o.channels == 1 || o.channels == 3))
      << "render_synthetic_face: size must be 8..1024 and channels 1 or 3, got size " << o.size << ", channels " << o.channels;
  FER_CHECK(expression >= 0 && expression < 7) << "render_synthetic_face: expression " << expression << " is not in 0..6";
  const Identity id = make_identity(o.seed, subject);
  Rng r(o.seed, kImage, static_cast<uint64_t>(subject), static_cast<uint64_t>(expression), static_cast<uint64_t>(index));
  const Cues cues = expression_cues(id, expression, r);
  const Shot shot = make_shot(r);
  const Layout L{&id, cues, 0.03f * shot.yaw, shot.yaw};
  const float cos_r = std::cos(shot.roll), sin_r = std::sin(shot.roll);
  const float pixel = 1.0f / (o.size * shot.scale * kFaceZoom);
  Rng noise(o.seed, kNoise, static_cast<uint64_t>(subject), static_cast<uint64_t>(expression), static_cast<uint64_t>(index));
  Image image(o.size, o.size, o.channels);
  for (int y = 0; y < o.size; ++y)
    for (int x = 0; x < o.size; ++x) {
      // Image point -> face point: undo shift, scale and roll.
      const float ix = (x + 0.5f) / o.size - 0.5f - shot.tx, iy = (y + 0.5f) / o.size - 0.5f - shot.ty;
      const float zoom = shot.scale * kFaceZoom;
      const Vec p = {(cos_r * ix + sin_r * iy) / zoom, (-sin_r * ix + cos_r * iy) / zoom};
      Painter paint(id.background * (1.1f - 0.4f * (iy + 0.5f)), pixel);
      paint_head(paint, p, L);
      paint_brows_and_eyes(paint, p, L);
      paint_nose(paint, p, L);
      paint_mouth(paint, p, L);
      const Rgb lit = light(paint.color(), p, shot);
      const std::array<float, 3> rgb = {lit.r, lit.g, lit.b};
      const float gray = 0.299f * lit.r + 0.587f * lit.g + 0.114f * lit.b;
      for (int ch = 0; ch < o.channels; ++ch) {
        const float v = o.channels == 1 ? gray : rgb[ch];
        image.at(x, y, ch) = to_byte((v - 0.5f) * shot.contrast + 0.5f + shot.brightness + shot.noise * noise.normal());
      }
    }
  return image;
}

SynthSummary write_synthetic_dataset(const SynthOptions& o) {
  FER_CHECK(!o.out_dir.empty()) << "synth-data: --out is required";
  FER_CHECK(o.subjects >= 1 && o.subjects <= 999 && o.per_class >= 1 && o.per_class <= 999)
      << "synth-data: --subjects and --per-class must be 1..999, got " << o.subjects << " and " << o.per_class;
  const std::vector<std::string>& classes = synthetic_expressions();
  const std::filesystem::path root(o.out_dir);
  for (const std::string& c : classes) {
    std::error_code ec;
    std::filesystem::create_directories(root / c, ec);
    FER_CHECK(!ec) << "synth-data: cannot create " << (root / c).string() << ": " << ec.message();
  }
  const int n_classes = static_cast<int>(classes.size());
  const int64_t total = static_cast<int64_t>(o.subjects) * n_classes * o.per_class;
  auto relative_path = [&](int64_t i, int* subject, int* expression, int* index) {
    *index = static_cast<int>(i % o.per_class);
    *expression = static_cast<int>(i / o.per_class % n_classes);
    *subject = static_cast<int>(i / o.per_class / n_classes);
    char number[16];
    std::snprintf(number, sizeof number, "_%03d.png", *index);
    return classes[*expression] + "/" + subject_id(*subject) + number;
  };
  parallel_for(total, o.threads, [&](int64_t i) {
    int subject, expression, index;
    const std::string rel = relative_path(i, &subject, &expression, &index);
    write_png((root / rel).string(), render_synthetic_face(o, subject, expression, index));
  });
  SynthSummary summary{total, (root / "manifest.csv").string()};
  std::ostringstream manifest;
  manifest << "path,label,subject\n";
  for (int64_t i = 0; i < total; ++i) {
    int subject, expression, index;
    const std::string rel = relative_path(i, &subject, &expression, &index);
    manifest << rel << ',' << classes[expression] << ',' << subject_id(subject) << '\n';
  }
  write_file_atomically(summary.manifest_path, manifest.str());
  return summary;
}

}  // namespace fer::data
