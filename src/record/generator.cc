#include "record/generator.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <numbers>

#include <arrow/status.h>

namespace roadpulse::record {

namespace embedded {
extern const std::string_view kUsPlacesCsv;
extern const std::string_view kUsCountiesCsv;
}  // namespace embedded

namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180;

// --- deterministic randomness --------------------------------------------------------------
// Our own generator and distributions (not <random>'s, whose output differs between standard
// libraries), so a seed gives the same rows everywhere.

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& word : s_) word = splitmix64(seed);
  }
  uint64_t next() {  // xoshiro256**
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int64_t integer(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(uniform() * static_cast<double>(hi - lo + 1));
  }
  bool chance(double p) { return uniform() < p; }
  double normal() {  // Box-Muller; one value per call keeps the stream simple
    const double u1 = 1.0 - uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * kPi * u2);
  }
  double exponential(double mean) { return -mean * std::log(1.0 - uniform()); }
  template <typename T, size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[static_cast<size_t>(uniform() * N)];
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<uint64_t, 4> s_{};
};

// Cumulative weights for picking an index with probability proportional to its weight.
class WeightedIndex {
 public:
  void add(double weight) { cumulative_.push_back(total_ += std::max(weight, 0.0)); }
  size_t pick(Rng& rng) const {
    const double x = rng.uniform() * total_;
    const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), x);
    return std::min(static_cast<size_t>(it - cumulative_.begin()), cumulative_.size() - 1);
  }
  bool empty() const { return cumulative_.empty() || total_ <= 0; }

 private:
  std::vector<double> cumulative_;
  double total_ = 0;
};

// --- reference tables ----------------------------------------------------------------------

// Accidents per state in the real March23 sample (7,931 rows, /work/shared/data): the state mix
// follows reporting, not population (CA 21%, FL 12%, TX 8%, SC 5%, ...). States absent from the
// real data (AK, HI, SD) get none.
struct StateWeight {
  const char* state;
  int count;
};
constexpr StateWeight kStateWeights[] = {
    {"AL", 126}, {"AR", 29},  {"AZ", 175}, {"CA", 1689}, {"CO", 78},  {"CT", 66},  {"DC", 10},
    {"DE", 12},  {"FL", 977}, {"GA", 165}, {"IA", 24},   {"ID", 13},  {"IL", 168}, {"IN", 75},
    {"KS", 26},  {"KY", 22},  {"LA", 203}, {"MA", 75},   {"MD", 132}, {"ME", 1},   {"MI", 165},
    {"MN", 188}, {"MO", 74},  {"MS", 18},  {"MT", 36},   {"NC", 336}, {"ND", 3},   {"NE", 35},
    {"NH", 8},   {"NJ", 149}, {"NM", 11},  {"NV", 20},   {"NY", 339}, {"OH", 121}, {"OK", 91},
    {"OR", 140}, {"PA", 336}, {"RI", 21},  {"SC", 424},  {"TN", 179}, {"TX", 647}, {"UT", 53},
    {"VA", 295}, {"VT", 1},   {"WA", 122}, {"WI", 36},   {"WV", 16},  {"WY", 1},
};

// Share of each hour of day (Start_Time) in the same sample: rush hours at 7-8 and 15-17.
constexpr std::array<double, 24> kHourWeights = {111, 97,  109, 89,  154, 263, 426, 609,
                                                 627, 377, 392, 350, 371, 382, 407, 535,
                                                 585, 574, 478, 301, 222, 185, 170, 117};
// Sunday..Saturday and January..December factors (fewer accidents on weekends, more in the
// dark, wet months).
constexpr std::array<double, 7> kWeekdayFactor = {0.58, 1.1, 1.12, 1.12, 1.13, 1.2, 0.72};
constexpr std::array<double, 12> kMonthFactor = {1.1,  1.05, 0.95, 0.9,  0.92, 0.9,
                                                 0.88, 0.95, 1.0,  1.08, 1.12, 1.15};
constexpr double kAccidentsPerDay = 2500;  // the full data set's average over its 7 years
constexpr double kMeanHourWeight = 7931.0 / 24;

struct ZipRange {
  const char* state;
  int lo, hi;  // first three digits
};
constexpr ZipRange kZipRanges[] = {
    {"AL", 350, 369}, {"AR", 716, 729}, {"AZ", 850, 865}, {"CA", 900, 961}, {"CO", 800, 816},
    {"CT", 60, 69},   {"DC", 200, 205}, {"DE", 197, 199}, {"FL", 320, 349}, {"GA", 300, 319},
    {"IA", 500, 528}, {"ID", 832, 838}, {"IL", 600, 629}, {"IN", 460, 479}, {"KS", 660, 679},
    {"KY", 400, 427}, {"LA", 700, 714}, {"MA", 10, 27},   {"MD", 206, 219}, {"ME", 39, 49},
    {"MI", 480, 499}, {"MN", 550, 567}, {"MO", 630, 658}, {"MS", 386, 397}, {"MT", 590, 599},
    {"NC", 270, 289}, {"ND", 580, 588}, {"NE", 680, 693}, {"NH", 30, 38},   {"NJ", 70, 89},
    {"NM", 870, 884}, {"NV", 889, 898}, {"NY", 100, 149}, {"OH", 430, 458}, {"OK", 730, 749},
    {"OR", 970, 979}, {"PA", 150, 196}, {"RI", 28, 29},   {"SC", 290, 299}, {"SD", 570, 577},
    {"TN", 370, 385}, {"TX", 750, 799}, {"UT", 840, 847}, {"VA", 220, 246}, {"VT", 50, 59},
    {"WA", 980, 994}, {"WI", 530, 549}, {"WV", 247, 268}, {"WY", 820, 831}, {"AK", 995, 999},
    {"HI", 967, 968},
};

