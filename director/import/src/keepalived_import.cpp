// The driver: read -> parse -> map -> write, then the validator has the last
// word: anything it rejects is left out and listed, and the text is written again.
#include "ballast/import/keepalived_import.hpp"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "ballast/config/config.hpp"
#include "ballast/import/keepalived_parser.hpp"
#include "ballast_out.hpp"
#include "keepalived_config.hpp"
#include "map_service.hpp"
#include "toml_writer.hpp"

namespace ballast::import {

namespace {

using detail::Form;
using detail::OutService;

// Far above what one director runs (ballast is measured at 5,000 services); a
// bound for hostile input, whose group ranges multiply services.
constexpr size_t kMaxServices = 50'000;

std::string identity_key(const OutService& s) {
    switch (s.form) {
        case Form::inet:
            return s.protocol + " " + s.vip + " " + std::to_string(s.port);
        case Form::fwmark:
            return "fwmark " + std::to_string(s.fwmark) + " " + s.family;
        case Form::group:
            return s.protocol + " " + s.vip + " all";
    }
    return {};
}

void assign_names(std::vector<OutService>& services) {
    std::set<std::string> used;
    for (auto& s : services) {
        std::string base = s.name_hint.substr(0, 56);
        std::string name = base;
        for (int n = 2; used.count(name); ++n) name = base + "-" + std::to_string(n);
        used.insert(name);
        s.name = name;
    }
}

// Leaves out what the validator rejects; false when a diagnostic names no
// service part (a bug in the importer, not in the input).
bool drop_rejected(const config::LoadResult& loaded, std::vector<OutService>& services,
                   std::vector<NotConverted>& nc) {
    static const std::regex path(R"(^service\[(\d+)\](?:\.real\[(\d+)\]|\.(check))?)");
    std::set<size_t> drop_services;
    std::map<size_t, std::set<size_t>> drop_reals;
    std::set<size_t> drop_checks;
    for (auto& d : loaded.diagnostics) {
        std::smatch m;
        if (!std::regex_search(d.key_path, m, path)) return false;
        size_t si = std::stoul(m[1].str());
        if (si >= services.size()) return false;
        OutService& s = services[si];
        std::string why = "ballast rejects it: " + d.key_path + ": " + d.message;
        if (m[2].matched) {
            size_t ri = std::stoul(m[2].str());
            if (ri >= s.reals.size()) return false;
            if (drop_reals[si].insert(ri).second)
                nc.push_back(NotConverted{s.reals[ri].where, "real_server", why});
        } else if (m[3].matched && s.check) {
            if (drop_checks.insert(si).second)
                nc.push_back(NotConverted{s.check_where.line ? s.check_where : s.where,
                                          s.check_where.line ? s.check_origin : "virtual_server",
                                          why + " (the service is left unchecked)"});
        } else {
            if (drop_services.insert(si).second)
                nc.push_back(NotConverted{s.where, "virtual_server",
                                          "service '" + s.name + "' (" + s.origin + "): " + why});
        }
    }
    if (drop_services.empty() && drop_reals.empty() && drop_checks.empty()) return false;
    for (size_t si : drop_checks) {
        services[si].check.reset();
        services[si].check_where = {};
        services[si].check_notes = {
            {"", {"the converted check was rejected (see the list at the end)"}}};
    }
    for (auto& [si, reals] : drop_reals)
        for (auto it = reals.rbegin(); it != reals.rend(); ++it)
            services[si].reals.erase(services[si].reals.begin() + static_cast<long>(*it));
    for (auto it = drop_services.rbegin(); it != drop_services.rend(); ++it)
        services.erase(services.begin() + static_cast<long>(*it));
    return true;
}

void order_not_converted(std::vector<NotConverted>& nc, const std::vector<std::string>& files) {
    auto file_index = [&](const std::string& f) {
        auto it = std::find(files.begin(), files.end(), f);
        return static_cast<size_t>(it - files.begin());
    };
    std::stable_sort(nc.begin(), nc.end(), [&](const NotConverted& a, const NotConverted& b) {
        return std::pair(file_index(a.where.file), a.where.line) <
               std::pair(file_index(b.where.file), b.where.line);
    });
    std::vector<NotConverted> unique;
    std::set<NotConverted> seen;
    for (auto& n : nc)
        if (seen.insert(n).second) unique.push_back(n);
    nc = std::move(unique);
}

}  // namespace

ImportResult import_keepalived(const std::string& path, FileSource& files,
                               const ImportOptions& options) {
    ImportResult result;
    auto read = read_keepalived(path, files, options.reader);
    if (read.error) {
        result.error = read.error;
        return result;
    }
    auto parsed = parse_keepalived(read.lines);
    if (parsed.error) {
        result.error = parsed.error;
        return result;
    }
    auto ka = detail::read_config(parsed.nodes);
    std::vector<NotConverted> nc = std::move(read.not_converted);
    nc.insert(nc.end(), ka.not_converted.begin(), ka.not_converted.end());

    std::vector<OutService> services;
    std::map<std::string, std::string> identities;  // identity -> origin of the first
    for (auto& vs : ka.virtual_servers) {
        for (auto& s : detail::map_virtual_server(vs, ka, nc)) {
            auto [it, fresh] = identities.emplace(identity_key(s), s.origin);
            if (!fresh) {
                nc.push_back(NotConverted{vs.where, "virtual_server",
                                          s.origin + " is the same service as " + it->second +
                                              ": keepalived cannot add it twice either"});
                continue;
            }
            if (services.size() >= kMaxServices) {
                result.error =
                    InputError{vs.where, "more than " + std::to_string(kMaxServices) + " services"};
                return result;
            }
            services.push_back(std::move(s));
        }
    }
    assign_names(services);

    // Written whole (with the list of what was left out) and loaded, until the
    // validator accepts it: usually once.
    detail::Document doc;
    doc.header = {
        "ballast configuration converted from keepalived's " + path +
            " by ballastctl import-keepalived.",
        "Check it with: ballastd --check-config FILE",
        "Only keepalived's virtual servers are converted: [director] (interfaces, "
        "egress_interfaces, ...) is left at its defaults; see README \"Configuration reference\".",
    };
    for (auto& note : read.notes) doc.header.push_back(note);
    while (true) {
        order_not_converted(nc, read.files);
        doc.services = services;
        doc.footer.clear();
        if (nc.empty()) {
            doc.footer.push_back("Everything was converted.");
        } else {
            doc.footer.push_back("Not converted (" + std::to_string(nc.size()) +
                                 (nc.size() == 1 ? " item" : " items") +
                                 ", also printed on stderr):");
            for (auto& n : nc) doc.footer.push_back("  " + n.to_string());
        }
        result.toml = detail::write_toml(doc);
        auto loaded = config::load_string(result.toml, options.output_name);
        if (loaded.ok()) break;
        if (!drop_rejected(loaded, services, nc)) {
            result.toml.clear();
            result.error = InputError{
                SourceRef{path, 0}, "internal error: the converted configuration does not load: " +
                                        config::format(loaded.diagnostics.front())};
            return result;
        }
        auto empty = [](const OutService& s) { return s.reals.empty(); };
        for (auto& s : services)
            if (empty(s))
                nc.push_back(NotConverted{s.where, "virtual_server",
                                          "service '" + s.name +
                                              "' has no real server left: "
                                              "left out"});
        services.erase(std::remove_if(services.begin(), services.end(), empty), services.end());
    }
    result.not_converted = std::move(nc);
    result.services = services.size();
    for (auto& s : services) result.reals += s.reals.size();
    return result;
}

ImportResult import_keepalived_text(const std::string& text, const std::string& name,
                                    const ImportOptions& options) {
    MemoryFileSource files;
    files.files[files.canonical(name)] = text;
    return import_keepalived(files.canonical(name), files, options);
}

}  // namespace ballast::import
