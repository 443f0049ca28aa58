#include "record/csv_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <arrow/status.h>

namespace roadpulse::record {

namespace {

class FileSource final : public ByteSource {
 public:
  FileSource(int fd, bool owned, int64_t size, std::string path)
      : fd_(fd), owned_(owned), size_(size), path_(std::move(path)) {}
  ~FileSource() override {
    if (owned_) ::close(fd_);
  }

  arrow::Result<size_t> read(char* out, size_t capacity) override {
    while (true) {
      const ssize_t n = ::read(fd_, out, capacity);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      return arrow::Status::IOError("reading '", path_, "': ", std::strerror(errno));
    }
  }
  int64_t size_hint() const override { return size_; }

 private:
  int fd_;
  bool owned_;
  int64_t size_;
  std::string path_;
};

class BufferSource final : public ByteSource {
 public:
  explicit BufferSource(std::string data) : data_(std::move(data)) {}
  arrow::Result<size_t> read(char* out, size_t capacity) override {
    const size_t n = std::min(capacity, data_.size() - pos_);
    std::memcpy(out, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  int64_t size_hint() const override { return static_cast<int64_t>(data_.size()); }

 private:
  std::string data_;
  size_t pos_ = 0;
};

std::string_view strip_cr(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

}  // namespace

arrow::Result<std::unique_ptr<ByteSource>> open_file_source(const std::string& path) {
  if (path == "-") return std::make_unique<FileSource>(STDIN_FILENO, false, -1, "<stdin>");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return arrow::Status::IOError("cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return arrow::Status::IOError("cannot read '", path, "': not a regular file");
  }
  const int64_t size = S_ISREG(st.st_mode) ? static_cast<int64_t>(st.st_size) : -1;
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::make_unique<FileSource>(fd, true, size, path);
}

std::unique_ptr<ByteSource> make_buffer_source(std::string data) {
  return std::make_unique<BufferSource>(std::move(data));
}

CsvReader::CsvReader(std::unique_ptr<ByteSource> source, CsvReaderOptions options)
    : source_(std::move(source)), options_(options) {
  buffer_.resize(std::max<size_t>(options_.chunk_size, 64));
}

arrow::Result<std::unique_ptr<CsvReader>> CsvReader::make(std::unique_ptr<ByteSource> source,
                                                          CsvReaderOptions options) {
  if (!source) return arrow::Status::Invalid("CsvReader: null source");
  return std::unique_ptr<CsvReader>(new CsvReader(std::move(source), options));
}

arrow::Result<std::unique_ptr<CsvReader>> CsvReader::open(const std::string& path,
                                                          CsvReaderOptions options) {
  ARROW_ASSIGN_OR_RAISE(auto source, open_file_source(path));
  return make(std::move(source), options);
}

arrow::Result<bool> CsvReader::refill() {
  if (eof_) return false;
  if (pos_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + pos_, end_ - pos_);
    consumed_before_buffer_ += static_cast<int64_t>(pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (end_ == buffer_.size()) {
    // One record fills the whole buffer: grow, within the limit.
    if (end_ >= options_.max_record_bytes) {
      return arrow::Status::Invalid("CSV line ", line_, ": record longer than ",
                                    options_.max_record_bytes,
                                    " bytes (an opening quote without its closing quote?)");
    }
    buffer_.resize(std::min(buffer_.size() * 2, options_.max_record_bytes + 1));
  }
  ARROW_ASSIGN_OR_RAISE(const size_t n,
                        source_->read(buffer_.data() + end_, buffer_.size() - end_));
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += n;
  return true;
}

arrow::Result<const CsvRecord*> CsvReader::next() {
  if (!started_) {
    started_ = true;
    // Fill at least 3 bytes (or reach EOF) so the BOM check sees the whole mark.
    while (end_ < 3 && !eof_) ARROW_RETURN_NOT_OK(refill().status());
    if (end_ >= 3 && std::memcmp(buffer_.data(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;
  }
  while (true) {
    if (pos_ == end_) {
      if (eof_) return nullptr;
      ARROW_RETURN_NOT_OK(refill().status());
      continue;
    }
    const char* start = buffer_.data() + pos_;
    const size_t avail = end_ - pos_;
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', avail));
    if (nl == nullptr && !eof_) {
      ARROW_RETURN_NOT_OK(refill().status());
      continue;
    }
    const size_t line_len = nl ? static_cast<size_t>(nl - start) : avail;
    if (std::memchr(start, '"', line_len) == nullptr) {
      // Fast path: one physical line, no quotes: split on commas in place.
      const std::string_view line = strip_cr(std::string_view(start, line_len));
      const int64_t line_no = line_;
      pos_ += line_len + (nl ? 1 : 0);
      if (nl) ++line_;
      if (line.empty()) continue;  // blank line
      record_.fields.clear();
      record_.error.clear();
      // A plain loop: fields average a few bytes, too short for a memchr call per field.
      const char* field = line.data();
      const char* const line_end = line.data() + line.size();
      for (const char* c = field; c != line_end; ++c) {
        if (*c == ',') {
          record_.fields.emplace_back(field, static_cast<size_t>(c - field));
          field = c + 1;
        }
      }
      record_.fields.emplace_back(field, static_cast<size_t>(line_end - field));
      record_.raw = line;
      record_.line = line_no;
      return &record_;
    }
    if (parse_quoted_record()) return &record_;
    ARROW_RETURN_NOT_OK(refill().status());
  }
}

bool CsvReader::parse_quoted_record() {
  char* const base = buffer_.data();
  const char* const p = base + pos_;
  const char* const e = base + end_;
  // Field spans are resolved to views only once the record is complete: scratch_ may grow.
  std::vector<Span>& spans = spans_;
  spans.clear();
  scratch_.clear();
  record_.error.clear();

  const char* q = p;
  const char* record_end = nullptr;  // end of the record's text (before the terminator)
  const char* next = nullptr;        // first byte after the terminator
  while (record_end == nullptr) {
    if (q < e && *q == '"') {
      const char* const content = ++q;
      bool escaped = false;
      const size_t scratch_start = scratch_.size();
      while (true) {
        const auto* quote = static_cast<const char*>(std::memchr(q, '"', e - q));
        if (quote == nullptr || (quote + 1 == e && !eof_)) {
          if (!eof_) return false;  // the closing quote may be in the next chunk
          record_.error = "unterminated quoted field in field " + std::to_string(spans.size() + 1);
          record_end = e;
          next = e;
          break;
        }
        if (quote + 1 < e && quote[1] == '"') {  // doubled quote: a literal '"'
          if (!escaped) {
            escaped = true;
            scratch_.append(content, static_cast<size_t>(quote + 1 - content));
          } else {
            scratch_.append(q, static_cast<size_t>(quote + 1 - q));
          }
          q = quote + 2;
          continue;
        }
        if (escaped) {
          scratch_.append(q, static_cast<size_t>(quote - q));
          spans.push_back({true, scratch_start, scratch_.size() - scratch_start});
        } else {
          spans.push_back(
              {false, static_cast<size_t>(content - base), static_cast<size_t>(quote - content)});
        }
        q = quote + 1;
        break;
      }
      if (record_end != nullptr) break;
      if (q == e) {
        if (!eof_) return false;
        record_end = next = e;
      } else if (*q == ',') {
        ++q;
        if (q == e && eof_) {  // trailing comma at EOF: one more, empty field
          spans.push_back({false, static_cast<size_t>(q - base), 0});
          record_end = next = e;
        }
      } else if (*q == '\n') {
        record_end = q;
        next = q + 1;
      } else if (*q == '\r' && q + 1 < e && q[1] == '\n') {
        record_end = q;
        next = q + 2;
      } else if (*q == '\r' && q + 1 == e) {
        if (!eof_) return false;
        record_end = q;
        next = e;
      } else {
        record_.error =
            "unexpected character after closing quote in field " + std::to_string(spans.size());
        // Resynchronise at the end of this physical line.
        const auto* nl = static_cast<const char*>(std::memchr(q, '\n', e - q));
        if (nl == nullptr && !eof_) return false;
        record_end = nl ? nl : e;
        next = nl ? nl + 1 : e;
        if (record_end > p && record_end[-1] == '\r') --record_end;
      }
    } else {
      // Unquoted field: up to the next comma or line end. A quote inside it is taken literally,
      // as Python's csv module and spreadsheets do.
      const char* f = q;
      while (q < e && *q != ',' && *q != '\n') ++q;
      if (q == e && !eof_) return false;
      const char* field_end = q;
      if ((q == e || *q == '\n') && field_end > f && field_end[-1] == '\r') --field_end;
      spans.push_back({false, static_cast<size_t>(f - base), static_cast<size_t>(field_end - f)});
      if (q < e && *q == ',') {
        ++q;
        if (q == e && eof_) {
          spans.push_back({false, static_cast<size_t>(q - base), 0});
          record_end = next = e;
        }
      } else {
        record_end = field_end;
        next = q == e ? e : q + 1;
      }
    }
  }

  record_.fields.clear();
  for (const Span& s : spans) {
    record_.fields.emplace_back((s.in_scratch ? scratch_.data() : base) + s.offset, s.length);
  }
  record_.raw = std::string_view(p, static_cast<size_t>(record_end - p));
  record_.line = line_;
  line_ += std::count(p, next, '\n');
  pos_ = static_cast<size_t>(next - base);
  return true;
}

}  // namespace roadpulse::record
