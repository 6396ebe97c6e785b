#include "ballast/nft/netlink_nft_client.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <string>

namespace ballast::nft {
namespace {

constexpr uint16_t kFamily = NFPROTO_INET;
// How long a dump waits for each reply datagram.
constexpr std::chrono::seconds kReplyTimeout{10};

// RAII for libnftnl objects.
template <typename T, void (*Free)(const T*)>
struct Owned {
    T* p;
    explicit Owned(T* ptr) : p(ptr) {}
    ~Owned() {
        if (p) Free(p);
    }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
    T* get() const { return p; }
    T* release() {
        T* r = p;
        p = nullptr;
        return r;
    }
};
using TablePtr = Owned<nftnl_table, nftnl_table_free>;
using ChainPtr = Owned<nftnl_chain, nftnl_chain_free>;
using SetPtr = Owned<nftnl_set, nftnl_set_free>;
using RulePtr = Owned<nftnl_rule, nftnl_rule_free>;

// One netlink message built by a libnftnl payload builder, sized for its content.
template <typename Fill>
void append_msg(std::vector<char>& out, size_t room, uint16_t type, uint16_t flags, uint32_t seq,
                Fill fill) {
    std::vector<char> buf(room + 4096, 0);
    auto* nlh = nftnl_nlmsg_build_hdr(buf.data(), type, kFamily, flags, seq);
    fill(nlh);
    const size_t len = NLMSG_ALIGN(nlh->nlmsg_len);
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len));
}

void append_batch_marker(std::vector<char>& out, bool begin, uint32_t seq,
                         std::optional<uint32_t> genid = {}) {
    std::vector<char> buf(256, 0);
    auto* nlh = begin ? nftnl_batch_begin(buf.data(), seq) : nftnl_batch_end(buf.data(), seq);
    // The kernel refuses the batch (ERESTART) if the ruleset changed since that generation.
    if (begin && genid) mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(*genid));
    out.insert(out.end(), buf.begin(),
               buf.begin() + static_cast<std::ptrdiff_t>(NLMSG_ALIGN(nlh->nlmsg_len)));
}

nftnl_expr* encode_expr(const Expr& e, const std::map<std::string, uint32_t>& set_ids) {
    struct V {
        const std::map<std::string, uint32_t>& ids;
        nftnl_expr* operator()(const MetaLoad& m) {
            auto* x = nftnl_expr_alloc("meta");
            nftnl_expr_set_u32(x, NFTNL_EXPR_META_KEY, m.key);
            nftnl_expr_set_u32(x, NFTNL_EXPR_META_DREG, m.dreg);
            return x;
        }
        nftnl_expr* operator()(const MetaSet& m) {
            auto* x = nftnl_expr_alloc("meta");
            nftnl_expr_set_u32(x, NFTNL_EXPR_META_KEY, m.key);
            nftnl_expr_set_u32(x, NFTNL_EXPR_META_SREG, m.sreg);
            return x;
        }
        nftnl_expr* operator()(const Cmp& c) {
            auto* x = nftnl_expr_alloc("cmp");
            nftnl_expr_set_u32(x, NFTNL_EXPR_CMP_SREG, c.sreg);
            nftnl_expr_set_u32(x, NFTNL_EXPR_CMP_OP, c.op);
            nftnl_expr_set(x, NFTNL_EXPR_CMP_DATA, c.data.data(),
                           static_cast<uint32_t>(c.data.size()));
            return x;
        }
        nftnl_expr* operator()(const Payload& p) {
            auto* x = nftnl_expr_alloc("payload");
            nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_DREG, p.dreg);
            nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_BASE, p.base);
            nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_OFFSET, p.offset);
            nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_LEN, p.len);
            return x;
        }
        nftnl_expr* operator()(const Lookup& l) {
            auto* x = nftnl_expr_alloc("lookup");
            nftnl_expr_set_u32(x, NFTNL_EXPR_LOOKUP_SREG, l.sreg);
            nftnl_expr_set_str(x, NFTNL_EXPR_LOOKUP_SET, l.set.c_str());
            if (auto it = ids.find(l.set); it != ids.end())
                nftnl_expr_set_u32(x, NFTNL_EXPR_LOOKUP_SET_ID, it->second);
            if (l.flags) nftnl_expr_set_u32(x, NFTNL_EXPR_LOOKUP_FLAGS, l.flags);
            return x;
        }
        nftnl_expr* operator()(const Immediate& i) {
            auto* x = nftnl_expr_alloc("immediate");
            nftnl_expr_set_u32(x, NFTNL_EXPR_IMM_DREG, i.dreg);
            nftnl_expr_set(x, NFTNL_EXPR_IMM_DATA, i.data.data(),
                           static_cast<uint32_t>(i.data.size()));
            return x;
        }
        nftnl_expr* operator()(const Masquerade&) { return nftnl_expr_alloc("masq"); }
        nftnl_expr* operator()(const OtherExpr&) { return nullptr; }  // never built
    };
    return std::visit(V{set_ids}, e);
}

