#include "ballast/ipvsadm/run.hpp"

#include <netinet/in.h>

#include <future>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "ballast/ipvsadm/format.hpp"
#include "ballast/ipvsadm/json.hpp"
#include "ballast/ipvsadm/messages.hpp"
#include "ballast/ipvsadm/parse.hpp"
#include "ballast/ipvsadm/restore.hpp"

namespace ballast::ipvsadm {

namespace {

// Edits of a restore sent per apply() at most (each apply() pipelines its ops).
constexpr size_t kBatchOps = 1024;

// How one command line ended, in ipvsadm's terms: a result (0 or -1, which main() turns into
// exit status 0 or 255), or an exit() with its status that also ends a restore.
struct Outcome {
    int result = 0;
    std::optional<int> exit;
    bool pending = false;  // an edit of a restore whose batch has not been answered yet
    static Outcome ok() { return {}; }
    static Outcome failed() { return {-1, std::nullopt}; }
    static Outcome exit_with(int code) { return {0, code}; }
    static Outcome pending_edit() { return {0, std::nullopt, true}; }
};

model::ServiceSpec service_spec(const Service& s) {
    model::ServiceSpec spec;
    spec.scheduler = s.scheduler;
    spec.flags = model::ServiceFlags::from_bits(s.flags);
    if (s.flags & kSvcPersistent) spec.persistence = s.timeout;
    spec.netmask = s.af == AF_INET6 ? s.netmask : ntohl(s.netmask);
    spec.pe_name = s.pe_name;
    return spec;
}

Call call_of(model::IpvsOp::Kind k) {
    using K = model::IpvsOp::Kind;
    switch (k) {
        case K::add_service:
            return Call::add_service;
        case K::edit_service:
            return Call::update_service;
        case K::del_service:
            return Call::del_service;
        case K::add_dest:
            return Call::add_dest;
        case K::edit_dest:
            return Call::update_dest;
        case K::del_dest:
            return Call::del_dest;
    }
    return Call::init;
}

bool is_edit(Cmd c) {
    return c == Cmd::add || c == Cmd::edit || c == Cmd::del || c == Cmd::add_dest ||
           c == Cmd::edit_dest || c == Cmd::del_dest;
}

class Runner {
public:
    Runner(Kernel& kernel, Names& names, Io io, Ownership* ownership, Extras extras,
           std::string program)
        : kernel_(kernel),
          names_(names),
          io_(io),
          ownership_(ownership),
          extras_(std::move(extras)),
          program_(std::move(program)) {}

    // A whole command line: the top level, or one line of -R.
    Outcome line(const std::vector<std::string>& argv, bool reading_stdin) {
        Parsed parsed = parse_command(argv, reading_stdin, names_);
        if (auto* stop = std::get_if<Stop>(&parsed)) {
            settle();  // earlier lines' messages come first
            io_.out << stop->out;
            io_.err << stop->err;
            if (stop->ends_restore) return Outcome::exit_with(stop->exit_code);
            return Outcome::failed();
        }
        Command& ce = std::get<Command>(parsed);
        if (is_edit(ce.cmd)) return edit(ce);
        settle();
        if (auto o = ready(); o.exit) return o;
        switch (ce.cmd) {
            case Cmd::list:
                return list(ce);
            case Cmd::save:
                return list_all(ce.format);
            case Cmd::restore:
                return restore();
            case Cmd::flush:
                warn_flush();
                return report(kernel_.flush(), Call::flush);
            case Cmd::zero: {
                const model::ServiceKey key = ce.svc.key();
                return report(kernel_.zero(ce.svc.is_empty() ? nullptr : &key), Call::zero_service);
            }
            case Cmd::timeout:
                return report(kernel_.set_timeouts(ce.timeouts), Call::set_timeout);
            case Cmd::start_daemon:
                return report(kernel_.start_daemon(ce.daemon), Call::start_daemon);
            case Cmd::stop_daemon:
                return report(kernel_.stop_daemon(ce.daemon.state), Call::stop_daemon);
            default:
                return Outcome::ok();
        }
    }

    // ipvsadm with no arguments lists the table.
    Outcome list_everything() {
        if (auto o = ready(); o.exit) return o;
        return list_all(Format{});
    }

    // Sends the batched edits (after the batch on its way, if any) and reports their errors in
    // order. Returns the outcome of the last of them (the line whose result a restore ends with).
    Outcome settle() {
        collect();
        if (batch_.empty()) return last_;
        report_batch(batch_, kernel_.apply(batch_));
        batch_.clear();
        return last_;
    }

    ~Runner() {
        if (in_flight_) in_flight_->results.wait();
    }

private:
    // A batch on its way: apply() runs on a thread of its own while the next lines are parsed
    // (meanwhile this thread makes no kernel call: every other command settles first).
    struct InFlight {
        std::shared_ptr<const std::vector<model::IpvsOp>> ops;
        std::future<std::vector<Status>> results;
    };

