#pragma once
// A process and its live descendants, read from /proc: CPU time and resident memory, for
// benchmarks that compare daemons made of several processes (keepalived's parent, checker
// and VRRP children) with single-process ones.
#include <dirent.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace ballast::bench {

struct Cpu {
    double user = 0, sys = 0;  // seconds
    double total() const { return user + sys; }
    Cpu operator-(const Cpu& o) const { return {user - o.user, sys - o.sys}; }
};

inline std::string read_proc(pid_t pid, const char* file) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/" + file);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Fields of /proc/PID/stat after "(comm) ": field 3 is the state.
inline std::vector<std::string> stat_fields(pid_t pid) {
    const std::string s = read_proc(pid, "stat");
    const auto close = s.rfind(')');
    std::vector<std::string> out;
    if (close == std::string::npos) return out;
    std::istringstream in(s.substr(close + 2));
    for (std::string f; in >> f;) out.push_back(f);
    return out;
}

// `root` and every live descendant.
inline std::vector<pid_t> process_tree(pid_t root) {
    std::vector<std::pair<pid_t, pid_t>> all;  // pid, ppid
    if (DIR* d = opendir("/proc")) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] >= '1' && e->d_name[0] <= '9') {
                const pid_t p = std::atoi(e->d_name);
                const auto f = stat_fields(p);
                if (f.size() > 1) all.emplace_back(p, std::atoi(f[1].c_str()));
            }
        closedir(d);
    }
    std::vector<pid_t> tree{root};
    for (bool grew = true; grew;) {
        grew = false;
        for (const auto& [p, parent] : all)
            if (std::find(tree.begin(), tree.end(), p) == tree.end() &&
                std::find(tree.begin(), tree.end(), parent) != tree.end()) {
                tree.push_back(p);
                grew = true;
            }
    }
    return tree;
}

inline Cpu cpu_of_tree(pid_t root) {
    Cpu c;
    const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    for (pid_t p : process_tree(root)) {
        const auto f = stat_fields(p);
        if (f.size() < 13) continue;  // utime and stime are fields 14 and 15
        c.user += std::strtod(f[11].c_str(), nullptr) / hz;
        c.sys += std::strtod(f[12].c_str(), nullptr) / hz;
    }
    return c;
}

// Resident memory (VmRSS) of the tree, in KiB, and how many processes it has.
inline std::pair<long, size_t> rss_of_tree(pid_t root) {
    long kib = 0;
    const auto tree = process_tree(root);
    for (pid_t p : tree) {
        std::istringstream in(read_proc(p, "status"));
        for (std::string line; std::getline(in, line);)
            if (line.rfind("VmRSS:", 0) == 0) kib += std::atol(line.c_str() + 6);
    }
    return {kib, tree.size()};
}

// Each process's resident memory by kind (/proc/PID/status): "PID Anon A KiB File F KiB Shmem S
// KiB", one per process, so a figure can be split into heap and stacks (anon) and mapped binaries
// and libraries (file).
inline std::string rss_parts_of_tree(pid_t root) {
    std::string out;
    for (pid_t p : process_tree(root)) {
        std::istringstream in(read_proc(p, "status"));
        out += (out.empty() ? "" : "; ") + std::to_string(p);
        for (std::string line; std::getline(in, line);)
            for (const char* field : {"RssAnon:", "RssFile:", "RssShmem:"})
                if (line.rfind(field, 0) == 0)
                    out += " " + line.substr(3, line.find(':') - 3) + " " +
                           std::to_string(std::atol(line.c_str() + std::string(field).size())) +
                           " KiB";
    }
    return out;
}

// Where a process's anonymous memory is (/proc/PID/smaps), largest first, after how much of it
// is in transparent huge pages: "in transparent huge pages 0 KiB, [heap] of 40000 KiB 30120 KiB,
// ...". Mappings are named by their path or kind; the main heap and nameless anonymous mappings
// (thread stacks, malloc's other arenas) are listed one by one with their size.
inline std::string anon_map_of(pid_t p) {
    std::istringstream in(read_proc(p, "smaps"));
    std::map<std::string, long> by_name;               // name -> Anonymous KiB
    std::vector<std::pair<long, std::string>> listed;  // Anonymous KiB, what
    std::string name;
    long size = 0, huge = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("AnonHugePages:", 0) == 0) huge += std::atol(line.c_str() + 14);
        if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
            line.find('-') < line.find(' ')) {
            std::istringstream f(line);
            std::string range, perms, off, dev, inode;
            f >> range >> perms >> off >> dev >> inode;
            std::getline(f, name);
            name.erase(0, name.find_first_not_of(' '));
            const auto dash = range.find('-');
            size = static_cast<long>((std::stoull(range.substr(dash + 1), nullptr, 16) -
                                      std::stoull(range.substr(0, dash), nullptr, 16)) /
                                     1024);
            if (name.empty()) name = "anon " + perms;
        } else if (line.rfind("Anonymous:", 0) == 0) {
            const long kib = std::atol(line.c_str() + 10);
            if (kib == 0) continue;
            if (name.rfind("anon ", 0) == 0 || name == "[heap]")
                listed.emplace_back(kib, name + " of " + std::to_string(size) + " KiB");
            else
                by_name[name.substr(name.rfind('/') + 1)] += kib;
        }
    }
    for (const auto& [n, kib] : by_name) listed.emplace_back(kib, n);
    std::sort(listed.rbegin(), listed.rend());
    std::string out = "in transparent huge pages " + std::to_string(huge) + " KiB";
    for (const auto& [kib, n] : listed) out += ", " + n + " " + std::to_string(kib) + " KiB";
    return out;
}

}  // namespace ballast::bench