struct StateRoads {
  const char* state;
  const char* interstates;  // space separated
};
constexpr StateRoads kInterstates[] = {
    {"AL", "10 20 22 59 65 85"},
    {"AR", "30 40 49 55 530"},
    {"AZ", "8 10 17 19 40"},
    {"CA", "5 8 10 15 40 80 105 110 205 210 215 280 405 505 580 605 680 710 805 880"},
    {"CO", "25 70 76 225 270"},
    {"CT", "84 91 95 291 384 395 691"},
    {"DC", "66 295 395 695"},
    {"DE", "95 295 495"},
    {"FL", "4 10 75 95 175 195 275 295 375 395 595"},
    {"GA", "16 20 75 85 95 185 285 575 675 985"},
    {"IA", "29 35 74 80 129 235 280 380"},
    {"ID", "15 84 86 90 184"},
    {"IL", "24 39 55 57 64 70 72 74 80 88 90 94 190 255 270 290 294 355"},
    {"IN", "64 65 69 70 74 94 265 465 469"},
    {"KS", "35 70 135 335 435 470"},
    {"KY", "24 64 65 69 71 75 264 265 275"},
    {"LA", "10 12 20 49 55 110 210 220 310 510 610"},
    {"MA", "84 90 91 93 95 190 195 290 291 391 495"},
    {"MD", "68 70 81 83 95 97 195 270 295 370 495 695 795 895"},
    {"ME", "95 195 295 395"},
    {"MI", "69 75 94 96 196 275 375 475 675 696"},
    {"MN", "35 90 94 394 494 535 694"},
    {"MO", "29 35 44 49 55 57 64 70 155 170 229 255 270 435 470 635"},
    {"MS", "10 20 22 55 59 69 110 220 269"},
    {"MT", "15 90 94 115"},
    {"NC", "26 40 73 74 77 85 95 140 240 277 285 440 485 540 795 840"},
    {"ND", "29 94"},
    {"NE", "76 80 129 180 480 680"},
    {"NH", "89 93 95 293 393"},
    {"NJ", "76 78 80 95 195 280 287 295 676"},
    {"NM", "10 25 40"},
    {"NV", "11 15 80 515 580"},
    {"NY", "81 84 86 87 88 90 95 190 278 287 390 490 495 587 678 684 690 787"},
    {"OH", "70 71 74 75 76 77 80 90 270 271 275 280 470 475 480 670 675 680"},
    {"OK", "35 40 44 235 240 244 444"},
    {"OR", "5 84 105 205 405"},
    {"PA", "70 76 78 79 80 81 83 84 90 95 99 176 276 283 376 476 579"},
    {"RI", "95 195 295"},
    {"SC", "20 26 77 85 95 126 185 385 526"},
    {"SD", "29 90 190 229"},
    {"TN", "24 26 40 55 65 75 81 155 240 440 640"},
    {"TX", "10 20 27 30 35 37 44 45 69 345 410 610 635 820"},
    {"UT", "15 70 80 84 215"},
    {"VA", "64 66 77 81 85 95 264 295 395 464 495 664"},
    {"VT", "89 91 93"},
    {"WA", "5 82 90 182 205 405 705"},
    {"WI", "39 41 43 90 94 794 894"},
    {"WV", "64 68 70 77 79 81"},
    {"WY", "25 80 90"},
};

constexpr std::array<int, 22> kUsRoutes = {1,  6,  9,  11, 17, 19, 20, 29,  30,  40,  41,
                                           50, 59, 61, 64, 70, 77, 90, 101, 191, 287, 395};