    void report_batch(const std::vector<model::IpvsOp>& ops, const std::vector<Status>& results) {
        for (size_t i = 0; i < results.size(); ++i) {
            if (results[i]) {
                last_ = Outcome::ok();
                continue;
            }
            io_.err << ipvs_strerror(call_of(ops[i].kind), results[i].error().code) << "\n";
            last_ = Outcome::failed();
        }
    }

    // Waits for the batch on its way, if any, and reports it.
    void collect() {
        if (!in_flight_) return;
        InFlight f = std::move(*in_flight_);
        in_flight_.reset();
        report_batch(*f.ops, f.results.get());
    }

    // Sends the full batch without waiting for it; at most one is on its way.
    void dispatch() {
        collect();
        auto ops = std::make_shared<const std::vector<model::IpvsOp>>(std::move(batch_));
        batch_ = {};
        batch_.reserve(kBatchOps);
        Kernel& kernel = kernel_;
        in_flight_ = InFlight{
            ops, std::async(std::launch::async, [&kernel, ops] { return kernel.apply(*ops); })};
    }

    // ipvsadm initialises IPVS before anything else; so do we, before the first kernel call.
    Outcome ready() {
        if (info_) return Outcome::ok();
        auto info = kernel_.init();
        if (!info) {
            io_.err << init_failure(info.error().code);
            return Outcome::exit_with(2);
        }
        info_ = *info;
        return Outcome::ok();
    }

    Outcome report(const Status& st, Call call) {
        if (st) return Outcome::ok();
        io_.err << ipvs_strerror(call, st.error().code) << "\n";
        return Outcome::failed();
    }

    // Edits join the batch; outside -R the batch is sent at once.
    Outcome edit(const Command& ce) {
        if (ce.dest.tun_type != 0 || ce.dest.tun_port != 0 || ce.dest.tun_flags != 0) {
            settle();
            io_.err << "ballastctl: --tun-type gue/gre, --tun-port and the tunnel checksum "
                       "options are not supported yet (ipip tunnels are)\n";
            return Outcome::exit_with(2);
        }
        if (auto o = ready(); o.exit) return o;
        const model::ServiceKey key = ce.svc.key();
        warn_edit(ce.cmd, key);
        if (batch_.capacity() == 0) batch_.reserve(in_restore_ ? kBatchOps : 1);
        using Op = model::IpvsOp;
        switch (ce.cmd) {
            case Cmd::add:
                batch_.push_back(Op::add_service(key, service_spec(ce.svc)));
                break;
            case Cmd::edit:
                batch_.push_back(Op::edit_service(key, service_spec(ce.svc)));
                break;
            case Cmd::del:
                batch_.push_back(Op::del_service(key));
                break;
            case Cmd::add_dest:
                batch_.push_back(Op::add_dest(key, ce.dest.key(), ce.dest.spec()));
                break;
            case Cmd::edit_dest:
                batch_.push_back(Op::edit_dest(key, ce.dest.key(), ce.dest.spec()));
                break;
            case Cmd::del_dest:
                batch_.push_back(Op::del_dest(key, ce.dest.key()));
                break;
            default:
                break;
        }
        if (!in_restore_) return settle();
        // A full batch goes out at once while parsing goes on (apply() pipelines it anyway),
        // and a long restore never holds more than two batches in memory.
        if (batch_.size() >= kBatchOps) dispatch();
        return Outcome::pending_edit();  // decided when its batch is answered
    }

    Outcome restore() {
        in_restore_ = true;
        RestoreReader reader(io_.in, program_);
        Outcome result = Outcome::ok();
        bool edit_last = false;
        while (auto argv = reader.next()) {
            if (argv->size() <= 1) continue;
            Outcome o = line(*argv, true);
            if (o.exit) return o;
            edit_last = o.pending;
            if (!edit_last) result = o;
        }
        Outcome sent = settle();
        return edit_last ? sent : result;
    }

    Outcome list(const Command& ce) {
        const auto& o = ce.options;
        if (o.has(Opt::connection)) return list_connections(ce.format);
        if (o.has(Opt::service)) return list_service(ce);
        if (o.has(Opt::timeout)) {
            auto t = kernel_.timeouts();
            if (!t) return Outcome::exit_with(1);  // ipvsadm exits without a word here
            io_.out << (extras_.json ? timeouts_json(*t) : timeouts_line(*t));
            return Outcome::ok();
        }
        if (o.has(Opt::daemon)) {
            auto d = kernel_.daemons();
            if (!d) return Outcome::exit_with(1);
            io_.out << (extras_.json ? daemons_json(*d) : daemon_lines(*d));
            return Outcome::ok();
        }
        return list_all(ce.format);
    }

