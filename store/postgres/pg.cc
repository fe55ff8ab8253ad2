#include "store/postgres/pg.h"

#include <endian.h>

#include <cstring>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace idv::store::pg {
namespace {

constexpr absl::string_view kSqlStatePayload = "idv.store.pg/sqlstate";

bool IsConnectionState(absl::string_view state) {
  // Class 08 (connection exception) and the admin-shutdown family (57P01..57P03): the server is
  // going or gone; nothing about the statement itself.
  return state.empty() || state.substr(0, 2) == "08" || state == "57P01" || state == "57P02" ||
         state == "57P03";
}

}  // namespace

std::string SqlState(const absl::Status& status) {
  auto p = status.GetPayload(kSqlStatePayload);
  return p.has_value() ? std::string(*p) : "";
}

bool IsRetryable(const absl::Status& status) {
  const std::string state = SqlState(status);
  return state == kSerializationFailure || state == kDeadlockDetected || state == kUniqueViolation;
}

namespace {

void PutInt32(std::string* out, uint32_t v) {
  v = htobe32(v);
  out->append(reinterpret_cast<const char*>(&v), 4);
}

}  // namespace

Array& Array::Add(absl::string_view bytes) {
  PutInt32(&elements_, static_cast<uint32_t>(bytes.size()));
  elements_.append(bytes.data(), bytes.size());
  ++count_;
  return *this;
}

Array& Array::AddInt32(int32_t v) {
  PutInt32(&elements_, 4);
  PutInt32(&elements_, static_cast<uint32_t>(v));
  ++count_;
  return *this;
}

Array& Array::AddInt64(int64_t v) {
  PutInt32(&elements_, 8);
  const uint64_t be = htobe64(static_cast<uint64_t>(v));
  elements_.append(reinterpret_cast<const char*>(&be), 8);
  ++count_;
  return *this;
}

std::string Array::Encode() const {
  std::string out;
  out.reserve(20 + elements_.size());
  PutInt32(&out, 1);  // dimensions
  PutInt32(&out, 0);  // no NULL elements
  PutInt32(&out, oid_);
  PutInt32(&out, static_cast<uint32_t>(count_));
  PutInt32(&out, 1);  // lower bound
  out += elements_;
  return out;
}

Params& Params::Text(std::string value) {
  values_.push_back(std::move(value));
  formats_.push_back(0);
  return *this;
}

Params& Params::Bytes(std::string value) {
  values_.push_back(std::move(value));
  formats_.push_back(1);
  return *this;
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const std::string& v : values_) out.push_back(v.data());
  return out;
}

std::vector<int> Params::lengths() const {
  std::vector<int> out;
  out.reserve(values_.size());
  for (const std::string& v : values_) out.push_back(static_cast<int>(v.size()));
  return out;
}

Params& Params::Time(absl::Time t) {
  return Text(absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone()));
}

int64_t Result::affected() const {
  const char* n = PQcmdTuples(res_.get());
  return (n == nullptr || *n == '\0') ? 0 : std::strtoll(n, nullptr, 10);
}

std::string Result::Bytes(int row, int col) const {
  return std::string(PQgetvalue(res_.get(), row, col), PQgetlength(res_.get(), row, col));
}

int64_t Result::Int64(int row, int col) const {
  uint64_t v = 0;
  if (PQgetlength(res_.get(), row, col) == 8) std::memcpy(&v, PQgetvalue(res_.get(), row, col), 8);
  return static_cast<int64_t>(be64toh(v));
}

int32_t Result::Int32(int row, int col) const {
  uint32_t v = 0;
  if (PQgetlength(res_.get(), row, col) == 4) std::memcpy(&v, PQgetvalue(res_.get(), row, col), 4);
  return static_cast<int32_t>(be32toh(v));
}

absl::StatusOr<std::unique_ptr<Conn>> Conn::Connect(const std::string& dsn) {
  // Defaults first: what the DSN says overrides them.
  const char* keys[] = {
      "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
      "keepalives_count", "application_name", "dbname",          nullptr};
  const char* values[] = {"5", "1", "10", "5", "3", "idvd", dsn.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  auto conn = std::unique_ptr<Conn>(new Conn(raw));
  if (raw == nullptr || PQstatus(raw) != CONNECTION_OK) {
    std::string why = raw == nullptr ? "out of memory" : PQerrorMessage(raw);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL: ", why));
  }
  // Server notices ("relation already exists, skipping") are not errors; keep them off stderr.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  // A statement that waits longer than this (a lock held by a stuck session, a hung server) fails
  // instead of holding a writer or reader thread forever.
  if (absl::StatusOr<Result> r = conn->Exec("SET statement_timeout = '30s'"); !r.ok()) {
    return r.status();
  }
  return conn;
}

Conn::~Conn() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool Conn::ok() const { return !broken_ && conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

absl::StatusOr<Result> Conn::Exec(const std::string& sql, const Params& params) {
  const std::vector<const char*> values = params.pointers();
  const std::vector<int> lengths = params.lengths();
  return Finish(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), lengths.data(), params.formats_.data(),
                             /*resultFormat=*/1));
}

absl::StatusOr<std::string> Conn::PreparedName(const std::string& sql) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    const std::string name = absl::StrCat("idv", prepared_.size());
    absl::StatusOr<Result> made = Finish(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr));
    if (!made.ok()) return made.status();
    it = prepared_.emplace(sql, name).first;
  }
  return it->second;
}

absl::StatusOr<Result> Conn::Prepared(const std::string& sql, const Params& params) {
  absl::StatusOr<std::string> name = PreparedName(sql);
  if (!name.ok()) return name.status();
  const std::vector<const char*> values = params.pointers();
  const std::vector<int> lengths = params.lengths();
  return Finish(PQexecPrepared(conn_, name->c_str(), static_cast<int>(values.size()), values.data(),
                               lengths.data(), params.formats_.data(),
                               /*resultFormat=*/1));
}