// Weather stations at airports (ICAO code, position): the Airport_Code of an accident is the
// nearest one, as in the real data (whose codes come from the weather observation used).
struct Airport {
  const char* code;
  double lat, lng;
};
constexpr Airport kAirports[] = {
    {"KBHM", 33.56, -86.75},  {"KHSV", 34.64, -86.77},  {"KMOB", 30.69, -88.24},
    {"KMGM", 32.30, -86.39},  {"KLIT", 34.73, -92.22},  {"KXNA", 36.28, -94.31},
    {"KFSM", 35.34, -94.37},  {"KPHX", 33.43, -112.01}, {"KTUS", 32.12, -110.94},
    {"KFLG", 35.14, -111.67}, {"KIWA", 33.31, -111.66}, {"KDVT", 33.69, -112.08},
    {"KLAX", 33.94, -118.41}, {"KSFO", 37.62, -122.38}, {"KSAN", 32.73, -117.19},
    {"KSJC", 37.36, -121.93}, {"KOAK", 37.72, -122.22}, {"KSMF", 38.70, -121.59},
    {"KFAT", 36.78, -119.72}, {"KBUR", 34.20, -118.36}, {"KONT", 34.06, -117.60},
    {"KSNA", 33.68, -117.87}, {"KLGB", 33.82, -118.15}, {"KRIV", 33.88, -117.26},
    {"KBFL", 35.43, -119.06}, {"KSBA", 34.43, -119.84}, {"KRDD", 40.51, -122.29},
    {"KSCK", 37.89, -121.24}, {"KPSP", 33.83, -116.51}, {"KCQT", 34.02, -118.29},
    {"KVNY", 34.21, -118.49}, {"KHWD", 37.66, -122.12}, {"KMRY", 36.59, -121.84},
    {"KSTS", 38.51, -122.81}, {"KDEN", 39.86, -104.67}, {"KCOS", 38.81, -104.70},
    {"KBJC", 39.91, -105.12}, {"KGJT", 39.12, -108.53}, {"KAPA", 39.57, -104.85},
    {"KBDL", 41.94, -72.68},  {"KHVN", 41.26, -72.89},  {"KBDR", 41.16, -73.13},
    {"KGON", 41.33, -72.05},  {"KDCA", 38.85, -77.04},  {"KILG", 39.68, -75.61},
    {"KDOV", 39.13, -75.47},  {"KMIA", 25.79, -80.29},  {"KFLL", 26.07, -80.15},
    {"KMCO", 28.43, -81.31},  {"KTPA", 27.98, -82.53},  {"KJAX", 30.49, -81.69},
    {"KTLH", 30.40, -84.35},  {"KPNS", 30.47, -87.19},  {"KRSW", 26.54, -81.76},
    {"KPBI", 26.68, -80.10},  {"KSRQ", 27.40, -82.55},  {"KDAB", 29.18, -81.06},
    {"KGNV", 29.69, -82.27},  {"KORL", 28.55, -81.33},  {"KSFB", 28.78, -81.24},
    {"KLAL", 27.99, -82.02},  {"KOPF", 25.91, -80.28},  {"KMLB", 28.10, -80.65},
    {"KPIE", 27.91, -82.69},  {"KECP", 30.36, -85.80},  {"KATL", 33.64, -84.43},
    {"KSAV", 32.13, -81.20},  {"KMCN", 32.69, -83.65},  {"KAGS", 33.37, -81.96},
    {"KCSG", 32.52, -84.94},  {"KPDK", 33.88, -84.30},  {"KDSM", 41.53, -93.66},
    {"KCID", 41.88, -91.71},  {"KDBQ", 42.40, -90.71},  {"KBOI", 43.56, -116.22},
    {"KIDA", 43.51, -112.07}, {"KCOE", 47.77, -116.82}, {"KORD", 41.98, -87.90},
    {"KMDW", 41.79, -87.75},  {"KPIA", 40.66, -89.69},  {"KSPI", 39.84, -89.68},
    {"KRFD", 42.20, -89.10},  {"KBMI", 40.48, -88.92},  {"KCMI", 40.04, -88.28},
    {"KDPA", 41.91, -88.25},  {"KIND", 39.72, -86.29},  {"KFWA", 40.98, -85.20},
    {"KSBN", 41.71, -86.32},  {"KEVV", 38.04, -87.53},  {"KGYY", 41.62, -87.41},
    {"KICT", 37.65, -97.43},  {"KTOP", 39.07, -95.62},  {"KOJC", 38.85, -94.74},
    {"KSDF", 38.17, -85.74},  {"KLEX", 38.04, -84.61},  {"KCVG", 39.05, -84.67},
    {"KBWG", 36.96, -86.42},  {"KPAH", 37.06, -88.77},  {"KMSY", 29.99, -90.26},
    {"KBTR", 30.53, -91.15},  {"KSHV", 32.45, -93.83},  {"KLFT", 30.21, -91.99},
    {"KLCH", 30.13, -93.22},  {"KMLU", 32.51, -92.04},  {"KNEW", 30.04, -90.03},
    {"KBOS", 42.36, -71.01},  {"KORH", 42.27, -71.88},  {"KBED", 42.47, -71.29},
    {"KOWD", 42.19, -71.17},  {"KCEF", 42.20, -72.53},  {"KBWI", 39.18, -76.67},
    {"KDMH", 39.28, -76.61},  {"KFDK", 39.42, -77.37},  {"KHGR", 39.71, -77.73},
    {"KSBY", 38.34, -75.51},  {"KGAI", 39.17, -77.17},  {"KADW", 38.81, -76.87},
    {"KPWM", 43.65, -70.31},  {"KBGR", 44.81, -68.83},  {"KDTW", 42.21, -83.35},
    {"KGRR", 42.88, -85.52},  {"KLAN", 42.78, -84.59},  {"KFNT", 42.97, -83.74},
    {"KAZO", 42.23, -85.55},  {"KPTK", 42.67, -83.42},  {"KDET", 42.41, -83.01},
    {"KMKG", 43.17, -86.24},  {"KMSP", 44.88, -93.22},  {"KSTP", 44.93, -93.06},
    {"KDLH", 46.84, -92.19},  {"KRST", 43.91, -92.50},  {"KSTC", 45.55, -94.06},
    {"KFCM", 44.83, -93.46},  {"KANE", 45.15, -93.21},  {"KSTL", 38.75, -90.37},
    {"KMCI", 39.30, -94.71},  {"KSGF", 37.25, -93.39},  {"KCOU", 38.82, -92.22},
    {"KMKC", 39.12, -94.59},  {"KJAN", 32.31, -90.08},  {"KGPT", 30.41, -89.07},
    {"KTUP", 34.27, -88.77},  {"KBIL", 45.81, -108.54}, {"KMSO", 46.92, -114.09},
    {"KGTF", 47.48, -111.37}, {"KBZN", 45.78, -111.15}, {"KHLN", 46.61, -111.98},
    {"KCLT", 35.21, -80.94},  {"KRDU", 35.88, -78.79},  {"KGSO", 36.10, -79.94},
    {"KAVL", 35.44, -82.54},  {"KILM", 34.27, -77.90},  {"KFAY", 34.99, -78.88},
    {"KINT", 36.13, -80.22},  {"KFAR", 46.92, -96.82},  {"KBIS", 46.77, -100.75},
    {"KOMA", 41.30, -95.89},  {"KLNK", 40.85, -96.76},  {"KMHT", 42.93, -71.44},
    {"KPSM", 43.08, -70.82},  {"KEWR", 40.69, -74.17},  {"KTEB", 40.85, -74.06},
    {"KTTN", 40.28, -74.81},  {"KACY", 39.46, -74.58},  {"KMMU", 40.80, -74.41},
    {"KCDW", 40.88, -74.28},  {"KABQ", 35.04, -106.61}, {"KSAF", 35.62, -106.09},
    {"KLRU", 32.29, -106.92}, {"KLAS", 36.08, -115.15}, {"KRNO", 39.50, -119.77},
    {"KVGT", 36.21, -115.20}, {"KJFK", 40.64, -73.78},  {"KLGA", 40.78, -73.87},
    {"KISP", 40.79, -73.10},  {"KALB", 42.75, -73.80},  {"KBUF", 42.94, -78.73},
    {"KROC", 43.12, -77.67},  {"KSYR", 43.11, -76.11},  {"KHPN", 41.07, -73.71},
    {"KFRG", 40.73, -73.41},  {"KSWF", 41.50, -74.10},  {"KBGM", 42.21, -75.98},
    {"KPOU", 41.63, -73.88},  {"KCMH", 39.99, -82.89},  {"KCLE", 41.41, -81.85},
    {"KDAY", 39.90, -84.22},  {"KTOL", 41.59, -83.81},  {"KCAK", 40.92, -81.44},
    {"KLUK", 39.10, -84.42},  {"KBKL", 41.52, -81.68},  {"KOSU", 40.08, -83.07},
    {"KFFO", 39.83, -84.05},  {"KYNG", 41.26, -80.68},  {"KOKC", 35.39, -97.60},
    {"KTUL", 36.20, -95.89},  {"KPWA", 35.53, -97.65},  {"KRVS", 36.04, -95.98},
    {"KPDX", 45.59, -122.60}, {"KEUG", 44.12, -123.21}, {"KSLE", 44.91, -123.00},
    {"KMFR", 42.37, -122.87}, {"KHIO", 45.54, -122.95}, {"KTTD", 45.55, -122.40},
    {"KRDM", 44.25, -121.15}, {"KPHL", 39.87, -75.24},  {"KPIT", 40.49, -80.23},
    {"KABE", 40.65, -75.44},  {"KMDT", 40.19, -76.76},  {"KAVP", 41.34, -75.72},
    {"KERI", 42.08, -80.18},  {"KLNS", 40.12, -76.29},  {"KPNE", 40.08, -75.01},
    {"KAGC", 40.35, -79.93},  {"KRDG", 40.38, -75.97},  {"KUNV", 40.85, -77.85},
    {"KPVD", 41.72, -71.43},  {"KCHS", 32.90, -80.04},  {"KCAE", 33.94, -81.12},
    {"KGSP", 34.90, -82.22},  {"KMYR", 33.68, -78.93},  {"KGMU", 34.85, -82.35},
    {"KCUB", 33.97, -80.99},  {"KFLO", 34.19, -79.72},  {"KAND", 34.49, -82.71},
    {"KFSD", 43.58, -96.74},  {"KRAP", 44.05, -103.06}, {"KBNA", 36.12, -86.68},
    {"KMEM", 35.04, -89.98},  {"KTYS", 35.81, -83.99},  {"KCHA", 35.04, -85.20},
    {"KTRI", 36.48, -82.41},  {"KJWN", 36.18, -86.89},  {"KDFW", 32.90, -97.04},
    {"KDAL", 32.85, -96.85},  {"KIAH", 29.98, -95.34},  {"KHOU", 29.65, -95.28},
    {"KAUS", 30.19, -97.67},  {"KSAT", 29.53, -98.47},  {"KELP", 31.81, -106.38},
    {"KCRP", 27.77, -97.50},  {"KLBB", 33.66, -101.82}, {"KAMA", 35.22, -101.71},
    {"KMAF", 31.94, -102.20}, {"KBRO", 25.91, -97.43},  {"KMFE", 26.18, -98.24},
    {"KACT", 31.61, -97.23},  {"KTYR", 32.35, -95.40},  {"KGLS", 29.27, -94.86},
    {"KBPT", 29.95, -94.02},  {"KDWH", 30.06, -95.55},  {"KSGR", 29.62, -95.66},
    {"KADS", 32.97, -96.84},  {"KFTW", 32.82, -97.36},  {"KGKY", 32.66, -97.09},
    {"KCLL", 30.59, -96.36},  {"KLRD", 27.54, -99.46},  {"KSJT", 31.36, -100.50},
    {"KABI", 32.41, -99.68},  {"KSLC", 40.79, -111.98}, {"KPVU", 40.22, -111.72},
    {"KOGD", 41.20, -112.01}, {"KSGU", 37.04, -113.51}, {"KRIC", 37.51, -77.32},
    {"KORF", 36.89, -76.20},  {"KIAD", 38.94, -77.46},  {"KROA", 37.33, -79.98},
    {"KCHO", 38.14, -78.45},  {"KPHF", 37.13, -76.49},  {"KLYH", 37.33, -79.20},
    {"KEZF", 38.27, -77.45},  {"KJYO", 39.08, -77.56},  {"KHEF", 38.72, -77.52},
    {"KBTV", 44.47, -73.15},  {"KSEA", 47.45, -122.31}, {"KGEG", 47.62, -117.53},
    {"KPAE", 47.91, -122.28}, {"KBFI", 47.53, -122.30}, {"KOLM", 46.97, -122.90},
    {"KYKM", 46.57, -120.54}, {"KPSC", 46.26, -119.12}, {"KBLI", 48.79, -122.54},
    {"KTIW", 47.27, -122.58}, {"KRNT", 47.49, -122.22}, {"KMKE", 42.95, -87.90},
    {"KMSN", 43.14, -89.34},  {"KGRB", 44.48, -88.13},  {"KATW", 44.26, -88.52},
    {"KEAU", 44.87, -91.48},  {"KLSE", 43.88, -91.26},  {"KCRW", 38.37, -81.59},
    {"KHTS", 38.37, -82.56},  {"KMGW", 39.64, -79.92},  {"KCKB", 39.30, -80.23},
    {"KCYS", 41.16, -104.81}, {"KCPR", 42.91, -106.46}, {"KJAC", 43.61, -110.74},
};

