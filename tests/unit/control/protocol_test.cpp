// The control protocol: every verb with its arguments, every error a request can get (with
// its id echoed), requests and replies encoded and decoded again.
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "ballast/control/protocol.hpp"
#include "ballast/control/views.hpp"

using namespace ballast;
using namespace ballast::control;
namespace json = boost::json;

namespace {

Request ok(std::string_view line) {
    auto p = parse_request(line);
    if (!p.request()) throw std::runtime_error("refused: " + p.error()->message);
    return *p.request();
}

ProtocolError refused(std::string_view line) {
    auto p = parse_request(line);
    if (!p.error()) throw std::runtime_error("accepted: " + std::string(line));
    return *p.error();
}

const auto kWeb =
    model::ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse("192.0.2.1"), 80);
const auto kReal = model::RealKey{*model::IpAddress::parse("10.0.0.2"), 80};

}  // namespace

TEST(Protocol, EveryVerbParsesWithItsArguments) {
    EXPECT_EQ(ok(R"({"v":1,"verb":"hello"})").verb, Verb::hello);
    EXPECT_EQ(ok(R"({"v":1,"verb":"reload"})").verb, Verb::reload);

    auto status = ok(R"({"v":1,"verb":"status"})");
    EXPECT_EQ(status.verb, Verb::status);
    EXPECT_FALSE(status.service);
    EXPECT_FALSE(status.fresh);
    status = ok(R"({"v":1,"verb":"status","service":"web","fresh":true})");
    EXPECT_EQ(std::get<std::string>(*status.service), "web");
    EXPECT_TRUE(status.fresh);
    status = ok(
        R"({"v":1,"verb":"status","service":{"protocol":"tcp","address":"192.0.2.1","port":80}})");
    EXPECT_EQ(std::get<model::ServiceKey>(*status.service), kWeb);

    auto plan = ok(R"({"v":1,"verb":"plan","file":"/etc/ballast/next.toml"})");
    EXPECT_EQ(plan.verb, Verb::plan);
    EXPECT_EQ(plan.file, "/etc/ballast/next.toml");
    EXPECT_EQ(ok(R"({"v":1,"verb":"check-config","file":"x.toml"})").verb, Verb::check_config);

    auto drain = ok(R"({"v":1,"verb":"drain","real":"10.0.0.2:80"})");
    EXPECT_EQ(drain.verb, Verb::drain);
    EXPECT_EQ(drain.real, kReal);
    EXPECT_FALSE(drain.service);  // every service
    auto enable = ok(R"({"v":1,"verb":"enable","real":"10.0.0.2:80","service":"web"})");
    EXPECT_EQ(enable.verb, Verb::enable);
    EXPECT_EQ(std::get<std::string>(*enable.service), "web");
    auto weight = ok(
        R"({"v":1,"verb":"weight","real":"[2001:db8::2]:443","weight":65535,"service":{"fwmark":7,"family":"ipv6"}})");
    EXPECT_EQ(weight.weight, 65535);
    EXPECT_EQ(weight.real->to_string(), "[2001:db8::2]:443");
    EXPECT_EQ(std::get<model::ServiceKey>(*weight.service), model::ServiceKey::mark(7, AF_INET6));
    EXPECT_EQ(ok(R"({"v":1,"verb":"weight","real":"10.0.0.2:80","weight":0})").weight, 0);

    EXPECT_EQ(ok(R"({"v":1,"verb":"events"})").backlog, 0u);
    EXPECT_EQ(ok(R"({"v":1,"verb":"events","backlog":1000})").backlog, 1000u);
    // "id" is any JSON value and comes back.
    EXPECT_EQ(ok(R"({"v":1,"id":{"n":[1,2]},"verb":"hello"})").id, json::parse(R"({"n":[1,2]})"));
}

TEST(Protocol, WhatChangesStateAndWhatCarriesAFile) {
    for (auto v : {Verb::drain, Verb::enable, Verb::weight, Verb::reload})
        EXPECT_TRUE(changes_state(v));
    for (auto v : {Verb::hello, Verb::status, Verb::plan, Verb::check_config, Verb::events})
        EXPECT_FALSE(changes_state(v));
    EXPECT_TRUE(needs_file(Verb::plan));
    EXPECT_TRUE(needs_file(Verb::check_config));
    EXPECT_FALSE(needs_file(Verb::reload));
    for (auto v : {Verb::hello, Verb::status, Verb::plan, Verb::check_config, Verb::drain,
                   Verb::enable, Verb::weight, Verb::reload, Verb::events})
        EXPECT_EQ(parse_verb(to_string(v)), v);
    EXPECT_FALSE(parse_verb("Drain"));
}

