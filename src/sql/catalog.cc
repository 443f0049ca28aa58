#include "sql/catalog.h"

#include <algorithm>

namespace roadpulse::sql {

int CatalogTable::find_column(std::string_view column) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == column) return static_cast<int>(i);
  }
  return -1;
}

Schema CatalogTable::schema() const {
  Schema s;
  for (const auto& c : columns) s.fields.push_back({c.name, c.type});
  return s;
}

Schema CatalogTable::physical_schema() const {
  Schema s;
  for (const auto& c : columns) {
    if (c.is_physical()) s.fields.push_back({c.name, c.type.without_time_attribute()});
  }
  return s;
}

std::vector<int> CatalogTable::physical_column_indices() const {
  std::vector<int> out;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].is_physical()) out.push_back(static_cast<int>(i));
  }
  return out;
}

std::optional<std::string> CatalogTable::option(std::string_view key) const {
  auto it = options.find(std::string(key));
  if (it == options.end()) return std::nullopt;
  return it->second;
}

std::string Catalog::normalize_name(std::string_view name) {
  for (std::string_view prefix : {"default_catalog.default_database.", "default_database."}) {
    if (name.starts_with(prefix)) return std::string(name.substr(prefix.size()));
  }
  return std::string(name);
}

arrow::Status Catalog::create_table(std::shared_ptr<const CatalogTable> table, bool if_not_exists) {
  const std::string name = normalize_name(table->name);
  if (tables_.contains(name) || views_.contains(name)) {
    if (if_not_exists) return arrow::Status::OK();
    return arrow::Status::AlreadyExists("table or view '", name, "' already exists");
  }
  tables_.emplace(name, std::move(table));
  return arrow::Status::OK();
}

arrow::Status Catalog::drop_table(std::string_view name, bool if_exists) {
  auto it = tables_.find(normalize_name(name));
  if (it == tables_.end()) {
    if (if_exists) return arrow::Status::OK();
    if (views_.contains(normalize_name(name))) {
      return arrow::Status::Invalid("'", name, "' is a view; use DROP VIEW");
    }
    return arrow::Status::KeyError("table '", name, "' does not exist");
  }
  tables_.erase(it);
  return arrow::Status::OK();
}

arrow::Status Catalog::create_view(std::shared_ptr<const CatalogView> view, bool if_not_exists) {
  const std::string name = normalize_name(view->name);
  if (tables_.contains(name) || views_.contains(name)) {
    if (if_not_exists) return arrow::Status::OK();
    return arrow::Status::AlreadyExists("table or view '", name, "' already exists");
  }
  views_.emplace(name, std::move(view));
  return arrow::Status::OK();
}

arrow::Status Catalog::drop_view(std::string_view name, bool if_exists) {
  auto it = views_.find(normalize_name(name));
  if (it == views_.end()) {
    if (if_exists) return arrow::Status::OK();
    return arrow::Status::KeyError("view '", name, "' does not exist");
  }
  views_.erase(it);
  return arrow::Status::OK();
}

std::shared_ptr<const CatalogTable> Catalog::table(std::string_view name) const {
  auto it = tables_.find(normalize_name(name));
  return it == tables_.end() ? nullptr : it->second;
}

std::shared_ptr<const CatalogView> Catalog::view(std::string_view name) const {
  auto it = views_.find(normalize_name(name));
  return it == views_.end() ? nullptr : it->second;
}

std::vector<std::string> Catalog::table_names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : tables_) out.push_back(k);
  for (const auto& [k, v] : views_) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Catalog::view_names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : views_) out.push_back(k);
  return out;
}

}  // namespace roadpulse::sql