constexpr std::array<const char*, 64> kStreetNames = {
    "Main",     "Oak",      "Pine",        "Maple",     "Cedar",     "Elm",        "Washington",
    "Lincoln",  "Park",     "Lake",        "Hill",      "Church",    "Mill",       "Market",
    "Center",   "Jackson",  "Franklin",    "Madison",   "Jefferson", "Highland",   "Sunset",
    "Valley",   "Ridge",    "Spring",      "River",     "Forest",    "Walnut",     "Cherry",
    "Chestnut", "Union",    "Meadow",      "Airport",   "College",   "University", "Industrial",
    "Commerce", "Harbor",   "Bay",         "Beach",     "Ocean",     "Mission",    "Canyon",
    "Mountain", "Prairie",  "County Line", "Old Mill",  "Green",     "Ferguson",   "Parmer",
    "Saratoga", "Victory",  "Liberty",     "Peachtree", "Colonial",  "Heritage",   "Orchard",
    "Willow",   "Sycamore", "Magnolia",    "Dogwood",   "Hickory",   "Britton",    "Brice",
    "Sawmill",
};
constexpr std::array<const char*, 10> kStreetSuffixes = {"St", "Ave", "Rd",   "Blvd", "Dr",
                                                         "Ln", "Way", "Pkwy", "Hwy",  "Ct"};
constexpr std::array<const char*, 16> kCompass = {"N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE",
                                                  "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"};

// Columns of all releases (Dec20's 49), in Dec20 order; a row is built in these slots and written
// in the order of the output schema.
enum Slot : int {
  kId,
  kSource,
  kTmc,
  kSeverity,
  kStartTime,
  kEndTime,
  kStartLat,
  kStartLng,
  kEndLat,
  kEndLng,
  kDistance,
  kDescription,
  kNumber,
  kStreet,
  kSide,
  kCity,
  kCounty,
  kState,
  kZipcode,
  kCountry,
  kTimezone,
  kAirportCode,
  kWeatherTimestamp,
  kTemperature,
  kWindChill,
  kHumidity,
  kPressure,
  kVisibility,
  kWindDirection,
  kWindSpeed,
  kPrecipitation,
  kWeatherCondition,
  kAmenity,
  kBump,
  kCrossing,
  kGiveWay,
  kJunction,
  kNoExit,
  kRailway,
  kRoundabout,
  kStation,
  kStop,
  kTrafficCalming,
  kTrafficSignal,
  kTurningLoop,
  kSunriseSunset,
  kCivilTwilight,
  kNauticalTwilight,
  kAstronomicalTwilight,
  kSlotCount
};

// --- gazetteer -----------------------------------------------------------------------------

struct Place {
  std::string state, city;
  int county = -1;
  double lat = 0, lng = 0, population = 0;
  int airport = 0;
};
struct County {
  std::string fips, state, name;
  double lat = 0, lng = 0, population = 0;
  double places_population = 0;  // people in the listed places (>= 10k) of this county
  int nearest_place = -1;
  int airport = 0;
};
struct StateInfo {
  std::string code;
  WeightedIndex places, counties;
  std::vector<int> interstates;
  int zip_lo = 100, zip_hi = 999;
};

struct Gazetteer {
  std::vector<Place> places;
  std::vector<County> counties;
  std::vector<StateInfo> states;  // the states accidents are drawn from
  WeightedIndex state_index;
};

double distance_sq(double lat1, double lng1, double lat2, double lng2) {
  const double dlng = (lng1 - lng2) * std::cos(lat1 * kDeg);
  return (lat1 - lat2) * (lat1 - lat2) + dlng * dlng;
}

int nearest_airport(double lat, double lng) {
  int best = 0;
  double best_d = 1e300;
  for (size_t i = 0; i < std::size(kAirports); ++i) {
    const double d = distance_sq(lat, lng, kAirports[i].lat, kAirports[i].lng);
    if (d < best_d) {
      best_d = d;
      best = static_cast<int>(i);
    }
  }
  return best;
}

arrow::Result<double> number_field(std::string_view text, std::string_view what) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return arrow::Status::Invalid("embedded gazetteer: bad ", what, " '", text, "'");
  }
  return v;
}