Bytes get_bytes(const nftnl_expr* e, uint16_t attr) {
    uint32_t len = 0;
    const auto* p = static_cast<const uint8_t*>(nftnl_expr_get(e, attr, &len));
    return p ? Bytes(p, p + len) : Bytes{};
}

Expr decode_expr(nftnl_expr* e) {
    const std::string name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    auto u32 = [e](uint16_t a) { return nftnl_expr_get_u32(e, a); };
    auto has = [e](uint16_t a) { return nftnl_expr_is_set(e, a); };
    if (name == "meta") {
        if (has(NFTNL_EXPR_META_DREG))
            return MetaLoad{u32(NFTNL_EXPR_META_KEY), u32(NFTNL_EXPR_META_DREG)};
        return MetaSet{u32(NFTNL_EXPR_META_KEY), u32(NFTNL_EXPR_META_SREG)};
    }
    if (name == "cmp")
        return Cmp{u32(NFTNL_EXPR_CMP_SREG), u32(NFTNL_EXPR_CMP_OP),
                   get_bytes(e, NFTNL_EXPR_CMP_DATA)};
    if (name == "payload" && !has(NFTNL_EXPR_PAYLOAD_SREG))
        return Payload{u32(NFTNL_EXPR_PAYLOAD_DREG), u32(NFTNL_EXPR_PAYLOAD_BASE),
                       u32(NFTNL_EXPR_PAYLOAD_OFFSET), u32(NFTNL_EXPR_PAYLOAD_LEN)};
    if (name == "lookup" && !has(NFTNL_EXPR_LOOKUP_DREG))
        return Lookup{u32(NFTNL_EXPR_LOOKUP_SREG), nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET),
                      has(NFTNL_EXPR_LOOKUP_FLAGS) ? u32(NFTNL_EXPR_LOOKUP_FLAGS) : 0};
    if (name == "immediate" && has(NFTNL_EXPR_IMM_DATA))
        return Immediate{u32(NFTNL_EXPR_IMM_DREG), get_bytes(e, NFTNL_EXPR_IMM_DATA)};
    if (name == "masq" && !has(NFTNL_EXPR_MASQ_FLAGS) && !has(NFTNL_EXPR_MASQ_REG_PROTO_MIN))
        return Masquerade{};
    return OtherExpr{name};
}

// Dump callbacks: each parses one message into the TableModel being filled.
struct DumpState {
    bool table_found = false;
    uint32_t table_flags = 0;
    TableModel table;
    std::vector<RawElement> raw;  // elements of the set being dumped
    std::map<std::string, std::vector<Rule>> rules;
};

int table_cb(const nlmsghdr* nlh, void* data) {
    auto* st = static_cast<DumpState*>(data);
    TablePtr t(nftnl_table_alloc());
    if (nftnl_table_nlmsg_parse(nlh, t.get()) < 0) return MNL_CB_ERROR;
    if (std::string(nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME)) == kTableName &&
        nftnl_table_get_u32(t.get(), NFTNL_TABLE_FAMILY) == kFamily) {
        st->table_found = true;
        st->table_flags = nftnl_table_get_u32(t.get(), NFTNL_TABLE_FLAGS);
    }
    return MNL_CB_OK;
}

