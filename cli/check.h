// `idvctl check`: offline checks of document numbers, names and phone numbers, no server needed.
#ifndef IDV_CLI_CHECK_H_
#define IDV_CLI_CHECK_H_

#include <cstdio>
#include <string>
#include <vector>

namespace idv::cli {

struct CheckOptions {
  // A document type in lower case ("cn_resident_id", ...), or "name", or "phone".
  std::string type;
  // For --type passport: the issuing country (ISO 3166-1 alpha-3 or ICAO code).
  std::string country;
  bool json = false;
};

// Checks each input (the arguments, or else every line of `in`) and writes one line per input
// to `out`: a tab-separated row, or with `json` an object with input, valid, reason, message,
// canonical, masked (and notes when there are any). Returns 0 when every input is valid, 1 when
// some is not, 2 for a usage error (written to stderr).
int RunCheck(const CheckOptions& options, const std::vector<std::string>& inputs, std::FILE* in,
             std::FILE* out);

}  // namespace idv::cli

#endif  // IDV_CLI_CHECK_H_
