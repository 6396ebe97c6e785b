#pragma once
// A canonical, line-oriented text form of a validated config: every field,
// defaults made explicit, source locations left out. Used by golden tests and
// to show what a config resolves to.
#include <string>

#include "ballast/model/director_config.hpp"

namespace ballast::config {

std::string dump(const model::DirectorConfig&);

}  // namespace ballast::config
