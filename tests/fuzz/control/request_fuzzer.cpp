// The control protocol's parsers on arbitrary bytes: the daemon's request parser (a request
// that parses encodes back to the same request) and ballastctl's reply decoder with the view
// decoders behind it. Neither may crash, hang or leak.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ballast/control/protocol.hpp"
#include "ballast/control/views.hpp"

using namespace ballast::control;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    auto parsed = parse_request(line);
    if (const auto* req = parsed.request()) {
        const auto encoded = encode_request(*req);
        auto again = parse_request(std::string_view(encoded).substr(0, encoded.size() - 1));
        const auto* back = again.request();
        if (!back || back->verb != req->verb || back->real != req->real ||
            back->service != req->service || back->weight != req->weight ||
            back->file != req->file || back->fresh != req->fresh || back->backlog != req->backlog ||
            back->id != req->id)
            std::abort();
    } else if (!parsed.error() || parsed.error()->message.empty()) {
        std::abort();  // a refusal always says why
    }
    auto decoded = decode_line(line);
    if (const auto* reply = std::get_if<Reply>(&decoded); reply && reply->ok) {
        (void)status_from_json(reply->result);
        (void)plan_from_json(reply->result);
        (void)reload_from_json(reply->result);
        (void)hello_from_json(reply->result);
    } else if (const auto* ev = std::get_if<EventLine>(&decoded)) {
        (void)event_from_json(ev->event);
    }
    return 0;
}