TEST(Protocol, EveryErrorHasItsCodeAndSaysWhatIsWrong) {
    struct Case {
        std::string line;
        ErrorCode code;
        std::string says;
    };
    const std::vector<Case> cases{
        {"", ErrorCode::parse, "not JSON"},
        {"{", ErrorCode::parse, "not JSON"},
        {R"({"v":1,"verb":"hello"} trailing)", ErrorCode::parse, "not JSON"},
        {"[1]", ErrorCode::parse, "must be a JSON object"},
        {"\"status\"", ErrorCode::parse, "must be a JSON object"},
        {R"({"verb":"hello"})", ErrorCode::version, "\"v\" is missing"},
        {R"({"v":2,"verb":"hello"})", ErrorCode::version, "protocol version 2 is not spoken here"},
        {R"({"v":"1","verb":"hello"})", ErrorCode::version, "protocol version \"1\""},
        {R"({"v":1.0,"verb":"hello"})", ErrorCode::version, "not spoken"},
        {R"({"v":1})", ErrorCode::bad_argument, "\"verb\" must be a string, one of: hello, status"},
        {R"({"v":1,"verb":7})", ErrorCode::bad_argument, "\"verb\" must be a string"},
        {R"({"v":1,"verb":"frob"})", ErrorCode::unknown_verb,
         "unknown verb \"frob\"; verbs: hello"},
        {R"({"v":1,"verb":"hello","real":"10.0.0.2:80"})", ErrorCode::bad_argument,
         "\"real\" is not an argument of hello"},
        {R"({"v":1,"verb":"reload","file":"x"})", ErrorCode::bad_argument,
         "\"file\" is not an argument of reload"},
        {R"({"v":1,"verb":"drain","real":"10.0.0.2:80","servcie":"web"})", ErrorCode::bad_argument,
         "\"servcie\" is not an argument of drain"},
        {R"({"v":1,"verb":"drain"})", ErrorCode::bad_argument, "\"real\" is missing"},
        {R"({"v":1,"verb":"drain","real":"nope"})", ErrorCode::bad_argument,
         "bad real server \"nope\""},
        {R"({"v":1,"verb":"drain","real":80})", ErrorCode::bad_argument,
         "a real server must be a string"},
        {R"({"v":1,"verb":"drain","real":"10.0.0.2:80","service":""})", ErrorCode::bad_argument,
         "\"service\" must not be empty"},
        {R"({"v":1,"verb":"drain","real":"10.0.0.2:80","service":{"protocol":"icmp","address":"192.0.2.1","port":80}})",
         ErrorCode::bad_argument, "unknown protocol \"icmp\""},
        {R"({"v":1,"verb":"drain","real":"10.0.0.2:80","service":[1]})", ErrorCode::bad_argument,
         "a service's name or its key"},
        {R"({"v":1,"verb":"weight","real":"10.0.0.2:80"})", ErrorCode::bad_argument,
         "\"weight\" is missing"},
        {R"({"v":1,"verb":"weight","real":"10.0.0.2:80","weight":65536})", ErrorCode::bad_argument,
         "\"weight\" must be an integer 0..65535"},
        {R"({"v":1,"verb":"weight","real":"10.0.0.2:80","weight":-1})", ErrorCode::bad_argument,
         "\"weight\" must be an integer 0..65535"},
        {R"({"v":1,"verb":"weight","real":"10.0.0.2:80","weight":"5"})", ErrorCode::bad_argument,
         "\"weight\" must be an integer"},
        {R"({"v":1,"verb":"plan"})", ErrorCode::bad_argument, "\"file\" is missing"},
        {R"({"v":1,"verb":"plan","file":""})", ErrorCode::bad_argument,
         "\"file\" must not be empty"},
        {R"({"v":1,"verb":"check-config","file":3})", ErrorCode::bad_argument,
         "\"file\" must be a string"},
        {R"({"v":1,"verb":"status","fresh":"yes"})", ErrorCode::bad_argument,
         "\"fresh\" must be true or false"},
        {R"({"v":1,"verb":"events","backlog":1001})", ErrorCode::bad_argument,
         "\"backlog\" must be an integer 0..1000"},
    };
    for (const auto& c : cases) {
        auto e = refused(c.line);
        EXPECT_EQ(e.code, c.code) << c.line << " -> " << e.message;
        EXPECT_NE(e.message.find(c.says), std::string::npos) << c.line << " -> " << e.message;
    }
    const std::string big(kMaxRequestBytes + 1, ' ');
    EXPECT_EQ(refused(big).code, ErrorCode::too_large);
}

TEST(Protocol, AnErrorReplyKeepsTheRequestsId) {
    auto p = parse_request(R"({"v":1,"id":"x-7","verb":"drain"})");
    ASSERT_TRUE(p.error());
    EXPECT_EQ(p.id, json::value("x-7"));
    auto line = encode_error(p.id, *p.error());
    auto back = decode_line(line);
    const auto& reply = std::get<Reply>(back);
    EXPECT_FALSE(reply.ok);
    EXPECT_EQ(reply.id, json::value("x-7"));
    EXPECT_EQ(reply.error.code, ErrorCode::bad_argument);
    EXPECT_EQ(reply.error.message, p.error()->message);
    // Not even an object: no id to keep.
    EXPECT_TRUE(parse_request("[]").id.is_null());
}

