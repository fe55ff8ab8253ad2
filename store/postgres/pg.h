// A thin layer over libpq: one connection, parameterized statements with binary results, and
// errors as absl::Status carrying the SQLSTATE. Not thread-safe: one thread uses a Conn at a time.
//
// Why libpq rather than a C++ wrapper: the engine needs exact control of what is sent per round
// trip (pipeline mode), of binary parameters (keys and records are bytes; rows travel as binary
// arrays), of the socket (LISTEN/NOTIFY is read with poll), and of every SQLSTATE.
#ifndef IDV_STORE_POSTGRES_PG_H_
#define IDV_STORE_POSTGRES_PG_H_

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace idv::store::pg {

// SQLSTATEs idv acts on.
inline constexpr absl::string_view kSerializationFailure = "40001";
inline constexpr absl::string_view kDeadlockDetected = "40P01";
inline constexpr absl::string_view kUniqueViolation = "23505";

// The SQLSTATE a failed Exec reported ("" when the failure was not the server's answer, e.g. a
// lost connection).
std::string SqlState(const absl::Status& status);

// True for failures a whole transaction may simply be run again after: serialization failure,
// deadlock, and a unique violation caused by a concurrent transaction.
bool IsRetryable(const absl::Status& status);

// A one-dimensional array parameter in PostgreSQL's binary format, so one fixed statement
// (`unnest($1::text[], ...)`) carries any number of rows and is prepared once per connection.
class Array {
 public:
  // Element types.
  static constexpr uint32_t kText = 25, kBytea = 17, kInt4 = 23, kInt8 = 20, kTid = 27;
  explicit Array(uint32_t element_oid) : oid_(element_oid) {}
  Array& Add(absl::string_view bytes);  // text, bytea
  Array& AddInt32(int32_t v);
  Array& AddInt64(int64_t v);
  size_t size() const { return count_; }
  // The array_send encoding: dimensions, element type, then each element's length and bytes.
  std::string Encode() const;

 private:
  uint32_t oid_;
  size_t count_ = 0;
  std::string elements_;
};

// Statement parameters. Text parameters are sent as text (the server parses them by the type the
// statement gives them); Bytes as binary (bytea).
class Params {
 public:
  Params& Text(std::string value);
  Params& Int(int64_t value) { return Text(std::to_string(value)); }
  Params& Bytes(std::string value);
  Params& Arr(const Array& a) { return Bytes(a.Encode()); }
  // A timestamptz, in UTC with microseconds.
  Params& Time(absl::Time t);
  size_t size() const { return values_.size(); }

 private:
  friend class Conn;
  std::vector<const char*> pointers() const;
  std::vector<int> lengths() const;
  std::vector<std::string> values_;
  std::vector<int> formats_;
};

// A query's rows, every column in binary format.
class Result {
 public:
  int rows() const { return PQntuples(res_.get()); }
  // Rows an INSERT, UPDATE or DELETE touched.
  int64_t affected() const;
  // text, bytea: the raw bytes.
  std::string Bytes(int row, int col) const;
  // int8 / int4 columns.
  int64_t Int64(int row, int col) const;
  int32_t Int32(int row, int col) const;

 private:
  friend class Conn;
  explicit Result(PGresult* r) : res_(r, &PQclear) {}
  std::unique_ptr<PGresult, decltype(&PQclear)> res_;
};

class Conn {
 public:
  // Connects with `dsn` (a libpq connection string or URI). `connect_timeout` and TCP keepalives
  // get defaults unless the DSN sets them; each session gets a statement timeout.
  static absl::StatusOr<std::unique_ptr<Conn>> Connect(const std::string& dsn);
  ~Conn();

  // Runs one statement. Unavailable when the connection is lost (then ok() turns false),
  // Aborted for serialization failures and deadlocks, AlreadyExists for unique violations,
  // Internal for other server errors; SqlState() tells which.
  absl::StatusOr<Result> Exec(const std::string& sql, const Params& params = Params());

  // The same for a statement whose text never changes: parsed and planned once per connection
  // (a named prepared statement), then only executed.
  absl::StatusOr<Result> Prepared(const std::string& sql, const Params& params = Params());

  // Sends `sqls` (fixed texts, prepared like Prepared's) with their parameters in one round trip
  // (libpq's pipeline mode), then passes each result to `on_result(i, result)` in order. Stops at
  // the first failure, of a statement or of `on_result`: the statements after a failed one are
  // not run. An empty batch does nothing.
  absl::Status Pipeline(const std::vector<std::string>& sqls, const std::vector<Params>& params,
                        const std::function<absl::Status(size_t, const Result&)>& on_result);

  // Runs several statements separated by semicolons, without parameters (migrations).
  absl::Status Script(const std::string& sql);

  // False once the connection is lost; the owner drops it and connects again.
  bool ok() const;

  // LISTEN support: the socket to poll for input, reading what arrived, and the notifications
  // received so far (channel, payload).
  int socket() const { return PQsocket(conn_); }
  absl::Status ConsumeInput();
  std::optional<std::pair<std::string, std::string>> NextNotification();

 private:
  explicit Conn(PGconn* c) : conn_(c) {}
  absl::StatusOr<Result> Finish(PGresult* r);
  // The name of `sql` as a prepared statement, preparing it first when needed.
  absl::StatusOr<std::string> PreparedName(const std::string& sql);
  // The Status for a result that is not a success.
  absl::Status Failure(const PGresult* r) const;
  PGconn* conn_;
  bool broken_ = false;  // set when the connection is left in a state no statement can use
  std::map<std::string, std::string> prepared_;  // statement text -> name
};

// Runs `body` between BEGIN and COMMIT; rolls back when it (or COMMIT) fails.
absl::Status InTransaction(Conn& conn, const std::function<absl::Status()>& body);

// Statements to run together in one round trip (Conn::Pipeline), each with what to do with its
// result.
class Batch {
 public:
  using Handler = std::function<absl::Status(const Result&)>;
  void Add(std::string sql, Params params, Handler handler = nullptr);
  absl::Status Run(Conn& conn);

 private:
  std::vector<std::string> sqls_;
  std::vector<Params> params_;
  std::vector<Handler> handlers_;
};

// An interval literal for a duration ("1500 milliseconds").
std::string Interval(absl::Duration d);

}  // namespace idv::store::pg

#endif  // IDV_STORE_POSTGRES_PG_H_
