// Append throughput and ack latency of the embedded log under many concurrent appenders, for
// each durability mode, next to the disk's own 4 KiB write+fdatasync rate measured in the same
// run. Prints a table (or --json) with ratios. bench/log_vs_redis.sh adds Redis Streams.
//
//   log_append_benchmark --dir /tmp/x --seconds 5 --threads 32 --shards 4 --batch 100

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "log/log.h"

namespace {

using Clock = std::chrono::steady_clock;
using roadpulse::log::AppendRecord;
using roadpulse::log::Durability;
using roadpulse::log::LogOptions;
using roadpulse::log::LogStore;

struct Args {
  std::string dir = "/tmp/roadpulse-log-bench";
  double seconds = 5;
  int threads = 32;
  int shards = 4;
  int batch = 100;
  int record_bytes = 1200;
  std::string modes = "fsync,interval,none";
  bool json = false;
  std::string out;  // also write the JSON results here
};

struct Result {
  std::string name;
  double records_per_s = 0;
  double mb_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  int64_t calls = 0;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

// The disk's own durable-append rate: 4 KiB pwrite + fdatasync into a preallocated file.
Result raw_fdatasync(const Args& args) {
  const std::string path = args.dir + "/raw-4k.bin";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  const int64_t size = 256LL << 20;
  if (fd < 0 || ::posix_fallocate(fd, 0, size) != 0) {
    std::perror("raw benchmark file");
    std::exit(1);
  }
  std::string block(4096, 'r');
  std::vector<double> lat;
  const auto start = Clock::now();
  int64_t offset = 0, ops = 0;
  while (std::chrono::duration<double>(Clock::now() - start).count() < args.seconds / 2) {
    const auto t0 = Clock::now();
    if (::pwrite(fd, block.data(), block.size(), offset) != 4096 || ::fdatasync(fd) != 0) {
      std::perror("raw write");
      std::exit(1);
    }
    lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    offset = (offset + 4096) % size;
    ++ops;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  std::filesystem::remove(path);
  Result r;
  r.name = "raw 4KiB write+fdatasync";
  r.records_per_s = static_cast<double>(ops) / secs;
  r.mb_per_s = r.records_per_s * 4096 / 1e6;
  r.p50_ms = percentile(lat, 0.50);
  r.p99_ms = percentile(lat, 0.99);
  r.calls = ops;
  return r;
}

Result log_append(const Args& args, Durability durability, const std::string& name) {
  const std::string data_dir = args.dir + "/log-" + name;
  std::filesystem::remove_all(data_dir);
  LogOptions options;
  options.data_dir = data_dir;
  options.durability = durability;
  options.retention_thread = false;
  auto store_result = LogStore::open(options);
  if (!store_result.ok()) {
    std::fprintf(stderr, "%s\n", store_result.status().ToString().c_str());
    std::exit(1);
  }
  auto store = std::move(*store_result);
  if (!store->create_stream("bench", args.shards).ok()) std::exit(1);

  std::atomic<bool> stop{false};
  std::atomic<int64_t> records{0}, calls{0};
  std::vector<std::vector<double>> latencies(args.threads);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int t = 0; t < args.threads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::string payload(args.record_bytes, 'x');
      for (auto& c : payload) c = static_cast<char>('a' + rng() % 26);
      std::vector<std::string> keys(args.batch);
      std::vector<AppendRecord> batch(args.batch);
      auto& lat = latencies[t];
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < args.batch; ++i) {
          keys[i] = "A-" + std::to_string(rng() % 10'000'000);  // like the data set's ID key
          batch[i] = {keys[i], payload, std::nullopt};
        }
        const auto t0 = Clock::now();
        auto result = store->append("bench", batch);
        if (!result.ok()) {
          std::fprintf(stderr, "append: %s\n", result.status().ToString().c_str());
          std::exit(1);
        }
        lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        records.fetch_add(args.batch, std::memory_order_relaxed);
        calls.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(args.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  store.reset();
  std::filesystem::remove_all(data_dir);
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  Result r;
  r.name = "log append, durability=" + name;
  r.records_per_s = static_cast<double>(records.load()) / secs;
  r.mb_per_s = r.records_per_s * args.record_bytes / 1e6;
  r.p50_ms = percentile(all, 0.50);
  r.p99_ms = percentile(all, 0.99);
  r.calls = calls.load();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a.starts_with("--benchmark_out=")) {
      args.out = a.substr(16);  // scripts/bench passes Google Benchmark's flags to every suite
    } else if (a.starts_with("--benchmark_")) {
      continue;  // other Google Benchmark flags do not apply here
    } else if (a == "--dir") {
      args.dir = next();
    } else if (a == "--seconds") {
      args.seconds = std::stod(next());
    } else if (a == "--threads") {
      args.threads = std::stoi(next());
    } else if (a == "--shards") {
      args.shards = std::stoi(next());
    } else if (a == "--batch") {
      args.batch = std::stoi(next());
    } else if (a == "--record-bytes") {
      args.record_bytes = std::stoi(next());
    } else if (a == "--modes") {
      args.modes = next();
    } else if (a == "--json") {
      args.json = true;
    } else {
      std::fprintf(stderr,
                   "usage: log_append_benchmark [--dir DIR] [--seconds S] [--threads T] "
                   "[--shards N] [--batch B] [--record-bytes N] [--modes fsync,interval,none] "
                   "[--json] [--benchmark_out=FILE]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  std::filesystem::create_directories(args.dir);
  std::vector<Result> results;
  const Result raw = raw_fdatasync(args);
  results.push_back(raw);
  for (const auto& [mode, durability] :
       {std::pair{"fsync", Durability::kFsync}, std::pair{"interval", Durability::kInterval},
        std::pair{"none", Durability::kNone}}) {
    if (args.modes.find(mode) == std::string::npos) continue;
    results.push_back(log_append(args, durability, mode));
  }
  std::string json = "[";
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    char buf[512];
    std::snprintf(buf, sizeof(buf),
                  "%s{\"name\":\"%s\",\"records_per_s\":%.0f,\"mb_per_s\":%.1f,"
                  "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"calls\":%lld}",
                  i ? "," : "", r.name.c_str(), r.records_per_s, r.mb_per_s, r.p50_ms, r.p99_ms,
                  static_cast<long long>(r.calls));
    json += buf;
  }
  json += "]\n";
  if (!args.out.empty()) {
    FILE* f = std::fopen(args.out.c_str(), "w");
    if (f == nullptr) {
      std::perror(args.out.c_str());
      return 1;
    }
    std::fputs(json.c_str(), f);
    std::fclose(f);
  }
  if (args.json) {
    std::fputs(json.c_str(), stdout);
    return 0;
  }
  std::printf("%d threads x %d records of %d B per call, %d shards, %.1f s per mode\n",
              args.threads, args.batch, args.record_bytes, args.shards, args.seconds);
  std::printf("%-32s %14s %10s %10s %10s %12s\n", "scenario", "records/s", "MB/s", "p50 ms",
              "p99 ms", "x raw MB/s");
  for (const auto& r : results) {
    std::printf("%-32s %14.0f %10.1f %10.3f %10.3f %12.1f\n", r.name.c_str(), r.records_per_s,
                r.mb_per_s, r.p50_ms, r.p99_ms, r.mb_per_s / raw.mb_per_s);
  }
  return 0;
}
