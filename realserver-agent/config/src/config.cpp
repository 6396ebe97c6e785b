#include "ballast/agent/config.hpp"

#include <toml++/toml.h>
#include <fstream>
#include <set>
#include <sstream>

namespace ballast::agent {
namespace {

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : "\n") + x;
    return s;
}

class Parser {
public:
    explicit Parser(std::string source) : source_(std::move(source)) {}

    void error(const toml::node* n, const std::string& msg) {
        uint32_t line = 0, col = 0;
        if (n) {
            line = n->source().begin.line;
            col = n->source().begin.column;
        }
        errors_.push_back(source_ + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " +
                          msg);
    }
    void error_at(uint32_t line, uint32_t col, const std::string& msg) {
        errors_.push_back(source_ + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " +
                          msg);
    }

    void known(const toml::table& t, const std::set<std::string>& keys, const std::string& where) {
        for (const auto& [k, v] : t)
            if (!keys.count(std::string(k.str())))
                error(&v, "unknown key '" + std::string(k.str()) + "'" +
                              (where.empty() ? "" : " in " + where));
    }

    template <typename T>
    std::optional<T> get(const toml::table& t, const char* key, const char* what) {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        if (auto v = n->value<T>()) return *v;
        error(n, std::string("'") + key + "' must be " + what);
        return std::nullopt;
    }

    std::optional<model::IpAddress> address(const toml::table& t, const char* key) {
        auto s = get<std::string>(t, key, "a string (IP address)");
        if (!s) return std::nullopt;
        auto a = model::IpAddress::parse(*s);
        if (!a) error(t.get(key), std::string("'") + key + "': '" + *s + "' is not an IP address");
        return a;
    }

    std::optional<model::Endpoint> endpoint(const toml::table& t, const char* key, uint16_t port) {
        auto s = get<std::string>(t, key, "a string (\"addr:port\")");
        if (!s) return std::nullopt;
        auto e = model::Endpoint::parse(*s, port);
        if (!e) error(t.get(key), std::string("'") + key + "': '" + *s + "' is not addr:port");
        return e;
    }