arrow::Result<std::unique_ptr<Gazetteer>> load_gazetteer() {
  auto g = std::make_unique<Gazetteer>();
  std::map<std::string, int, std::less<>> county_by_fips;
  {
    ARROW_ASSIGN_OR_RAISE(
        auto reader, CsvReader::make(make_buffer_source(std::string(embedded::kUsCountiesCsv))));
    ARROW_ASSIGN_OR_RAISE(const CsvRecord* rec, reader->next());  // header
    while (true) {
      ARROW_ASSIGN_OR_RAISE(rec, reader->next());
      if (rec == nullptr) break;
      if (rec->fields.size() != 6) {
        return arrow::Status::Invalid("embedded us_counties.csv line ", rec->line, ": bad row");
      }
      County c;
      c.fips = rec->fields[0];
      c.state = rec->fields[1];
      c.name = rec->fields[2];
      ARROW_ASSIGN_OR_RAISE(c.lat, number_field(rec->fields[3], "lat"));
      ARROW_ASSIGN_OR_RAISE(c.lng, number_field(rec->fields[4], "lng"));
      ARROW_ASSIGN_OR_RAISE(c.population, number_field(rec->fields[5], "population"));
      c.airport = nearest_airport(c.lat, c.lng);
      county_by_fips.emplace(c.fips, static_cast<int>(g->counties.size()));
      g->counties.push_back(std::move(c));
    }
  }
  {
    ARROW_ASSIGN_OR_RAISE(auto reader,
                          CsvReader::make(make_buffer_source(std::string(embedded::kUsPlacesCsv))));
    ARROW_ASSIGN_OR_RAISE(const CsvRecord* rec, reader->next());
    while (true) {
      ARROW_ASSIGN_OR_RAISE(rec, reader->next());
      if (rec == nullptr) break;
      if (rec->fields.size() != 6) {
        return arrow::Status::Invalid("embedded us_places.csv line ", rec->line, ": bad row");
      }
      Place p;
      p.state = rec->fields[0];
      p.city = rec->fields[2];
      // NYC is listed whole and by borough: keep the boroughs, calling Manhattan "New York" as
      // the accident data does.
      if (p.state == "NY" && p.city == "New York") continue;
      if (p.state == "NY" && p.city == "Manhattan") p.city = "New York";
      const auto it = county_by_fips.find(rec->fields[1]);
      if (it == county_by_fips.end()) {
        return arrow::Status::Invalid("embedded us_places.csv line ", rec->line,
                                      ": unknown county ", rec->fields[1]);
      }
      p.county = it->second;
      ARROW_ASSIGN_OR_RAISE(p.lat, number_field(rec->fields[3], "lat"));
      ARROW_ASSIGN_OR_RAISE(p.lng, number_field(rec->fields[4], "lng"));
      ARROW_ASSIGN_OR_RAISE(p.population, number_field(rec->fields[5], "population"));
      p.airport = nearest_airport(p.lat, p.lng);
      g->counties[static_cast<size_t>(p.county)].places_population += p.population;
      g->places.push_back(std::move(p));
    }
  }
  for (const auto& sw : kStateWeights) {
    StateInfo s;
    s.code = sw.state;
    for (size_t i = 0; i < g->places.size(); ++i) {
      s.places.add(g->places[i].state == s.code ? g->places[i].population : 0);
    }
    for (size_t i = 0; i < g->counties.size(); ++i) {
      County& c = g->counties[i];
      // Counties stand for the people outside the listed places (rural roads, small towns).
      s.counties.add(c.state == s.code ? std::max(0.0, c.population - c.places_population) : 0);
      if (c.state != s.code) continue;
      // The city of an accident placed by county: the nearest listed place (>= 10k people).
      double best = 1e300;
      for (size_t k = 0; k < g->places.size(); ++k) {
        if (g->places[k].state != s.code) continue;
        const double d = distance_sq(c.lat, c.lng, g->places[k].lat, g->places[k].lng);
        if (d < best) {
          best = d;
          c.nearest_place = static_cast<int>(k);
        }
      }
    }
    for (const auto& roads : kInterstates) {
      if (s.code != roads.state) continue;
      std::string_view list = roads.interstates;
      while (!list.empty()) {
        int n = 0;
        const auto [end, ec] = std::from_chars(list.data(), list.data() + list.size(), n);
        s.interstates.push_back(n);
        list.remove_prefix(static_cast<size_t>(end - list.data()));
        while (!list.empty() && list.front() == ' ') list.remove_prefix(1);
      }
    }
    for (const auto& zip : kZipRanges) {
      if (s.code == zip.state) {
        s.zip_lo = zip.lo;
        s.zip_hi = zip.hi;
      }
    }
    if (s.places.empty()) {
      return arrow::Status::Invalid("embedded gazetteer has no places in ", s.code);
    }
    g->state_index.add(sw.count);
    g->states.push_back(std::move(s));
  }
  return g;
}

arrow::Result<const Gazetteer*> gazetteer() {
  static std::once_flag once;
  static arrow::Result<std::unique_ptr<Gazetteer>> loaded;
  std::call_once(once, [] { loaded = load_gazetteer(); });
  if (!loaded.ok()) return loaded.status();
  return loaded->get();
}

// --- time and sun --------------------------------------------------------------------------

struct Civil {
  int64_t year;
  unsigned month, day;
};

Civil civil_from_days(int64_t z) {  // Howard Hinnant's algorithm, as in common/time.cc
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp + (mp < 10 ? 3 : -9);
  return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kSecondsPerDay = 86400;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// US daylight saving time (since 2007): second Sunday of March to first Sunday of November.
bool is_dst(int64_t local_seconds) {
  const int64_t days = floor_div(local_seconds, kSecondsPerDay);
  const Civil c = civil_from_days(days);
  auto nth_sunday = [&](unsigned month, int n) {
    const int64_t first = days_from_civil(c.year, month, 1);
    const int64_t weekday = ((first + 4) % 7 + 7) % 7;  // 0 = Sunday
    return first + (7 - weekday) % 7 + 7 * (n - 1);
  };
  const int64_t start = nth_sunday(3, 2) * kSecondsPerDay + 2 * 3600;
  const int64_t end = nth_sunday(11, 1) * kSecondsPerDay + 2 * 3600;
  return local_seconds >= start && local_seconds < end;
}

struct Zone {
  const char* name;
  int offset_hours;  // standard time
  bool dst;
};

Zone zone_for(std::string_view state, double lat, double lng) {
  static constexpr Zone kEastern{"US/Eastern", -5, true}, kCentral{"US/Central", -6, true},
      kMountain{"US/Mountain", -7, true}, kPacific{"US/Pacific", -8, true},
      kArizona{"US/Mountain", -7, false};
  auto in = [&](std::initializer_list<std::string_view> states) {
    return std::find(states.begin(), states.end(), state) != states.end();
  };
  if (state == "AZ") return kArizona;
  if (in({"CA", "NV", "WA"})) return kPacific;
  if (state == "OR") return lng > -117.7 && lat < 44.5 ? kMountain : kPacific;
  if (state == "ID") return lat >= 45.5 ? kPacific : kMountain;
  if (in({"CO", "MT", "NM", "UT", "WY"})) return kMountain;
  if (state == "TX") return lng < -104.9 ? kMountain : kCentral;
  if (in({"KS", "NE", "ND", "SD"})) return lng < -101.0 ? kMountain : kCentral;
  if (state == "FL") return lng < -85.0 ? kCentral : kEastern;
  if (state == "TN") return lng < -85.3 ? kCentral : kEastern;
  if (state == "KY") return lng < -86.0 ? kCentral : kEastern;
  if (state == "IN") return lng < -87.0 ? kCentral : kEastern;
  if (state == "MI") return lng < -87.6 ? kCentral : kEastern;
  if (in({"AL", "AR", "IL", "IA", "LA", "MN", "MS", "MO", "OK", "WI"})) return kCentral;
  return kEastern;
}

// Solar elevation in degrees (NOAA's low-precision formulas) at a UTC time and position.
double solar_elevation(int64_t utc_seconds, double lat, double lng) {
  const int64_t days = floor_div(utc_seconds, kSecondsPerDay);
  const Civil c = civil_from_days(days);
  const double doy = static_cast<double>(days - days_from_civil(c.year, 1, 1) + 1);
  const double hours = static_cast<double>(utc_seconds - days * kSecondsPerDay) / 3600.0;
  const double g = 2 * kPi / 365 * (doy - 1 + (hours - 12) / 24);
  const double eqtime = 229.18 * (0.000075 + 0.001868 * std::cos(g) - 0.032077 * std::sin(g) -
                                  0.014615 * std::cos(2 * g) - 0.040849 * std::sin(2 * g));
  const double decl = 0.006918 - 0.399912 * std::cos(g) + 0.070257 * std::sin(g) -
                      0.006758 * std::cos(2 * g) + 0.000907 * std::sin(2 * g) -
                      0.002697 * std::cos(3 * g) + 0.00148 * std::sin(3 * g);
  const double true_solar_minutes = hours * 60 + eqtime + 4 * lng;
  const double hour_angle = (true_solar_minutes / 4 - 180) * kDeg;
  const double cos_zenith = std::sin(lat * kDeg) * std::sin(decl) +
                            std::cos(lat * kDeg) * std::cos(decl) * std::cos(hour_angle);
  return 90 - std::acos(std::clamp(cos_zenith, -1.0, 1.0)) / kDeg;
}

// --- text formatting -----------------------------------------------------------------------

// A float as Python's repr writes it in these files: shortest round-trip digits, ".0" when whole.
void append_float(std::string& out, double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  v = std::round(v * scale) / scale;
  if (v == 0) v = 0;  // no "-0.0"
  char buf[64];
  const auto end = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed).ptr;
  out.append(buf, static_cast<size_t>(end - buf));
  if (std::memchr(buf, '.', static_cast<size_t>(end - buf)) == nullptr) out += ".0";
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  out.append(buf, static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, v).ptr - buf));
}

