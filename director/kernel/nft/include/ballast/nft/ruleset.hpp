#pragma once
// Table "inet ballast" as plain values, the builder (NatDesired -> TableModel) and the
// planner (observed TableModel, desired TableModel -> ordered ops for one batch). Pure: the
// netlink shell encodes TableModel/ops with libnftnl and decodes dumps into TableModel.
//
// Expressions are spelled exactly as `nft` generates them for the same rule (checked
// against `nft --debug=netlink`), so `nft list table inet ballast` shows our rules and
// `nft -f` of that listing recreates an identical table.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ballast/kernel/nft_client.hpp"
#include "ballast/model/result.hpp"

namespace ballast::nft {

using Bytes = std::vector<uint8_t>;

inline constexpr const char* kTableName = "ballast";
inline constexpr const char* kSetRs4 = "rs4";
inline constexpr const char* kSetRs6 = "rs6";
inline constexpr const char* kSetEgress = "egress";
inline constexpr const char* kChainPostrouting = "postrouting";
inline constexpr const char* kChainPrerouting = "prerouting";

// Expressions (fields as in linux/netfilter/nf_tables.h; data in the byte order nft uses).
struct MetaLoad {
    uint32_t key = 0;
    uint32_t dreg = 1;
    auto operator<=>(const MetaLoad&) const = default;
};
struct MetaSet {
    uint32_t key = 0;
    uint32_t sreg = 1;
    auto operator<=>(const MetaSet&) const = default;
};
struct Cmp {
    uint32_t sreg = 1;
    uint32_t op = 0;  // NFT_CMP_EQ ...
    Bytes data;
    auto operator<=>(const Cmp&) const = default;
};
struct Payload {
    uint32_t dreg = 1;
    uint32_t base = 0;  // NFT_PAYLOAD_NETWORK_HEADER ...
    uint32_t offset = 0;
    uint32_t len = 0;
    auto operator<=>(const Payload&) const = default;
};
struct Lookup {
    uint32_t sreg = 1;
    std::string set;
    uint32_t flags = 0;
    auto operator<=>(const Lookup&) const = default;
};
struct Immediate {
    uint32_t dreg = 1;
    Bytes data;
    auto operator<=>(const Immediate&) const = default;
};
struct Masquerade {
    auto operator<=>(const Masquerade&) const = default;
};
// Anything else found in a dump: never equal to what we build.
struct OtherExpr {
    std::string name;
    auto operator<=>(const OtherExpr&) const = default;
};
using Expr =
    std::variant<MetaLoad, MetaSet, Cmp, Payload, Lookup, Immediate, Masquerade, OtherExpr>;

struct Rule {
    std::vector<Expr> exprs;
    uint64_t handle = 0;  // observed rules only; ignored on compare
    bool same_as(const Rule& o) const { return exprs == o.exprs; }
};

// One element of an interval set is a range [first, last]; plain sets use first == last.
struct Interval {
    Bytes first;
    Bytes last;
    auto operator<=>(const Interval&) const = default;
};

struct SetModel {
    std::string name;
    uint32_t flags = 0;  // NFT_SET_INTERVAL ...
    uint32_t key_type = 0;
    uint32_t key_len = 0;
    Bytes userdata;  // nft's NFTNL_UDATA_SET_KEYBYTEORDER
    std::vector<Interval> elements;
    bool zero_marker = false;  // observed: the lone interval end at 0 that nft writes
    bool is_interval() const;
    bool same_shape(const SetModel& o) const;  // everything but elements
};

struct ChainModel {
    std::string name;
    std::string type;  // "nat", "filter"
    uint32_t hooknum = 0;
    int32_t priority = 0;
    uint32_t policy = 1;  // NF_ACCEPT
    std::vector<Rule> rules;
    bool same_shape(const ChainModel& o) const;  // everything but rules
};

struct TableModel {
    uint32_t flags = 0;
    std::vector<SetModel> sets;
    std::vector<ChainModel> chains;
    const SetModel* find_set(const std::string& name) const;
    const ChainModel* find_chain(const std::string& name) const;
};

// Builds the table for the desired state: validates ports/protocols and merges addresses.
Result<TableModel> build_table(const kernel::NatDesired& desired);

// Ops of one batch, in the order they are sent.
struct DeleteTable {};
struct AddTable {};
struct AddSet {
    SetModel set;  // without elements
};
struct AddElements {
    std::string set;
    std::vector<Interval> elements;
    bool zero_marker = false;  // also write the interval end at 0 (set was empty), as nft does
    uint32_t set_flags = 0;
    uint32_t key_len = 0;
};
struct DeleteElements {
    std::string set;
    std::vector<Interval> elements;
    uint32_t set_flags = 0;
    uint32_t key_len = 0;
};
struct AddChain {
    ChainModel chain;  // without rules
};
struct DeleteRule {
    std::string chain;
    uint64_t handle = 0;
};
struct AddRule {
    std::string chain;
    Rule rule;
};
using NftOp = std::variant<DeleteTable, AddTable, AddSet, AddElements, DeleteElements, AddChain,
                           DeleteRule, AddRule>;

std::string describe(const NftOp& op);

// Minimal ops turning observed (nullopt = no table) into desired. Element and rule changes
// are incremental; a set or chain whose shape differs (or a table flag) makes the whole
// table be deleted and recreated in the same batch. Sets and chains we do not create are
// left alone unless the table is recreated.
std::vector<NftOp> plan(const std::optional<TableModel>& observed, const TableModel& desired);

// Kernel interval elements (start keys, and end keys flagged) -> ranges; see netlink shell.
struct RawElement {
    Bytes key;
    bool interval_end = false;
};
std::vector<Interval> intervals_from_raw(std::vector<RawElement> raw, bool* zero_marker);
// Ranges -> kernel elements: start key, and end key (last + 1) flagged unless last is the top.
std::vector<RawElement> raw_from_intervals(const std::vector<Interval>& intervals,
                                           bool zero_marker);

// Observed table -> the reconciler's view.
kernel::NatObserved to_observed(const TableModel& table);

}  // namespace ballast::nft