    AgentSettings parse(const toml::table& root) {
        AgentSettings s;
        known(root,
              {"probe_clients", "listen", "status_listen", "drain_file", "load", "load_file",
               "interval_ms", "repair", "real_server"},
              "");
        if (const toml::node* n = root.get("probe_clients")) {
            if (const auto* arr = n->as_array()) {
                s.probe_clients.clear();
                for (const auto& item : *arr) {
                    auto a = item.value<std::string>();
                    auto ip = a ? model::IpAddress::parse(*a) : std::nullopt;
                    if (!ip)
                        error(&item, "probe_clients: each entry must be an IP address string");
                    else
                        s.probe_clients.push_back(*ip);
                }
                if (arr->empty()) error(n, "probe_clients must not be empty");
            } else {
                error(n, "probe_clients must be an array of IP addresses");
            }
        }
        s.listen = endpoint(root, "listen", kDefaultAgentPort);
        s.status_listen = endpoint(root, "status_listen", 9555);
        if (auto v = get<std::string>(root, "drain_file", "a path string")) s.drain_file = *v;
        if (auto v = get<std::string>(root, "load", "a string")) {
            if (*v == "none")
                s.load = LoadSignal::none;
            else if (*v == "loadavg")
                s.load = LoadSignal::loadavg;
            else if (*v == "file")
                s.load = LoadSignal::file;
            else
                error(root.get("load"), "load must be \"none\", \"loadavg\" or \"file\"");
        }
        if (auto v = get<std::string>(root, "load_file", "a path string")) s.load_file = *v;
        if (s.load == LoadSignal::file && s.load_file.empty())
            error(root.get("load"), "load = \"file\" needs load_file");
        if (auto v = get<int64_t>(root, "interval_ms", "an integer")) {
            if (*v < 100 || *v > 3600000)
                error(root.get("interval_ms"), "interval_ms must be 100..3600000");
            else
                s.interval_ms = static_cast<uint32_t>(*v);
        }
        if (const toml::node* n = root.get("repair")) {
            if (const auto* t = n->as_table()) {
                known(*t, {"enabled", "table_base", "priority", "rp_filter_loose", "state_file"},
                      "[repair]");
                if (auto v = get<bool>(*t, "enabled", "true or false")) s.repair.enabled = *v;
                if (auto v = get<bool>(*t, "rp_filter_loose", "true or false"))
                    s.repair.rp_filter_loose = *v;
                if (auto v = get<std::string>(*t, "state_file", "a path string"))
                    s.repair.state_file = *v;
                if (auto v = get<int64_t>(*t, "table_base", "an integer")) {
                    // 253..255 are default/main/local; 0 is unspec.
                    if (*v < 1 || *v > 0x7fffffff || (*v >= 253 && *v <= 255))
                        error(t->get("table_base"),
                              "table_base must be 1..2147483647 and not 253-255");
                    else
                        s.repair.table_base = static_cast<uint32_t>(*v);
                }
                if (auto v = get<int64_t>(*t, "priority", "an integer")) {
                    if (*v < 1 || *v >= 32766)
                        error(t->get("priority"),
                              "priority must be 1..32765 (below the main table's rule)");
                    else
                        s.repair.priority = static_cast<uint32_t>(*v);
                }
            } else {
                error(n, "[repair] must be a table");
            }
        }
        const toml::node* rsn = root.get("real_server");
        const toml::array* rsa = rsn ? rsn->as_array() : nullptr;
        if (!rsa || rsa->empty()) {
            if (rsn)
                error(rsn, "real_server must be an array of tables ([[real_server]])");
            else
                error_at(1, 1, "at least one [[real_server]] is required");
        } else {
            for (const auto& item : *rsa) {
                const auto* t = item.as_table();
                if (!t) {
                    error(&item, "each real_server must be a table");
                    continue;
                }
                known(*t, {"address", "director", "ports", "protocol"}, "[[real_server]]");
                RealServerEntry e;
                auto a = address(*t, "address");
                auto d = address(*t, "director");
                if (!t->get("address")) error(&item, "[[real_server]] needs address (the RIP)");
                if (!t->get("director")) error(&item, "[[real_server]] needs director (the DIP)");
                if (a && d && a->family != d->family)
                    error(t->get("director"), "director and address must be the same IP family");
                if (a) e.address = *a;
                if (d) e.director = *d;
                if (const toml::node* p = t->get("ports")) {
                    if (const auto* pa = p->as_array()) {
                        for (const auto& x : *pa) {
                            auto v = x.value<int64_t>();
                            if (!v || *v < 1 || *v > 65535)
                                error(&x, "ports: each must be 1..65535");
                            else
                                e.ports.push_back(static_cast<uint16_t>(*v));
                        }
                    } else {
                        error(p, "ports must be an array of port numbers");
                    }
                }
                if (auto v = get<std::string>(*t, "protocol", "\"tcp\" or \"udp\"")) {
                    if (*v == "tcp")
                        e.transport = Transport::tcp;
                    else if (*v == "udp")
                        e.transport = Transport::udp;
                    else
                        error(t->get("protocol"), "protocol must be \"tcp\" or \"udp\"");
                }
                s.real_servers.push_back(e);
            }
        }
        check_table_range(root, s);
        if (!errors_.empty()) throw ConfigError(errors_);
        return s;
    }

private:
    // Real server i uses table table_base + i: the whole range must miss 253-255 (default,
    // main, local) and stay within 1..2147483647.
    void check_table_range(const toml::table& root, const AgentSettings& s) {
        const toml::node* base = root.at_path("repair.table_base").node();
        if (!base || s.real_servers.empty()) return;
        const uint64_t first = s.repair.table_base;
        const uint64_t last = first + s.real_servers.size() - 1;
        const std::string range = std::to_string(first) + ".." + std::to_string(last);
        const std::string n = std::to_string(s.real_servers.size()) + " real servers";
        if (last > 0x7fffffff)
            error(base, "table_base " + std::to_string(first) + " with " + n + " uses tables " +
                            range + ", beyond 2147483647");
        else if (first <= 255 && last >= 253)
            error(base, "table_base " + std::to_string(first) + " with " + n + " uses tables " +
                            range + ", which include 253-255 (default, main, local)");
    }

    std::string source_;
    std::vector<std::string> errors_;
};

}  // namespace

ConfigError::ConfigError(std::vector<std::string> errs)
    : std::runtime_error(join(errs)), errors(std::move(errs)) {}

AgentSettings parse_agent_config(std::string_view text, const std::string& source) {
    toml::table root;
    try {
        root = toml::parse(text, source);
    } catch (const toml::parse_error& e) {
        throw ConfigError({source + ":" + std::to_string(e.source().begin.line) + ":" +
                           std::to_string(e.source().begin.column) + ": " +
                           std::string(e.description())});
    }
    return Parser(source).parse(root);
}

AgentSettings load_agent_config(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw ConfigError({path + ":0:0: cannot open: " + std::strerror(errno)});
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_agent_config(ss.str(), path);
}

}  // namespace ballast::agent