    Outcome list_all(const Format& f) {
        if (!f.rule && !extras_.json) io_.out << version_header(*info_);
        auto services = kernel_.services();
        if (!services) {
            io_.err << ipvs_strerror(Call::get_services, services.error().code) << "\n";
            return Outcome::exit_with(1);
        }
        if (!f.nosort) sort_services(*services);
        if (!extras_.json) io_.out << table_title(f);
        std::vector<ServiceListing> listings;
        for (auto& s : *services) {
            auto dests = kernel_.dests(s.key);
            if (!dests) {
                if (extras_.json) io_.out << table_json(*info_, listings);
                io_.err << ipvs_strerror(Call::get_dests, dests.error().code) << "\n";
                return Outcome::exit_with(1);
            }
            if (extras_.json) {
                if (!f.nosort) sort_dests(*dests);
                listings.push_back({std::move(s), std::move(*dests)});
            } else {
                io_.out << service_lines(s, std::move(*dests), f, names_);
            }
        }
        if (extras_.json) io_.out << table_json(*info_, listings);
        return Outcome::ok();
    }

    Outcome list_service(const Command& ce) {
        auto s = kernel_.service(ce.svc.key());
        if (!s) {
            io_.err << ipvs_strerror(Call::get_service, s.error().code) << "\n";
            return Outcome::exit_with(1);
        }
        if (!extras_.json) io_.out << table_title(ce.format);
        auto dests = kernel_.dests(s->key);
        if (!dests) {
            io_.err << ipvs_strerror(Call::get_dests, dests.error().code) << "\n";
            return Outcome::exit_with(1);
        }
        if (extras_.json) {
            if (!ce.format.nosort) sort_dests(*dests);
            io_.out << table_json(*info_, {{std::move(*s), std::move(*dests)}});
        } else {
            io_.out << service_lines(*s, std::move(*dests), ce.format, names_);
        }
        return Outcome::ok();
    }

    Outcome list_connections(const Format& f) {
        static const std::string file = "/proc/net/ip_vs_conn";
        auto text = kernel_.connections();
        if (!text) {
            io_.err << "cannot open file " << file << "\n";
            return Outcome::exit_with(1);
        }
        if (text->empty()) {
            io_.err << "unexpected input from " << file << "\n";
            return Outcome::exit_with(1);
        }
        std::vector<ConnectionLine> parsed;
        if (!extras_.json) io_.out << connections_title(f);
        for (const auto& record : connection_records(*text)) {
            auto c = parse_connection(record);
            if (!c) return Outcome::exit_with(1);  // as ipvsadm, for a line with no words
            if (extras_.json)
                parsed.push_back(std::move(*c));
            else
                io_.out << connection_line(*c, f, names_);
        }
        if (extras_.json) io_.out << connections_json(parsed);
        return Outcome::ok();
    }

    const OwnedServices* owned() {
        if (!ownership_ || extras_.force) return nullptr;
        if (!owned_) {
            owned_ = ownership_->probe(extras_);
            if (owned_->daemon_running && owned_->problem)
                io_.err << "ballastctl: warning: ballastd is running but what it owns cannot be "
                           "read ("
                        << *owned_->problem
                        << "); it may revert this change (--force silences this warning)\n";
        }
        return owned_->daemon_running ? &*owned_ : nullptr;
    }

    void warn_edit(Cmd cmd, const model::ServiceKey& key) {
        const OwnedServices* o = owned();
        if (!o || !o->services.count(key) || warned_.count({key, cmd})) return;
        warned_.insert({key, cmd});
        io_.err << edit_warning(cmd, key) << "\n";
    }

    void warn_flush() {
        const OwnedServices* o = owned();
        if (o && !o->services.empty()) io_.err << flush_warning(o->services.size()) << "\n";
    }

    Kernel& kernel_;
    Names& names_;
    Io io_;
    Ownership* ownership_;
    Extras extras_;
    std::string program_;
    std::optional<kernel::ipvs::Info> info_;
    std::vector<model::IpvsOp> batch_;
    std::optional<InFlight> in_flight_;
    Outcome last_;
    bool in_restore_ = false;
    std::optional<OwnedServices> owned_;
    std::set<std::pair<model::ServiceKey, Cmd>> warned_;
};

int exit_status(const Outcome& o) {
    if (o.exit) return *o.exit & 0xff;
    return o.result == 0 ? 0 : 255;
}

}  // namespace

int run(const std::vector<std::string>& argv_in, Kernel& kernel, Names& names, Io io,
        Ownership* ownership) {
    std::vector<std::string> argv = argv_in;
    auto extras = take_extras(argv);
    if (auto* stop = std::get_if<Stop>(&extras)) {
        io.out << stop->out;
        io.err << stop->err;
        return stop->exit_code;
    }
    const std::string program = argv.empty() ? "ballastctl" : argv[0];
    Runner runner(kernel, names, io, ownership, std::get<Extras>(extras), program);
    if (argv.size() <= 1) return exit_status(runner.list_everything());
    return exit_status(runner.line(argv, false));
}

}  // namespace ballast::ipvsadm