TEST(Protocol, EncodedRequestsParseBackToTheSameRequest) {
    std::vector<Request> all;
    for (auto v : {Verb::hello, Verb::status, Verb::plan, Verb::check_config, Verb::drain,
                   Verb::enable, Verb::weight, Verb::reload, Verb::events}) {
        Request r;
        r.verb = v;
        r.id = 42;
        if (v == Verb::status) {
            r.service = ServiceRef{kWeb};
            r.fresh = true;
        }
        if (needs_file(v)) r.file = "/tmp/x.toml";
        if (v == Verb::drain || v == Verb::enable || v == Verb::weight) {
            r.real = kReal;
            r.service = ServiceRef{std::string("web")};
        }
        if (v == Verb::weight) r.weight = 17;
        if (v == Verb::events) r.backlog = 20;
        all.push_back(r);
    }
    for (const auto& r : all) {
        const auto line = encode_request(r);
        ASSERT_EQ(line.back(), '\n');
        auto back = parse_request(std::string_view(line).substr(0, line.size() - 1));
        ASSERT_TRUE(back.request()) << line << back.error()->message;
        const auto& b = *back.request();
        EXPECT_EQ(b.verb, r.verb);
        EXPECT_EQ(b.id, r.id);
        EXPECT_EQ(b.service, r.service);
        EXPECT_EQ(b.real, r.real);
        EXPECT_EQ(b.weight, r.weight);
        EXPECT_EQ(b.file, r.file);
        EXPECT_EQ(b.fresh, r.fresh);
        EXPECT_EQ(b.backlog, r.backlog);
    }
}

TEST(Protocol, DecodesRepliesEventsAndSpotsAnotherVersion) {
    auto okline = encode_ok(7, json::object{{"a", 1}});
    auto r = std::get<Reply>(decode_line(okline));
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.id, json::value(7));
    EXPECT_EQ(r.result, json::parse(R"({"a":1})"));

    ProtocolError e{ErrorCode::invalid_config, "2 errors", {"f:1:1: a", "f:2:1: b"}};
    auto err = std::get<Reply>(decode_line(encode_error({}, e)));
    EXPECT_EQ(err.error.code, ErrorCode::invalid_config);
    EXPECT_EQ(err.error.details, e.details);

    auto ev = std::get<EventLine>(decode_line(encode_event_line(json::object{{"kind", "health"}})));
    EXPECT_EQ(ev.event.at("kind"), "health");

    auto future = std::get<DecodeProblem>(decode_line(R"({"v":3,"ok":true})"));
    EXPECT_TRUE(future.version_mismatch);
    EXPECT_EQ(future.daemon_version, 3);
    EXPECT_NE(future.message.find("ballastd speaks version 3, this ballastctl speaks version 1"),
              std::string::npos);
    EXPECT_FALSE(std::get<DecodeProblem>(decode_line("nope")).version_mismatch);
    EXPECT_NE(
        std::get<DecodeProblem>(decode_line(R"({"ok":true})")).message.find("no protocol version"),
        std::string::npos);
    EXPECT_NE(std::get<DecodeProblem>(decode_line(R"({"v":1})")).message.find("\"ok\" is missing"),
              std::string::npos);
    EXPECT_NE(std::get<DecodeProblem>(decode_line(R"({"v":1,"ok":false,"error":{"code":"x"}})"))
                  .message.find("\"message\" is missing"),
              std::string::npos);
}

// A view's boxed part behaves as an optional: copies are deep, equality is by value.
TEST(Views, BoxedPartsCopyAndCompareByValue) {
    RealView a;
    EXPECT_FALSE(a.check);
    EXPECT_TRUE(a.check == std::nullopt);
    CheckRunView run;
    run.check = "tcp 10.0.0.2:80";
    run.state = "up";
    a.check = run;
    RealView b = a;
    ASSERT_TRUE(b.check);
    EXPECT_EQ(a, b);
    b.check->state = "down";
    EXPECT_EQ(a.check->state, "up");
    EXPECT_NE(a, b);
    // Compared with an optional by value too (the runner and the health book hold agent
    // replies boxed and compare them with a probe's optional reply).
    EXPECT_TRUE(a.check == std::optional<CheckRunView>(run));
    EXPECT_TRUE(b.check != std::optional<CheckRunView>(run));
    EXPECT_TRUE(b.check != std::optional<CheckRunView>());
    b.check = std::optional<CheckRunView>();
    EXPECT_FALSE(b.check);
    EXPECT_TRUE(b.check == std::optional<CheckRunView>());
    EXPECT_TRUE(b.check != std::optional<CheckRunView>(run));
    TrafficView seven;
    seven.conns = 7;
    EXPECT_EQ(b.traffic.value_or(seven).conns, 7u);
    EXPECT_LT(sizeof(RealView), 2 * sizeof(CheckRunView));  // the parts are not inline
}
