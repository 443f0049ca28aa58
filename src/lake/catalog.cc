// The catalog: one JSON document per table in `<lake>/_catalog/<name>.json`, replaced atomically.
// Read-modify-write updates (add_files) hold an exclusive flock on `<dir>/.lock`, so two
// processes committing into the same catalog serialize; readers need no lock because a document
// is only ever replaced by rename.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>

#include "lake/lake.h"

namespace roadpulse::lake {

namespace fs = std::filesystem;

int64_t PartitionEntry::rows() const {
  int64_t n = 0;
  for (const auto& f : files) n += f.rows;
  return n;
}
int64_t PartitionEntry::bytes() const {
  int64_t n = 0;
  for (const auto& f : files) n += f.bytes;
  return n;
}
int64_t TableEntry::rows() const {
  int64_t n = 0;
  for (const auto& [_, p] : partitions) n += p.rows();
  return n;
}
int64_t TableEntry::bytes() const {
  int64_t n = 0;
  for (const auto& [_, p] : partitions) n += p.bytes();
  return n;
}
size_t TableEntry::file_count() const {
  size_t n = 0;
  for (const auto& [_, p] : partitions) n += p.files.size();
  return n;
}

namespace {

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out.push_back(char(c));
        }
    }
  }
  out += '"';
  return out;
}

int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Names become file names: keep them to a safe alphabet.
arrow::Status check_name(const std::string& name) {
  if (name.empty() || name.size() > 200 || name[0] == '.') {
    return arrow::Status::Invalid("invalid lake table name '", name, "'");
  }
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      return arrow::Status::Invalid("invalid lake table name '", name,
                                    "': use letters, digits, '_', '-' and '.'");
    }
  }
  return arrow::Status::OK();
}

class DirLock {
 public:
  static arrow::Result<DirLock> acquire(const std::string& dir) {
    const std::string path = dir + "/.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return arrow::Status::IOError("cannot open '", path, "': ", strerror(errno));
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return arrow::Status::IOError("cannot lock '", path, "': ", strerror(err));
    }
    return DirLock(fd);
  }
  DirLock(DirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DirLock(const DirLock&) = delete;
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
  }

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

std::string Catalog::to_json(const TableEntry& table) {
  std::string out = "{\n";
  out += fmt::format("  \"name\": {},\n", quote(table.name));
  out += fmt::format("  \"location\": {},\n", quote(table.location));
  out += fmt::format("  \"format\": {},\n", quote(table.format));
  out += fmt::format("  \"updated_micros\": {},\n", table.updated_micros);
  out += fmt::format("  \"row_count\": {},\n", table.rows());
  out += "  \"columns\": [";
  if (table.schema) {
    for (int i = 0; i < table.schema->num_fields(); ++i) {
      const auto& f = table.schema->field(i);
      out += fmt::format("{}\n    {{\"name\": {}, \"type\": {}, \"nullable\": {}}}", i ? "," : "",
                         quote(f->name()), quote(type_name(*f->type())),
                         f->nullable() ? "true" : "false");
    }
  }
  out += "\n  ],\n  \"partition_keys\": [";
  for (size_t i = 0; i < table.partition_keys.size(); ++i) {
    out += fmt::format("{}{}", i ? ", " : "", quote(table.partition_keys[i]));
  }
  out += "],\n  \"partitions\": [";
  bool first_partition = true;
  for (const auto& [path, partition] : table.partitions) {
    out += fmt::format("{}\n    {{\"path\": {}, \"row_count\": {}, \"files\": [",
                       first_partition ? "" : ",", quote(path), partition.rows());
    first_partition = false;
    for (size_t i = 0; i < partition.files.size(); ++i) {
      const auto& f = partition.files[i];
      out += fmt::format("{}\n      {{\"name\": {}, \"rows\": {}, \"bytes\": {}}}", i ? "," : "",
                         quote(f.name), f.rows, f.bytes);
    }
    out += "]}";
  }
  out += "\n  ]\n}\n";
  return out;
}