absl::Status Conn::Pipeline(const std::vector<std::string>& sqls, const std::vector<Params>& params,
                            const std::function<absl::Status(size_t, const Result&)>& on_result) {
  if (sqls.empty()) return absl::OkStatus();
  std::vector<std::string> names;
  names.reserve(sqls.size());
  for (const std::string& sql : sqls) {  // prepared outside the pipeline, once per connection
    absl::StatusOr<std::string> name = PreparedName(sql);
    if (!name.ok()) return name.status();
    names.push_back(*std::move(name));
  }
  if (PQenterPipelineMode(conn_) != 1) return Failure(nullptr);
  bool sent = true;
  for (size_t i = 0; i < names.size() && sent; ++i) {
    const std::vector<const char*> values = params[i].pointers();
    const std::vector<int> lengths = params[i].lengths();
    sent = PQsendQueryPrepared(conn_, names[i].c_str(), static_cast<int>(values.size()),
                               values.data(), lengths.data(), params[i].formats_.data(),
                               /*resultFormat=*/1) == 1;
  }
  sent = sent && PQpipelineSync(conn_) == 1;
  absl::Status first = sent ? absl::OkStatus() : Failure(nullptr);
  // Every result up to the sync is read, failed or not, so the connection is left clean.
  for (size_t i = 0; sent && i < names.size(); ++i) {
    PGresult* raw = PQgetResult(conn_);
    if (raw == nullptr) {  // the connection broke
      if (first.ok()) first = Failure(nullptr);
      sent = false;
      break;
    }
    const ExecStatusType st = PQresultStatus(raw);
    absl::StatusOr<Result> r =
        st == PGRES_PIPELINE_ABORTED ? absl::AbortedError("not run") : Finish(raw);
    if (st == PGRES_PIPELINE_ABORTED) PQclear(raw);
    if (first.ok()) first = r.ok() ? on_result(i, *r) : r.status();
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);  // the query's end marker
  }
  if (sent) {
    PGresult* sync = PQgetResult(conn_);
    if (sync != nullptr) PQclear(sync);
  }
  // A pipeline that cannot be left (a send failed half way) leaves the connection unusable for
  // plain statements: it is marked broken, so its owner connects again.
  if (ok() && PQexitPipelineMode(conn_) != 1) {
    broken_ = true;
    if (first.ok()) first = absl::UnavailableError("PostgreSQL: the pipeline could not be ended");
  }
  return first;
}

absl::StatusOr<Result> Conn::Finish(PGresult* res) {
  Result r(res);
  const ExecStatusType st = r.res_ ? PQresultStatus(r.res_.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
  return Failure(r.res_.get());
}

absl::Status Conn::Script(const std::string& sql) {
  Result r(PQexec(conn_, sql.c_str()));
  const ExecStatusType st = r.res_ ? PQresultStatus(r.res_.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return absl::OkStatus();
  return Failure(r.res_.get());
}

absl::Status Conn::Failure(const PGresult* res) const {
  const char* state_field = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const std::string state = state_field == nullptr ? "" : state_field;
  std::string message = res ? PQresultErrorMessage(res) : PQerrorMessage(conn_);
  if (message.empty()) message = PQerrorMessage(conn_);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  absl::Status status;
  if (!ok() || IsConnectionState(state)) {
    status = absl::UnavailableError(absl::StrCat("PostgreSQL: ", message));
  } else if (state == kSerializationFailure || state == kDeadlockDetected) {
    status = absl::AbortedError(absl::StrCat("PostgreSQL: ", message));
  } else if (state == kUniqueViolation) {
    status = absl::AlreadyExistsError(absl::StrCat("PostgreSQL: ", message));
  } else {
    status = absl::InternalError(absl::StrCat("PostgreSQL ", state, ": ", message));
  }
  if (!state.empty()) status.SetPayload(kSqlStatePayload, absl::Cord(state));
  return status;
}

absl::Status Conn::ConsumeInput() {
  if (PQconsumeInput(conn_) == 1) return absl::OkStatus();
  std::string why = PQerrorMessage(conn_);
  while (!why.empty() && why.back() == '\n') why.pop_back();
  return absl::UnavailableError(absl::StrCat("PostgreSQL: ", why));
}

std::optional<std::pair<std::string, std::string>> Conn::NextNotification() {
  PGnotify* n = PQnotifies(conn_);
  if (n == nullptr) return std::nullopt;
  std::pair<std::string, std::string> out(n->relname, n->extra);
  PQfreemem(n);
  return out;
}

void Batch::Add(std::string sql, Params params, Handler handler) {
  sqls_.push_back(std::move(sql));
  params_.push_back(std::move(params));
  handlers_.push_back(std::move(handler));
}

absl::Status Batch::Run(Conn& conn) {
  return conn.Pipeline(sqls_, params_, [this](size_t i, const Result& r) {
    return handlers_[i] ? handlers_[i](r) : absl::OkStatus();
  });
}

absl::Status InTransaction(Conn& conn, const std::function<absl::Status()>& body) {
  if (absl::StatusOr<Result> r = conn.Exec("BEGIN"); !r.ok()) return r.status();
  absl::Status s = body();
  if (s.ok()) {
    if (absl::StatusOr<Result> r = conn.Exec("COMMIT"); !r.ok()) s = r.status();
  }
  if (!s.ok() && conn.ok()) (void)conn.Exec("ROLLBACK");
  return s;
}

std::string Interval(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(d), " milliseconds");
}

}  // namespace idv::store::pg
