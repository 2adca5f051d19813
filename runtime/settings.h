// runtime/settings.h — the one registry of epochpp settings (environment variables), readable from C++ and Python.
#pragma once
#include <string>
#include <vector>

namespace epochpp::settings {

struct Setting {
  const char* name;     // e.g. "dump"
  const char* env;      // e.g. "EPOCHPP_DUMP"
  const char* dflt;     // default value as text
  const char* doc;      // one line for docs and `epochpp doctor`
};

const std::vector<Setting>& all();
// Current value: an override set from Python, else the environment, else the default.
std::string get(const std::string& name);
long getInt(const std::string& name);
void set(const std::string& name, const std::string& value);  // throws std::out_of_range for unknown names
bool dumpWants(const std::string& stage);                     // EPOCHPP_DUMP contains stage

}  // namespace epochpp::settings