arrow::Result<TableEntry> Catalog::from_json(const std::string& json, const std::string& origin) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto fail = [&](const std::string& what) {
    return arrow::Status::Invalid("catalog entry '", origin, "': ", what);
  };
  if (parser.parse(json).get(doc)) return fail("not valid JSON");
  TableEntry table;
  std::string_view sv;
  if (doc["name"].get_string().get(sv)) return fail("missing \"name\"");
  table.name = std::string(sv);
  if (doc["location"].get_string().get(sv)) return fail("missing \"location\"");
  table.location = std::string(sv);
  if (doc["format"].get_string().get(sv)) return fail("missing \"format\"");
  table.format = std::string(sv);
  int64_t updated = 0;
  if (!doc["updated_micros"].get_int64().get(updated)) table.updated_micros = updated;
  simdjson::dom::array columns;
  if (doc["columns"].get_array().get(columns)) return fail("missing \"columns\"");
  arrow::FieldVector fields;
  for (auto column : columns) {
    std::string_view name, type;
    if (column["name"].get_string().get(name) || column["type"].get_string().get(type)) {
      return fail("a column lacks \"name\" or \"type\"");
    }
    bool nullable = true;
    if (column["nullable"].get_bool().get(nullable)) nullable = true;
    auto arrow_type = type_from_name(std::string(type));
    if (!arrow_type.ok()) return fail(arrow_type.status().message());
    fields.push_back(arrow::field(std::string(name), *arrow_type, nullable));
  }
  table.schema = arrow::schema(std::move(fields));
  simdjson::dom::array keys;
  if (doc["partition_keys"].get_array().get(keys)) return fail("missing \"partition_keys\"");
  for (auto key : keys) {
    if (key.get_string().get(sv)) return fail("partition key is not a string");
    table.partition_keys.emplace_back(sv);
  }
  simdjson::dom::array partitions;
  if (doc["partitions"].get_array().get(partitions)) return fail("missing \"partitions\"");
  for (auto p : partitions) {
    PartitionEntry entry;
    if (p["path"].get_string().get(sv)) return fail("a partition lacks \"path\"");
    entry.path = std::string(sv);
    simdjson::dom::array files;
    if (p["files"].get_array().get(files)) return fail("partition lacks \"files\"");
    for (auto f : files) {
      DataFile file;
      if (f["name"].get_string().get(sv) || f["rows"].get_int64().get(file.rows) ||
          f["bytes"].get_int64().get(file.bytes)) {
        return fail("a file of partition '" + entry.path + "' lacks name/rows/bytes");
      }
      file.name = std::string(sv);
      entry.files.push_back(std::move(file));
    }
    table.partitions[entry.path] = std::move(entry);
  }
  return table;
}

arrow::Result<std::unique_ptr<Catalog>> Catalog::open(std::string dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return arrow::Status::IOError("cannot create catalog '", dir, "': ", ec.message());
  // Leftover temporaries of an interrupted put() are never the current version: drop them.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".tmp") fs::remove(entry.path(), ec);
  }
  return std::unique_ptr<Catalog>(new Catalog(fs::absolute(dir).lexically_normal().string()));
}

std::string Catalog::path_of(const std::string& name) const { return dir_ + "/" + name + ".json"; }

