#include "record/schema.h"

#include <array>
#include <unordered_set>

#include <arrow/status.h>
#include <simdjson.h>

namespace roadpulse::record {

namespace {

using enum FieldType;

struct KnownColumn {
  std::string_view name;
  FieldType type;
};

// Every column of the Dec20, Dec21 and March23 releases with the type of its values. Number and
// TMC are written as floats ("48999.0", "201.0") in the files, so they are doubles. Amenity is a
// flag like the other twelve, even though the seed's DDL declares it VARCHAR.
constexpr std::array<KnownColumn, 50> kKnownColumns = {{
    {"ID", kString},
    {"Source", kString},
    {"TMC", kDouble},
    {"Severity", kInt},
    {"Start_Time", kTimestamp},
    {"End_Time", kTimestamp},
    {"Start_Lat", kDouble},
    {"Start_Lng", kDouble},
    {"End_Lat", kDouble},
    {"End_Lng", kDouble},
    {"Distance(mi)", kDouble},
    {"Description", kString},
    {"Number", kDouble},
    {"Street", kString},
    {"Side", kString},
    {"City", kString},
    {"County", kString},
    {"State", kString},
    {"Zipcode", kString},
    {"Country", kString},
    {"Timezone", kString},
    {"Airport_Code", kString},
    {"Weather_Timestamp", kTimestamp},
    {"Temperature(F)", kDouble},
    {"Wind_Chill(F)", kDouble},
    {"Humidity(%)", kDouble},
    {"Pressure(in)", kDouble},
    {"Visibility(mi)", kDouble},
    {"Wind_Direction", kString},
    {"Wind_Speed(mph)", kDouble},
    {"Precipitation(in)", kDouble},
    {"Weather_Condition", kString},
    {"Amenity", kBool},
    {"Bump", kBool},
    {"Crossing", kBool},
    {"Give_Way", kBool},
    {"Junction", kBool},
    {"No_Exit", kBool},
    {"Railway", kBool},
    {"Roundabout", kBool},
    {"Station", kBool},
    {"Stop", kBool},
    {"Traffic_Calming", kBool},
    {"Traffic_Signal", kBool},
    {"Turning_Loop", kBool},
    {"Sunrise_Sunset", kString},
    {"Civil_Twilight", kString},
    {"Nautical_Twilight", kString},
    {"Astronomical_Twilight", kString},
    {"Txn_Timestamp", kTimestamp},
}};

constexpr std::string_view kDec21Header =
    "ID,Severity,Start_Time,End_Time,Start_Lat,Start_Lng,End_Lat,End_Lng,Distance(mi),"
    "Description,Number,Street,Side,City,County,State,Zipcode,Country,Timezone,Airport_Code,"
    "Weather_Timestamp,Temperature(F),Wind_Chill(F),Humidity(%),Pressure(in),Visibility(mi),"
    "Wind_Direction,Wind_Speed(mph),Precipitation(in),Weather_Condition,Amenity,Bump,Crossing,"
    "Give_Way,Junction,No_Exit,Railway,Roundabout,Station,Stop,Traffic_Calming,Traffic_Signal,"
    "Turning_Loop,Sunrise_Sunset,Civil_Twilight,Nautical_Twilight,Astronomical_Twilight";

constexpr std::string_view kMarch23Header =
    "ID,Source,Severity,Start_Time,End_Time,Start_Lat,Start_Lng,End_Lat,End_Lng,Distance(mi),"
    "Description,Street,City,County,State,Zipcode,Country,Timezone,Airport_Code,"
    "Weather_Timestamp,Temperature(F),Wind_Chill(F),Humidity(%),Pressure(in),Visibility(mi),"
    "Wind_Direction,Wind_Speed(mph),Precipitation(in),Weather_Condition,Amenity,Bump,Crossing,"
    "Give_Way,Junction,No_Exit,Railway,Roundabout,Station,Stop,Traffic_Calming,Traffic_Signal,"
    "Turning_Loop,Sunrise_Sunset,Civil_Twilight,Nautical_Twilight,Astronomical_Twilight";

constexpr std::string_view kDec20Header =
    "ID,Source,TMC,Severity,Start_Time,End_Time,Start_Lat,Start_Lng,End_Lat,End_Lng,"
    "Distance(mi),Description,Number,Street,Side,City,County,State,Zipcode,Country,Timezone,"
    "Airport_Code,Weather_Timestamp,Temperature(F),Wind_Chill(F),Humidity(%),Pressure(in),"
    "Visibility(mi),Wind_Direction,Wind_Speed(mph),Precipitation(in),Weather_Condition,Amenity,"
    "Bump,Crossing,Give_Way,Junction,No_Exit,Railway,Roundabout,Station,Stop,Traffic_Calming,"
    "Traffic_Signal,Turning_Loop,Sunrise_Sunset,Civil_Twilight,Nautical_Twilight,"
    "Astronomical_Twilight";

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

Schema must_parse(std::string_view header) {
  auto schema = Schema::from_header(split_commas(header));
  return std::move(schema).ValueOrDie();  // constant input: cannot fail
}

}  // namespace

std::string_view field_type_name(FieldType type) {
  switch (type) {
    case kString:
      return "string";
    case kInt:
      return "int";
    case kDouble:
      return "double";
    case kBool:
      return "bool";
    case kTimestamp:
      return "timestamp";
  }
  return "?";
}

std::string_view schema_version_name(SchemaVersion version) {
  switch (version) {
    case SchemaVersion::kDec20:
      return "Dec20";
    case SchemaVersion::kDec21:
      return "Dec21";
    case SchemaVersion::kMarch23:
      return "March23";
    case SchemaVersion::kCustom:
      return "custom";
  }
  return "?";
}

FieldType known_column_type(std::string_view name) {
  for (const auto& known : kKnownColumns) {
    if (known.name == name) return known.type;
  }
  return kString;
}

arrow::Result<Schema> Schema::from_header(const std::vector<std::string_view>& names) {
  Schema schema;
  std::unordered_set<std::string_view> seen;
  schema.columns_.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string_view name = names[i];
    if (name.empty()) {
      return arrow::Status::Invalid("CSV header: column ", i + 1, " has an empty name");
    }
    if (!simdjson::validate_utf8(name.data(), name.size())) {
      return arrow::Status::Invalid("CSV header: column ", i + 1, " name is not valid UTF-8");
    }
    if (!seen.insert(name).second) {
      return arrow::Status::Invalid("CSV header: column '", name, "' appears twice");
    }
    schema.columns_.push_back({std::string(name), known_column_type(name)});
  }
  const std::string line = schema.header_line();
  if (line == kDec21Header) {
    schema.version_ = SchemaVersion::kDec21;
  } else if (line == kMarch23Header) {
    schema.version_ = SchemaVersion::kMarch23;
  } else if (line == kDec20Header) {
    schema.version_ = SchemaVersion::kDec20;
  }
  return schema;
}

arrow::Result<Schema> Schema::from_header(const std::vector<std::string>& names) {
  return from_header(std::vector<std::string_view>(names.begin(), names.end()));
}

const Schema& Schema::dec20() {
  static const Schema schema = must_parse(kDec20Header);
  return schema;
}

const Schema& Schema::dec21() {
  static const Schema schema = must_parse(kDec21Header);
  return schema;
}

const Schema& Schema::march23() {
  static const Schema schema = must_parse(kMarch23Header);
  return schema;
}

int Schema::index_of(std::string_view name) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string Schema::header_line() const {
  std::string out;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += columns_[i].name;
  }
  return out;
}

}  // namespace roadpulse::record