// "YYYY-MM-DD hh:mm:ss" plus an optional fraction suffix (March23 mixes three forms).
void append_timestamp(std::string& out, int64_t local_seconds, std::string_view fraction) {
  const size_t at = out.size();
  append_iso8601(local_seconds * kMicrosPerSecond, out);
  out[at + 10] = ' ';
  out.append(fraction);
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

void append_csv_field(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace

arrow::Result<SchemaVersion> parse_format_name(std::string_view name) {
  std::string lower;
  for (char c : name)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower == "dec21") return SchemaVersion::kDec21;
  if (lower == "march23") return SchemaVersion::kMarch23;
  return arrow::Status::Invalid("unknown format '", name, "': expected dec21 or march23");
}

// --- the generator -------------------------------------------------------------------------

struct Generator::State {
  GeneratorOptions options;
  const Gazetteer* gazetteer = nullptr;
  Schema schema;
  std::vector<int> slots;  // schema column -> Slot
  std::string_view line_end;
  Rng rng{0};
  int64_t produced = 0;
  int64_t clock = 0;  // local seconds of the last Start_Time
  double max_rate = 0;
  std::array<std::string, kSlotCount> f;

  bool march23() const { return options.format == SchemaVersion::kMarch23; }

  // Next Start_Time: a Poisson process whose rate follows hour, weekday and month (thinning).
  int64_t next_start_time() {
    while (true) {
      clock += std::max<int64_t>(1, std::llround(rng.exponential(1.0 / max_rate)));
      const int64_t days = floor_div(clock, kSecondsPerDay);
      const auto hour = static_cast<size_t>((clock - days * kSecondsPerDay) / 3600);
      const auto weekday = static_cast<size_t>(((days + 4) % 7 + 7) % 7);
      const unsigned month = civil_from_days(days).month;
      const double rate = kAccidentsPerDay / kSecondsPerDay * kHourWeights[hour] / kMeanHourWeight *
                          kWeekdayFactor[weekday] * kMonthFactor[month - 1];
      if (rng.uniform() * max_rate < rate) return clock;
    }
  }

  std::string local_street() {
    std::string s;
    if (rng.chance(0.2)) s += rng.pick(std::array<const char*, 4>{"N ", "S ", "E ", "W "});
    s += rng.pick(kStreetNames);
    s += ' ';
    s += rng.pick(kStreetSuffixes);
    return s;
  }

  void make_row();
  void write_row(std::string& out);
};

void Generator::State::make_row() {
  for (auto& field : f) field.clear();
  const Gazetteer& g = *gazetteer;
  const int64_t id = options.first_id + produced;
  f[kId] = "A-";
  append_int(f[kId], id);

  // Severity with the real data's shares.
  const double u = rng.uniform();
  const int severity = u < 0.005 ? 1 : u < 0.814 ? 2 : u < 0.981 ? 3 : 4;
  append_int(f[kSeverity], severity);

  // Where: a state as in the real data, then a city by population (80%) or a county by its
  // population outside the listed places (20%: rural roads, small towns).
  const StateInfo& state = g.states[g.state_index.pick(rng)];
  double lat, lng;
  const Place* place;
  const County* county;
  int airport;
  if (rng.chance(0.8) || state.counties.empty()) {
    place = &g.places[state.places.pick(rng)];
    county = &g.counties[place->county];
    const double spread = 0.01 + 0.05 * std::min(1.0, std::sqrt(place->population / 1e6));
    lat = place->lat + rng.normal() * spread;
    lng = place->lng + rng.normal() * spread / std::cos(place->lat * kDeg);
    airport = place->airport;
  } else {
    county = &g.counties[state.counties.pick(rng)];
    place = &g.places[county->nearest_place];
    lat = county->lat + rng.normal() * 0.05;
    lng = county->lng + rng.normal() * 0.05 / std::cos(county->lat * kDeg);
    airport = county->airport;
  }
  const Zone zone = zone_for(state.code, lat, lng);

  // When.
  const int64_t start = next_start_time();
  const double median_minutes[] = {30, 45, 90, 180};
  const auto duration =
      static_cast<int64_t>(60 * median_minutes[severity - 1] * std::exp(0.8 * rng.normal()) + 60);
  std::string_view fraction;
  if (march23()) {
    const double form = rng.uniform();
    fraction = form < 0.098 ? ".000000000" : form < 0.107 ? ".000000" : "";
  }
  append_timestamp(f[kStartTime], start, fraction);
  append_timestamp(f[kEndTime], start + duration, fraction);

  // Road and description.
  const bool highway = rng.chance(severity >= 3 ? 0.55 : 0.4);
  std::string road, road_number, direction;
  if (highway && !state.interstates.empty() && rng.chance(0.7)) {
    const int n = state.interstates[static_cast<size_t>(
        rng.uniform() * static_cast<double>(state.interstates.size()))];
    road_number = "I-" + std::to_string(n);
    direction = n % 2 == 0 ? (rng.chance(0.5) ? "E" : "W") : (rng.chance(0.5) ? "N" : "S");
  } else if (highway) {
    if (rng.chance(0.5)) {
      road_number = "US-" + std::to_string(rng.pick(kUsRoutes));
    } else {
      road_number = state.code + "-" + std::to_string(rng.integer(1, 450));
    }
    direction = rng.pick(std::array<const char*, 4>{"N", "S", "E", "W"});
  }
  if (highway) {
    road = rng.chance(0.6) ? road_number + " " + direction : road_number;
    f[kStreet] = road;
  } else {
    road = local_street();
    // The real files have a leading space in some street names; keep the quirk.
    f[kStreet] = rng.chance(0.08) ? " " + road : road;
  }
  const std::string cross = local_street();
  const std::string cross2 = local_street();
  const int64_t exit = rng.integer(1, 250);
  const int64_t exit2 = exit + rng.integer(2, 12);
  const char* bound = direction == "N"   ? "Northbound"
                      : direction == "S" ? "Southbound"
                      : direction == "E" ? "Eastbound"
                                         : "Westbound";
  const char* lanes =
      severity >= 3
          ? rng.pick(std::array<const char*, 3>{"Two lanes", "Right lane", "Left lane"})
          : rng.pick(std::array<const char*, 4>{"Right lane", "Left lane", "One lane", "Lane"});
  std::string& d = f[kDescription];
  const double style = rng.uniform();
  if (severity == 4 && style < 0.6) {
    d = highway
            ? "Road closed due to accident on " + road + " " + bound + " from " + cross + "/Exit " +
                  std::to_string(exit) + " to " + cross2 + "/Exit " + std::to_string(exit2) + "."
            : "Closed at " + cross + " - Road closed due to accident.";
  } else if (!march23()) {
    if (highway && style < 0.35) {
      d = "At " + cross + "/Exit " + std::to_string(exit) + " - Accident.";
    } else if (highway && style < 0.6) {
      d = "Between " + cross + "/Exit " + std::to_string(exit) + " and " + cross2 + "/Exit " +
          std::to_string(exit2) + " - Accident.";
    } else if (highway) {
      d = std::string(lanes) + " blocked due to accident on " + road_number + " " + bound +
          " at Exit " + std::to_string(exit) + " " + cross + ".";
    } else {
      d = "Accident on " + road + " at " + cross + ".";
    }
  } else {
    if (style < 0.3) {
      d = "Incident on " + upper(highway ? road_number + " " + direction + "B" : road) + " near " +
          upper(cross) + " " +
          rng.pick(std::array<const char*, 3>{"Drive with caution.", "Expect delays.",
                                              "Left shoulder closed."});
    } else if (highway && style < 0.55) {
      d = std::string(severity >= 3 ? "Stationary" : "Slow") + " traffic on " + road + " from " +
          cross + "/Exit " + std::to_string(exit) + " (" + road_number + ") to " + cross2 +
          "/Exit " + std::to_string(exit2) + " (" + road_number + ") due to accident.";
    } else if (highway && style < 0.8) {
      d = std::string(lanes) + " blocked due to accident on " + road_number + " " + bound + " at " +
          cross + ".";
    } else if (style < 0.9) {
      d = "Accident on " + road + " at " + cross + ".";
    } else {
      d = "A crash has occurred use caution.";
    }
  }

  // Position and extent.
  append_float(f[kStartLat], lat, 6);
  append_float(f[kStartLng], lng, 6);
  double distance = march23() && rng.chance(0.42) ? 0 : rng.exponential(march23() ? 1.0 : 0.5);
  if (severity >= 3) distance *= 1.8;
  append_float(f[kDistance], distance, 3);
  if (!march23() || (distance > 0 && rng.chance(0.85))) {
    const double bearing = rng.uniform(0, 2 * kPi);
    const double degrees = distance / 69.0;
    append_float(f[kEndLat], lat + degrees * std::cos(bearing), 6);
    append_float(f[kEndLng], lng + degrees * std::sin(bearing) / std::cos(lat * kDeg), 6);
  }
  if (!highway && rng.chance(0.3)) {
    append_int(f[kNumber], rng.integer(1, 20000));
    f[kNumber] += ".0";
  }
  f[kSide] = rng.chance(0.83) ? "R" : "L";
  f[kCity] = place->city;
  f[kCounty] = county->name;
  f[kState] = state.code;
  {
    char zip[16];
    std::snprintf(zip, sizeof zip, "%03d%02d",
                  static_cast<int>(rng.integer(state.zip_lo, state.zip_hi)),
                  static_cast<int>(rng.integer(1, 99)));
    f[kZipcode] = zip;
    if (rng.chance(0.3)) {
      std::snprintf(zip, sizeof zip, "-%04d", static_cast<int>(rng.integer(1, 9999)));
      f[kZipcode] += zip;
    }
  }
  f[kCountry] = "US";
  f[kTimezone] = zone.name;
  f[kAirportCode] = kAirports[airport].code;
  f[kSource] = march23() ? (rng.chance(0.506)  ? "Source1"
                            : rng.chance(0.97) ? "Source2"
                                               : "Source3")
                         : "MapQuest";
  f[kTmc] = "201.0";

  // Weather at the nearest station's last report (:53 past the hour, as METARs are).
  const int64_t utc = start - (zone.offset_hours + (zone.dst && is_dst(start) ? 1 : 0)) * 3600;
  const int64_t days = floor_div(start, kSecondsPerDay);
  const Civil civil = civil_from_days(days);
  const double hour = static_cast<double>(start - days * kSecondsPerDay) / 3600.0;
  if (!rng.chance(0.015)) {  // ~1.5% of real rows have no weather observation
    int64_t report = start - ((start % 3600 + 3600) % 3600) + 53 * 60;
    if (report > start) report -= 3600;
    append_timestamp(f[kWeatherTimestamp], report, "");
    const double season = std::cos(2 * kPi * (static_cast<double>(civil.month) - 7.5) / 12);
    const double mean = 100 - 1.1 * lat;
    const double amplitude = 10 + 0.8 * std::max(0.0, lat - 20);
    double temp =
        mean + amplitude * season + 8 * std::cos(2 * kPi * (hour - 15) / 24) + 5 * rng.normal();
    const bool winter = temp < 40;
    const double precip_chance =
        0.1 + (winter && lat > 38 ? 0.05 : 0) + (temp > 75 && hour > 12 && hour < 20 ? 0.06 : 0);
    std::string condition;
    double visibility = 10, humidity = rng.uniform(30, 85), precipitation = 0;
    const double w = rng.uniform();
    if (w < precip_chance) {
      const double heavy = rng.uniform();
      if (temp < 33) {
        condition = heavy < 0.75 ? "Light Snow" : heavy < 0.95 ? "Snow" : "Heavy Snow";
        visibility = rng.uniform(0.5, 5);
        precipitation = rng.uniform(0.01, 0.1);
      } else if (temp < 37) {
        condition = heavy < 0.5 ? "Wintry Mix" : "Light Freezing Rain";
        visibility = rng.uniform(1, 7);
        precipitation = rng.uniform(0.01, 0.15);
      } else if (temp > 70 && heavy < 0.3) {
        condition = rng.pick(std::array<const char*, 3>{"T-Storm", "Thunder in the Vicinity",
                                                        "Light Rain with Thunder"});
        visibility = rng.uniform(2, 10);
        precipitation = rng.uniform(0.02, 0.5);
      } else {
        condition = heavy < 0.6   ? "Light Rain"
                    : heavy < 0.8 ? "Rain"
                    : heavy < 0.9 ? "Light Drizzle"
                                  : "Heavy Rain";
        visibility = heavy < 0.6 ? rng.uniform(4, 10) : rng.uniform(1, 6);
        precipitation = rng.uniform(0.01, 0.3);
      }
      humidity = rng.uniform(80, 100);
    } else if (w < precip_chance + 0.015 && hour < 10) {
      condition = "Fog";
      visibility = rng.uniform(0.1, 2);
      humidity = rng.uniform(93, 100);
    } else if (w < precip_chance + 0.03) {
      condition = lng < -110 && civil.month >= 7 && civil.month <= 10 ? "Smoke" : "Haze";
      visibility = rng.uniform(2, 7);
    } else {
      const double sky = rng.uniform();
      if (march23()) {
        condition = sky < 0.42   ? "Fair"
                    : sky < 0.55 ? "Mostly Cloudy"
                    : sky < 0.68 ? "Cloudy"
                    : sky < 0.8  ? "Partly Cloudy"
                    : sky < 0.93 ? "Clear"
                                 : "Overcast";
      } else {
        condition = sky < 0.45   ? "Clear"
                    : sky < 0.62 ? "Overcast"
                    : sky < 0.78 ? "Mostly Cloudy"
                    : sky < 0.9  ? "Scattered Clouds"
                                 : "Partly Cloudy";
      }
    }
    const double wind = std::abs(7 + 5 * rng.normal());
    const bool calm = wind < 3;
    if (march23() && !calm && wind > 20 && condition.find('/') == std::string::npos) {
      condition += " / Windy";
    }
    append_float(f[kTemperature], temp, 1);
    if (temp < 50 && wind > 3) {
      const double v = std::pow(wind, 0.16);
      append_float(f[kWindChill], 35.74 + 0.6215 * temp - 35.75 * v + 0.4275 * temp * v, 1);
    } else if (march23() || rng.chance(0.5)) {
      append_float(f[kWindChill], temp, 1);
    }
    append_float(f[kHumidity], std::round(humidity), 1);
    const bool mountain = zone.offset_hours == -7;
    append_float(f[kPressure], (mountain ? 25.6 : 30.0) + 0.2 * rng.normal(), 2);
    append_float(f[kVisibility],
                 visibility < 1 ? std::round(visibility * 4) / 4 : std::round(visibility), 2);
    if (calm) {
      f[kWindDirection] = march23() && rng.chance(0.7) ? "CALM" : "Calm";
      f[kWindSpeed] = "0.0";
    } else {
      f[kWindDirection] = rng.chance(0.05) ? (march23() ? "VAR" : "Variable") : rng.pick(kCompass);
      append_float(f[kWindSpeed], std::round(wind), 1);
    }
    if (precipitation > 0 || march23() || rng.chance(0.3)) {
      append_float(f[kPrecipitation], precipitation, 2);
    }
    f[kWeatherCondition] = condition;
  }

  // Points of interest nearby, with the real data's frequencies (none on interstates).
  auto flag = [&](Slot slot, double p) { f[slot] = rng.chance(p) ? "True" : "False"; };
  const double urban = highway ? 0.25 : 1.3;
  flag(kAmenity, 0.013 * urban);
  flag(kBump, 0.0005 * urban);
  flag(kCrossing, 0.11 * urban);
  flag(kGiveWay, 0.0055 * urban);
  flag(kJunction, highway ? 0.2 : 0.02);
  flag(kNoExit, 0.002 * urban);
  flag(kRailway, 0.01 * urban);
  flag(kRoundabout, 0.0002 * urban);
  flag(kStation, 0.028 * urban);
  flag(kStop, 0.026 * urban);
  flag(kTrafficCalming, 0.0012 * urban);
  flag(kTrafficSignal, 0.15 * urban);
  f[kTurningLoop] = "False";

  // Sun phases from the sun's elevation at the accident's place and time.
  const double elevation = solar_elevation(utc, lat, lng);
  f[kSunriseSunset] = elevation > -0.833 ? "Day" : "Night";
  f[kCivilTwilight] = elevation > -6 ? "Day" : "Night";
  f[kNauticalTwilight] = elevation > -12 ? "Day" : "Night";
  f[kAstronomicalTwilight] = elevation > -18 ? "Day" : "Night";
  ++produced;
}

void Generator::State::write_row(std::string& out) {
  for (size_t i = 0; i < slots.size(); ++i) {
    if (i > 0) out.push_back(',');
    append_csv_field(out, f[static_cast<size_t>(slots[i])]);
  }
  out.append(line_end);
}

Generator::Generator(std::unique_ptr<State> state) : state_(std::move(state)) {}
Generator::~Generator() = default;

arrow::Result<std::unique_ptr<Generator>> Generator::make(const GeneratorOptions& options) {
  if (options.rows < 0) return arrow::Status::Invalid("generator: rows must be >= 0");
  if (options.format != SchemaVersion::kDec21 && options.format != SchemaVersion::kMarch23) {
    return arrow::Status::Invalid("generator: format must be Dec21 or March23, not ",
                                  schema_version_name(options.format));
  }
  auto state = std::make_unique<State>();
  state->options = options;
  ARROW_ASSIGN_OR_RAISE(state->gazetteer, gazetteer());
  state->schema = options.format == SchemaVersion::kDec21 ? Schema::dec21() : Schema::march23();
  const Schema& all = Schema::dec20();
  for (const Column& column : state->schema.columns()) {
    state->slots.push_back(all.index_of(column.name));
  }
  // The real files: Dec21 was published with CRLF line ends, March23 with LF.
  state->line_end = options.format == SchemaVersion::kDec21 ? "\r\n" : "\n";
  state->rng = Rng(options.seed);
  const EpochMicros default_start = options.format == SchemaVersion::kDec21
                                        ? days_from_civil(2016, 2, 8) * 86400000000LL
                                        : days_from_civil(2022, 1, 1) * 86400000000LL;
  state->clock = floor_div(options.start.value_or(default_start), kMicrosPerSecond);
  state->max_rate = kAccidentsPerDay / kSecondsPerDay * 627 / kMeanHourWeight * 1.2 * 1.15;
  return std::unique_ptr<Generator>(new Generator(std::move(state)));
}

const Schema& Generator::schema() const { return state_->schema; }

std::string Generator::header() const {
  return state_->schema.header_line() + std::string(state_->line_end);
}

bool Generator::next_row(std::string& out) {
  if (state_->produced >= state_->options.rows) return false;
  state_->make_row();
  state_->write_row(out);
  return true;
}

int64_t Generator::rows_produced() const { return state_->produced; }

namespace {

class GeneratorSource final : public ByteSource {
 public:
  explicit GeneratorSource(std::unique_ptr<Generator> generator)
      : generator_(std::move(generator)), pending_(generator_->header()) {}

  arrow::Result<size_t> read(char* out, size_t capacity) override {
    while (pending_.size() - offset_ < capacity && generator_->next_row(pending_)) {
    }
    const size_t n = std::min(capacity, pending_.size() - offset_);
    std::memcpy(out, pending_.data() + offset_, n);
    offset_ += n;
    if (offset_ == pending_.size()) {
      pending_.clear();
      offset_ = 0;
    } else if (offset_ > (1u << 20)) {
      pending_.erase(0, offset_);
      offset_ = 0;
    }
    return n;
  }

 private:
  std::unique_ptr<Generator> generator_;
  std::string pending_;
  size_t offset_ = 0;
};

}  // namespace

std::unique_ptr<ByteSource> make_generator_source(std::unique_ptr<Generator> generator) {
  return std::make_unique<GeneratorSource>(std::move(generator));
}

}  // namespace roadpulse::record
