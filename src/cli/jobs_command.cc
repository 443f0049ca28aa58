// `roadpulse jobs list|show|cancel --server URL`: the jobs a running server runs (the pipeline's
// and those submitted with `roadpulse sql --server`), like Flink's `flink list` / `flink cancel`.

#include <iostream>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/http_client.h"
#include "server/document.h"

namespace roadpulse::cli {

namespace {

using server::Document;

struct JobsArgs {
  std::string server = "http://127.0.0.1:8080";
  std::string id;
  bool json = false;
};

int64_t member_int(const Document& doc, const char* key) {
  const Document* v = doc.find(key);
  return v && v->kind() == Document::Kind::kInt ? v->as_int() : 0;
}

std::string member_text(const Document& doc, const char* key) {
  const Document* v = doc.find(key);
  return v && v->kind() == Document::Kind::kString ? v->as_string() : "";
}

arrow::Result<Document> get_json(const std::string& url) {
  ARROW_ASSIGN_OR_RAISE(auto reply, http_call("GET", url));
  ARROW_ASSIGN_OR_RAISE(auto doc, server::decode_json(reply.body));
  if (reply.status != 200) {
    const Document* error = doc.find("error");
    return arrow::Status::Invalid(error ? error->as_string() : reply.body);
  }
  return doc;
}

// "1234 (850 ms)", "1234", or "-" when the job has no stream source or has ended.
std::string lag_text(const Document& doc, const char* records_key, const char* millis_key) {
  const Document* records = doc.find(records_key);
  if (!records || records->kind() != Document::Kind::kInt) return "-";
  const Document* millis = doc.find(millis_key);
  if (!millis || millis->kind() != Document::Kind::kInt) return std::to_string(records->as_int());
  return fmt::format("{} ({} ms)", records->as_int(), millis->as_int());
}

void print_header() {
  std::cout << fmt::format("{:<8} {:<10} {:<24} {:>10} {:>10} {:>8} {:>10} {:>18}\n", "ID", "STATE",
                           "NAME", "IN", "OUT", "REJECTED", "RATE/S", "LAG");
}

void print_job_line(const Document& job) {
  const Document* rate = job.find("records_per_second");
  std::cout << fmt::format("{:<8} {:<10} {:<24} {:>10} {:>10} {:>8} {:>10.1f} {:>18}\n",
                           member_text(job, "id"), member_text(job, "state"),
                           member_text(job, "name"), member_int(job, "records_in"),
                           member_int(job, "records_out"), member_int(job, "records_rejected"),
                           !rate                                  ? 0.0
                           : rate->kind() == Document::Kind::kInt ? double(rate->as_int())
                                                                  : rate->as_double(),
                           lag_text(job, "lag_records", "lag_ms"));
  if (auto error = member_text(job, "error"); !error.empty()) {
    std::cout << "         error: " << error << "\n";
  }
}

void setup(CLI::App& root) {
  auto args = std::make_shared<JobsArgs>();
  CLI::App* cmd = root.add_subcommand("jobs", "List, inspect and cancel a server's jobs");
  cmd->require_subcommand(1);
  cmd->add_option("--server", args->server, "URL of the running roadpulse serve/run")
      ->capture_default_str();
  cmd->footer(
      "Examples:\n"
      "  roadpulse jobs list\n"
      "  roadpulse jobs show job-1 --server http://127.0.0.1:8080\n"
      "  roadpulse jobs cancel job-2   # its sinks commit what they wrote");

  CLI::App* list = cmd->add_subcommand("list", "Every job with state, counts and rate");
  list->fallthrough();
  list->add_flag("--json", args->json, "Print the server's JSON");
  list->callback([args] {
    run_command([&]() -> arrow::Status {
      const std::string base = normalize_server_url(args->server);
      ARROW_ASSIGN_OR_RAISE(auto doc, get_json(base + "/api/jobs"));
      if (args->json) {
        std::cout << server::encode_json(doc) << "\n";
        return arrow::Status::OK();
      }
      const Document* jobs = doc.find("jobs");
      if (!jobs || jobs->items().empty()) {
        std::cout << "no jobs\n";
        return arrow::Status::OK();
      }
      print_header();
      for (const auto& job : jobs->items()) print_job_line(job);
      return arrow::Status::OK();
    });
  });

  CLI::App* show = cmd->add_subcommand("show", "One job: sources, sinks, SQL");
  show->fallthrough();
  show->add_option("job", args->id, "Job id (job-N) or name")->required();
  show->callback([args] {
    run_command([&]() -> arrow::Status {
      const std::string base = normalize_server_url(args->server);
      ARROW_ASSIGN_OR_RAISE(auto job, get_json(base + "/api/jobs/" + args->id));
      print_header();
      print_job_line(job);
      if (const Document* sources = job.find("sources")) {
        for (const auto& s : sources->items()) {
          std::cout << fmt::format("  read    {:>10} from {} ({}), {} rejected\n",
                                   member_int(s, "records_read"), member_text(s, "table"),
                                   member_text(s, "connector"), member_int(s, "records_rejected"));
        }
      }
      if (const Document* lag = job.find("lag")) {
        for (const auto& s : lag->items()) {
          std::cout << fmt::format("  lag     {:>10} on   {} ({})\n",
                                   lag_text(s, "records", "millis"), member_text(s, "table"),
                                   member_text(s, "connector"));
          if (const Document* splits = s.find("splits")) {
            for (const auto& split : splits->items()) {
              std::cout << fmt::format("          {:>10}      {}\n",
                                       lag_text(split, "records", "millis"),
                                       member_text(split, "split"));
            }
          }
        }
      }
      if (const Document* sinks = job.find("sinks")) {
        for (const auto& s : sinks->items()) {
          std::cout << fmt::format("  wrote   {:>10} to   {} ({})\n", member_int(s, "rows_written"),
                                   member_text(s, "table"), member_text(s, "connector"));
        }
      }
      std::cout << "\n" << member_text(job, "sql") << "\n";
      return arrow::Status::OK();
    });
  });

  CLI::App* cancel = cmd->add_subcommand("cancel", "Stop a running job (sinks commit)");
  cancel->fallthrough();
  cancel->add_option("job", args->id, "Job id (job-N) or name")->required();
  cancel->callback([args] {
    run_command([&]() -> arrow::Status {
      const std::string base = normalize_server_url(args->server);
      ARROW_ASSIGN_OR_RAISE(auto reply,
                            http_call("POST", base + "/api/jobs/" + args->id + "/cancel"));
      if (reply.status != 202) {
        auto doc = server::decode_json(reply.body);
        const Document* error = doc.ok() ? doc->find("error") : nullptr;
        return arrow::Status::KeyError(error ? error->as_string() : reply.body);
      }
      std::cout << "cancelling " << args->id << "\n";
      return arrow::Status::OK();
    });
  });
}

const RegisterCommand kRegister(45, &setup);

}  // namespace

}  // namespace roadpulse::cli