int set_cb(const nlmsghdr* nlh, void* data) {
    auto* st = static_cast<DumpState*>(data);
    SetPtr s(nftnl_set_alloc());
    if (nftnl_set_nlmsg_parse(nlh, s.get()) < 0) return MNL_CB_ERROR;
    if (std::string(nftnl_set_get_str(s.get(), NFTNL_SET_TABLE)) != kTableName) return MNL_CB_OK;
    SetModel m;
    m.name = nftnl_set_get_str(s.get(), NFTNL_SET_NAME);
    m.flags = nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS);
    m.key_type = nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_TYPE);
    m.key_len = nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_LEN);
    if (nftnl_set_is_set(s.get(), NFTNL_SET_USERDATA)) {
        uint32_t len = 0;
        const auto* p =
            static_cast<const uint8_t*>(nftnl_set_get_data(s.get(), NFTNL_SET_USERDATA, &len));
        if (p) m.userdata.assign(p, p + len);
    }
    st->table.sets.push_back(std::move(m));
    return MNL_CB_OK;
}

int elem_cb(const nlmsghdr* nlh, void* data) {
    auto* st = static_cast<DumpState*>(data);
    SetPtr s(nftnl_set_alloc());
    if (nftnl_set_elems_nlmsg_parse(nlh, s.get()) < 0) return MNL_CB_ERROR;
    nftnl_set_elem_foreach(
        s.get(),
        [](nftnl_set_elem* e, void* d) {
            auto* raw = static_cast<std::vector<RawElement>*>(d);
            uint32_t len = 0;
            const auto* k =
                static_cast<const uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len));
            const bool end =
                nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
                (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END);
            raw->push_back({k ? Bytes(k, k + len) : Bytes{}, end});
            return 0;
        },
        &st->raw);
    return MNL_CB_OK;
}

int chain_cb(const nlmsghdr* nlh, void* data) {
    auto* st = static_cast<DumpState*>(data);
    ChainPtr c(nftnl_chain_alloc());
    if (nftnl_chain_nlmsg_parse(nlh, c.get()) < 0) return MNL_CB_ERROR;
    if (std::string(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE)) != kTableName)
        return MNL_CB_OK;
    ChainModel m;
    m.name = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME);
    if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_TYPE))
        m.type = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TYPE);
    if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_HOOKNUM)) {
        m.hooknum = nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM);
        m.priority = nftnl_chain_get_s32(c.get(), NFTNL_CHAIN_PRIO);
    } else {
        m.hooknum = ~0u;  // not a base chain
    }
    m.policy = nftnl_chain_is_set(c.get(), NFTNL_CHAIN_POLICY)
                   ? nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_POLICY)
                   : ~0u;
    st->table.chains.push_back(std::move(m));
    return MNL_CB_OK;
}

int rule_cb(const nlmsghdr* nlh, void* data) {
    auto* st = static_cast<DumpState*>(data);
    RulePtr r(nftnl_rule_alloc());
    if (nftnl_rule_nlmsg_parse(nlh, r.get()) < 0) return MNL_CB_ERROR;
    if (std::string(nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE)) != kTableName) return MNL_CB_OK;
    Rule rule;
    rule.handle = nftnl_rule_get_u64(r.get(), NFTNL_RULE_HANDLE);
    nftnl_expr_foreach(
        r.get(),
        [](nftnl_expr* e, void* d) {
            static_cast<Rule*>(d)->exprs.push_back(decode_expr(e));
            return 0;
        },
        &rule);
    st->rules[nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN)].push_back(std::move(rule));
    return MNL_CB_OK;
}

std::string errno_text(int code) {
    return std::strerror(code);
}

