#include "ballast/model/director_config.hpp"

#include <map>
#include <mutex>
#include <vector>

namespace ballast::model {

namespace {

// Every file name a location was made with, numbered from 1, for the life of the process (a
// process loads few files: ballastd its one config, again on each reload). Map nodes never
// move, so a name handed out stays valid; loads may run on several threads.
class FileNames {
public:
    uint32_t number(std::string_view name) {
        std::lock_guard lock(mutex_);
        auto it = numbers_.find(name);
        if (it == numbers_.end()) {
            it =
                numbers_.emplace(std::string(name), static_cast<uint32_t>(names_.size() + 1)).first;
            names_.push_back(&it->first);
        }
        return it->second;
    }
    const std::string& name(uint32_t n) {
        std::lock_guard lock(mutex_);
        return *names_.at(n - 1);
    }

private:
    std::mutex mutex_;
    std::map<std::string, uint32_t, std::less<>> numbers_;
    std::vector<const std::string*> names_;  // names_[n - 1] is name n
};

// Never destroyed: locations held by other static objects may be read at exit.
FileNames& file_names() {
    static auto* names = new FileNames;
    return *names;
}

}  // namespace

SourceLocation::SourceLocation(std::string_view file_name, uint32_t line_number,
                               uint32_t column_number)
    : line(line_number),
      column(column_number),
      file_(file_name.empty() ? 0 : file_names().number(file_name)) {}

const std::string& SourceLocation::file() const {
    static const std::string none;
    return file_ ? file_names().name(file_) : none;
}

}  // namespace ballast::model