arrow::Result<std::vector<std::string>> Catalog::table_names() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const auto& path = entry.path();
    if (path.extension() == ".json" && path.filename().string()[0] != '.') {
      names.push_back(path.stem().string());
    }
  }
  if (ec) return arrow::Status::IOError("listing catalog '", dir_, "': ", ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

arrow::Result<std::optional<TableEntry>> Catalog::find(const std::string& name) const {
  ARROW_RETURN_NOT_OK(check_name(name));
  const std::string path = path_of(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::optional<TableEntry>();
  std::ostringstream buffer;
  buffer << in.rdbuf();
  ARROW_ASSIGN_OR_RAISE(auto table, from_json(buffer.str(), path));
  return std::optional<TableEntry>(std::move(table));
}

arrow::Result<TableEntry> Catalog::get(const std::string& name) const {
  ARROW_ASSIGN_OR_RAISE(auto table, find(name));
  if (!table) {
    return arrow::Status::KeyError("lake table '", name, "' is not in the catalog ", dir_,
                                   " (see `roadpulse lake tables`)");
  }
  return std::move(*table);
}

arrow::Status Catalog::put(const TableEntry& table) {
  ARROW_RETURN_NOT_OK(check_name(table.name));
  TableEntry copy = table;
  copy.updated_micros = now_micros();
  return write_file_atomically(path_of(table.name), to_json(copy));
}

arrow::Status Catalog::drop(const std::string& name) {
  ARROW_RETURN_NOT_OK(check_name(name));
  ARROW_ASSIGN_OR_RAISE(auto lock, DirLock::acquire(dir_));
  std::error_code ec;
  if (!fs::remove(path_of(name), ec)) {
    return arrow::Status::KeyError("lake table '", name, "' is not in the catalog");
  }
  return fsync_directory(dir_);
}

arrow::Result<std::shared_ptr<arrow::Schema>> evolve_schema(const TableEntry& table,
                                                            const TableEntry& incoming) {
  if (!incoming.location.empty() && !table.location.empty() &&
      incoming.location != table.location) {
    return arrow::Status::Invalid("lake table '", table.name, "' is at '", table.location,
                                  "'; a writer for '", incoming.location,
                                  "' cannot add files to it (use another table name)");
  }
  if (!incoming.schema || !table.schema) return table.schema ? table.schema : incoming.schema;
  if (incoming.partition_keys != table.partition_keys) {
    return arrow::Status::Invalid("lake table '", table.name, "' is partitioned by (",
                                  fmt::format("{}", fmt::join(table.partition_keys, ", ")),
                                  ") but the new files by (",
                                  fmt::format("{}", fmt::join(incoming.partition_keys, ", ")),
                                  "): write to a new table or drop this one");
  }
  arrow::FieldVector fields = table.schema->fields();
  for (const auto& f : incoming.schema->fields()) {
    auto current = table.schema->GetFieldByName(f->name());
    if (!current) {
      fields.push_back(f->WithNullable(true));  // older files read it as NULL
      continue;
    }
    if (!current->type()->Equals(*f->type())) {
      return arrow::Status::Invalid("lake table '", table.name, "': column '", f->name(), "' is ",
                                    type_name(*current->type()), " in the catalog but ",
                                    type_name(*f->type()),
                                    " in the new files; a column's type cannot change (write to "
                                    "a new table, or add a column under a new name)");
    }
  }
  return arrow::schema(std::move(fields));
}

arrow::Status Catalog::add_files(const TableEntry& prototype,
                                 const std::vector<CommittedFile>& files) {
  ARROW_RETURN_NOT_OK(check_name(prototype.name));
  ARROW_ASSIGN_OR_RAISE(auto lock, DirLock::acquire(dir_));
  ARROW_ASSIGN_OR_RAISE(auto existing, find(prototype.name));
  if (existing) {
    ARROW_ASSIGN_OR_RAISE(auto evolved, evolve_schema(*existing, prototype));
    existing->schema = std::move(evolved);
  }
  TableEntry table = existing ? std::move(*existing) : prototype;
  for (const auto& committed : files) {
    auto& partition = table.partitions[committed.partition];
    partition.path = committed.partition;
    bool present = false;
    for (const auto& f : partition.files) present |= f.name == committed.file.name;
    if (!present) partition.files.push_back(committed.file);
  }
  return put(table);
}

}  // namespace roadpulse::lake