int gen_cb(const nlmsghdr* nlh, void* data) {
    auto* out = static_cast<uint32_t*>(data);
    Owned<nftnl_gen, nftnl_gen_free> g(nftnl_gen_alloc());
    if (nftnl_gen_nlmsg_parse(nlh, g.get()) < 0) return MNL_CB_ERROR;
    *out = nftnl_gen_get_u32(g.get(), NFTNL_GEN_ID);
    return MNL_CB_OK;
}

}  // namespace

Result<std::unique_ptr<NetlinkNftClient>> NetlinkNftClient::open() {
    mnl_socket* sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    if (!sock) return make_error(errno, "mnl_socket_open(NETLINK_NETFILTER)");
    if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;
        mnl_socket_close(sock);
        return make_error(e, "mnl_socket_bind");
    }
    // Errors need not echo whole (possibly large) requests.
    int one = 1;
    mnl_socket_setsockopt(sock, NETLINK_CAP_ACK, &one, sizeof one);
    // A dump's receive gives up instead of blocking for ever on a kernel that does not answer.
    timeval limit{kReplyTimeout.count(), 0};
    ::setsockopt(mnl_socket_get_fd(sock), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    return std::unique_ptr<NetlinkNftClient>(new NetlinkNftClient(sock));
}

NetlinkNftClient::NetlinkNftClient(mnl_socket* sock)
    : sock_(sock),
      portid_(mnl_socket_get_portid(sock)),
      seq_(static_cast<uint32_t>(std::time(nullptr))) {}

NetlinkNftClient::~NetlinkNftClient() {
    mnl_socket_close(sock_);
}

void NetlinkNftClient::drain() {
    char byte;
    // MSG_TRUNC: each datagram is dropped whole whatever its length.
    while (::recv(mnl_socket_get_fd(sock_), &byte, sizeof byte, MSG_DONTWAIT | MSG_TRUNC) >= 0 ||
           errno == EINTR) {
    }
}

Status NetlinkNftClient::run_dump(std::vector<char> request, int (*cb)(const nlmsghdr*, void*),
                                  void* data, const char* op) {
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(request.data());
    const uint32_t seq = nlh->nlmsg_seq;
    drain();  // replies an exchange that ended early left would fail the sequence check
    if (mnl_socket_sendto(sock_, request.data(), nlh->nlmsg_len) < 0)
        return make_error(errno, op, kTableName);
    std::vector<char> buf(1 << 16);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return make_error(
                ETIMEDOUT, op, kTableName,
                "no reply from the kernel within " + std::to_string(kReplyTimeout.count()) + " s");
        if (n < 0) return make_error(errno, op, kTableName);
        int ret = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid_, cb, data);
        if (ret < 0) return make_error(errno, op, kTableName);
        if (ret == MNL_CB_STOP) return {};
    }
}

Result<uint32_t> NetlinkNftClient::read_generation() {
    uint32_t gen = 0;
    std::vector<char> req;
    append_msg(req, 64, NFT_MSG_GETGEN, NLM_F_ACK, next_seq(), [](nlmsghdr* h) {
        // NFT_MSG_GETGEN is family-agnostic.
        static_cast<nfgenmsg*>(mnl_nlmsg_get_payload(h))->nfgen_family = AF_UNSPEC;
    });
    if (auto s = run_dump(std::move(req), gen_cb, &gen, "NFT_MSG_GETGEN"); !s) return s.error();
    return gen;
}

