#pragma once
// Errors are values on the kernel path: every fallible kernel or socket
// operation returns Result<T>, carrying errno, the operation and the key it
// concerned, so a failure can be reported against the right object.
#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace ballast {

struct Error {
    int code = 0;         // errno value (positive), or 0 for a non-errno failure
    std::string op;       // e.g. "IPVS_CMD_NEW_DEST"
    std::string key;      // e.g. "192.0.2.1:80/tcp -> 10.0.0.2:80"
    std::string message;  // operator-facing explanation; empty = derive from code

    // One line an operator understands: message if set, else strerror(code), with op and key.
    std::string describe() const;
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error e) : v_(std::move(e)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error e) : err_(std::move(e)), ok_(false) {}
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return err_; }

private:
    Error err_;
    bool ok_ = true;
};

using Status = Result<void>;

inline Error make_error(int code, std::string op, std::string key = {}, std::string message = {}) {
    return Error{code, std::move(op), std::move(key), std::move(message)};
}

}  // namespace ballast