Result<std::optional<TableModel>> NetlinkNftClient::dump_table() {
    for (int attempt = 0;; ++attempt) {
        auto gen_before = read_generation();
        if (!gen_before) return gen_before.error();
        DumpState st;
        auto dump = [&](uint16_t type, auto build, int (*cb)(const nlmsghdr*, void*),
                        const char* op) {
            std::vector<char> req;
            append_msg(req, 512, type, NLM_F_DUMP, next_seq(), build);
            return run_dump(std::move(req), cb, &st, op);
        };
        Status s = dump(
            NFT_MSG_GETTABLE, [](nlmsghdr*) {}, table_cb, "NFT_MSG_GETTABLE");
        if (s.ok() && !st.table_found) {
            generation_ = *gen_before;
            return std::optional<TableModel>{};
        }
        if (s.ok()) {
            st.table.flags = st.table_flags;
            s = dump(
                NFT_MSG_GETSET,
                [](nlmsghdr* h) {
                    SetPtr set(nftnl_set_alloc());
                    nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, kTableName);
                    nftnl_set_nlmsg_build_payload(h, set.get());
                },
                set_cb, "NFT_MSG_GETSET");
        }
        for (auto& set : st.table.sets) {
            if (!s.ok()) break;
            st.raw.clear();
            s = dump(
                NFT_MSG_GETSETELEM,
                [&set](nlmsghdr* h) {
                    SetPtr q(nftnl_set_alloc());
                    nftnl_set_set_str(q.get(), NFTNL_SET_TABLE, kTableName);
                    nftnl_set_set_str(q.get(), NFTNL_SET_NAME, set.name.c_str());
                    nftnl_set_elems_nlmsg_build_payload(h, q.get());
                },
                elem_cb, "NFT_MSG_GETSETELEM");
            if (set.is_interval()) {
                set.elements = intervals_from_raw(st.raw, &set.zero_marker);
            } else {
                for (auto& r : st.raw) set.elements.push_back({r.key, r.key});
                std::sort(set.elements.begin(), set.elements.end());
            }
        }
        if (s.ok())
            s = dump(
                NFT_MSG_GETCHAIN,
                [](nlmsghdr* h) {
                    ChainPtr c(nftnl_chain_alloc());
                    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, kTableName);
                    nftnl_chain_nlmsg_build_payload(h, c.get());
                },
                chain_cb, "NFT_MSG_GETCHAIN");
        if (s.ok())
            s = dump(
                NFT_MSG_GETRULE,
                [](nlmsghdr* h) {
                    RulePtr r(nftnl_rule_alloc());
                    nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, kTableName);
                    nftnl_rule_nlmsg_build_payload(h, r.get());
                },
                rule_cb, "NFT_MSG_GETRULE");
        if (s.ok()) {
            // A change between the first and the last dump message: dump again.
            auto gen_after = read_generation();
            if (!gen_after) return gen_after.error();
            if (*gen_after != *gen_before && attempt < 3) continue;
            generation_ = *gen_after;
            for (auto& c : st.table.chains) c.rules = std::move(st.rules[c.name]);
            return std::optional<TableModel>(std::move(st.table));
        }
        // A dump interrupted by a concurrent change (or a table deleted meanwhile): retry.
        const int code = s.error().code;
        if ((code == EINTR || code == ENOENT) && attempt < 3) continue;
        return s.error();
    }
}

Status NetlinkNftClient::send_batch(const std::vector<NftOp>& ops,
                                    std::optional<uint32_t> generation) {
    std::vector<char> msgs;
    append_batch_marker(msgs, true, next_seq(), generation);
    std::map<std::string, uint32_t> set_ids;
    uint32_t next_set_id = 1;
    size_t expected = 0;
    std::map<uint32_t, std::string> what_by_seq;  // to name the message an error refers to
    auto sent = [&](std::string what) {
        what_by_seq[seq_ - 1] = std::move(what);
        ++expected;
    };
    const uint16_t ack = NLM_F_ACK;

    auto add_elements = [&](uint16_t type, const std::string& name,
                            const std::vector<Interval>& elems, bool zero_marker,
                            uint32_t set_flags) {
        // A netlink attribute holds at most 64 KiB, so large lists take several messages
        // (as nft does), split between ranges so a start and its end stay together; they are
        // all in this one batch.
        constexpr size_t kPerMessage = 256;
        for (size_t at = 0; at < elems.size(); at += kPerMessage) {
            const std::vector<Interval> part(elems.begin() + static_cast<std::ptrdiff_t>(at),
                                             elems.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                                 elems.size(), at + kPerMessage)));
            std::vector<RawElement> raw;
            if (set_flags & NFT_SET_INTERVAL) {
                raw = raw_from_intervals(part, zero_marker && at == 0);
            } else {
                for (const auto& i : part) raw.push_back({i.first, false});
            }
            SetPtr chunk(nftnl_set_alloc());
            nftnl_set_set_str(chunk.get(), NFTNL_SET_TABLE, kTableName);
            nftnl_set_set_str(chunk.get(), NFTNL_SET_NAME, name.c_str());
            if (auto it = set_ids.find(name); it != set_ids.end())
                nftnl_set_set_u32(chunk.get(), NFTNL_SET_ID, it->second);
            for (const auto& elem : raw) {
                auto* e = nftnl_set_elem_alloc();
                nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, elem.key.data(),
                                   static_cast<uint32_t>(elem.key.size()));
                if (elem.interval_end)
                    nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
                nftnl_set_elem_add(chunk.get(), e);
            }
            append_msg(msgs, raw.size() * 64, type,
                       static_cast<uint16_t>(type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE | ack : ack),
                       next_seq(),
                       [&](nlmsghdr* h) { nftnl_set_elems_nlmsg_build_payload(h, chunk.get()); });
            sent((type == NFT_MSG_NEWSETELEM ? "add element " : "delete element ") + name);
        }
    };

    for (const auto& op : ops) {
        if (std::holds_alternative<DeleteTable>(op) || std::holds_alternative<AddTable>(op)) {
            const bool del = std::holds_alternative<DeleteTable>(op);
            TablePtr t(nftnl_table_alloc());
            nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, kTableName);
            if (!del) nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, 0);
            append_msg(msgs, 256, del ? NFT_MSG_DELTABLE : NFT_MSG_NEWTABLE,
                       static_cast<uint16_t>(del ? ack : NLM_F_CREATE | ack), next_seq(),
                       [&](nlmsghdr* h) { nftnl_table_nlmsg_build_payload(h, t.get()); });
            sent(describe(op));
        } else if (const auto* as = std::get_if<AddSet>(&op)) {
            const uint32_t id = next_set_id++;
            set_ids[as->set.name] = id;
            SetPtr s(nftnl_set_alloc());
            nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, kTableName);
            nftnl_set_set_str(s.get(), NFTNL_SET_NAME, as->set.name.c_str());
            nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, kFamily);
            nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, as->set.flags);
            nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, as->set.key_type);
            nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, as->set.key_len);
            nftnl_set_set_u32(s.get(), NFTNL_SET_ID, id);
            if (!as->set.userdata.empty())
                nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, as->set.userdata.data(),
                                   static_cast<uint32_t>(as->set.userdata.size()));
            append_msg(msgs, 512, NFT_MSG_NEWSET, NLM_F_CREATE | ack, next_seq(),
                       [&](nlmsghdr* h) { nftnl_set_nlmsg_build_payload(h, s.get()); });
            sent(describe(op));
        } else if (const auto* ae = std::get_if<AddElements>(&op)) {
            add_elements(NFT_MSG_NEWSETELEM, ae->set, ae->elements, ae->zero_marker, ae->set_flags);
        } else if (const auto* de = std::get_if<DeleteElements>(&op)) {
            add_elements(NFT_MSG_DELSETELEM, de->set, de->elements, false, de->set_flags);
        } else if (const auto* ac = std::get_if<AddChain>(&op)) {
            ChainPtr c(nftnl_chain_alloc());
            nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, kTableName);
            nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, ac->chain.name.c_str());
            nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, ac->chain.type.c_str());
            nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, ac->chain.policy);
            nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, ac->chain.hooknum);
            nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, ac->chain.priority);
            append_msg(msgs, 512, NFT_MSG_NEWCHAIN, NLM_F_CREATE | ack, next_seq(),
                       [&](nlmsghdr* h) { nftnl_chain_nlmsg_build_payload(h, c.get()); });
            sent(describe(op));
        } else if (const auto* dr = std::get_if<DeleteRule>(&op)) {
            RulePtr r(nftnl_rule_alloc());
            nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, kTableName);
            nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, dr->chain.c_str());
            nftnl_rule_set_u64(r.get(), NFTNL_RULE_HANDLE, dr->handle);
            append_msg(msgs, 256, NFT_MSG_DELRULE, ack, next_seq(),
                       [&](nlmsghdr* h) { nftnl_rule_nlmsg_build_payload(h, r.get()); });
            sent(describe(op));
        } else if (const auto* ar = std::get_if<AddRule>(&op)) {
            RulePtr r(nftnl_rule_alloc());
            nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, kTableName);
            nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, ar->chain.c_str());
            for (const auto& e : ar->rule.exprs) {
                nftnl_expr* x = encode_expr(e, set_ids);
                if (!x)
                    return make_error(EINVAL, "NFT_MSG_NEWRULE", ar->chain,
                                      "cannot encode expression");
                nftnl_rule_add_expr(r.get(), x);
            }
            append_msg(msgs, 2048, NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE | ack, next_seq(),
                       [&](nlmsghdr* h) { nftnl_rule_nlmsg_build_payload(h, r.get()); });
            sent(describe(op));
        }
    }
    append_batch_marker(msgs, false, next_seq());

    drain();  // acks an exchange that ended early left would be counted as this batch's
    // The whole batch goes in one sendmsg: make room for it.
    int sndbuf = static_cast<int>(msgs.size()) + 4096;
    if (sndbuf > 200000)
        setsockopt(mnl_socket_get_fd(sock_), SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
    if (mnl_socket_sendto(sock_, msgs.data(), msgs.size()) < 0)
        return make_error(errno, "nfnetlink batch", kTableName);

    // One ack (or error) per message; the kernel commits all or nothing.
    size_t answered = 0;
    std::optional<Error> first_error;
    std::vector<char> buf(1 << 16);
    while (answered < expected) {
        pollfd pfd{mnl_socket_get_fd(sock_), POLLIN, 0};
        int timeout_ms = first_error ? 200 : 5000;
        int pr = ::poll(&pfd, 1, timeout_ms);
        if (pr <= 0) {
            if (first_error) break;
            return make_error(pr == 0 ? ETIMEDOUT : errno, "nfnetlink batch ack", kTableName);
        }
        ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
        if (n < 0) return make_error(errno, "nfnetlink batch ack", kTableName);
        int len = static_cast<int>(n);
        for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len)) {
            if (nlh->nlmsg_type != NLMSG_ERROR) continue;
            const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
            ++answered;
            if (err->error != 0 && !first_error)
                first_error =
                    make_error(-err->error, "nfnetlink batch", kTableName,
                               errno_text(-err->error) + " (" +
                                   (what_by_seq.count(nlh->nlmsg_seq) ? what_by_seq[nlh->nlmsg_seq]
                                                                      : std::string("batch")) +
                                   ", message seq " + std::to_string(nlh->nlmsg_seq) + ")");
        }
    }
    if (first_error) return *first_error;
    return {};
}

Result<kernel::NatObserved> NetlinkNftClient::dump() {
    auto t = dump_table();
    if (!t) return t.error();
    if (!*t) return kernel::NatObserved{};
    return to_observed(**t);
}

Result<kernel::NftApplied> NetlinkNftClient::apply(const kernel::NatDesired& desired) {
    auto want = build_table(desired);
    if (!want) return want.error();
    // Compare-and-swap on the ruleset generation: if anyone changes nftables between our
    // dump and our batch, the kernel refuses the batch and we plan again from a new dump.
    for (int attempt = 0;; ++attempt) {
        auto have = dump_table();
        if (!have) return have.error();
        auto ops = plan(*have, *want);
        kernel::NftApplied out;
        if (ops.empty()) return out;
        if (auto s = send_batch(ops, generation_); !s) {
            if (s.error().code == ERESTART && attempt < 3) continue;
            return s.error();
        }
        out.batch_sent = true;
        for (const auto& op : ops) out.changes.push_back(describe(op));
        return out;
    }
}

Status NetlinkNftClient::remove() {
    auto s = send_batch({DeleteTable{}});
    if (!s && s.error().code == ENOENT) return {};
    return s;
}

}  // namespace ballast::nft
