#pragma once
#include <compare>
#include <memory>
#include <optional>

namespace ballast::model {

// An optional kept on the heap: 8 bytes while empty. For large parts that are mostly absent
// where values are held in bulk (a RealView per real server, an agent reply per check: 50,000
// at 5,000 x 10). Copies copy the value.
template <typename T>
class Boxed {
public:
    Boxed() = default;
    // Implicit, as optional: assigned from a value, nullopt or an optional.
    Boxed(std::nullopt_t) {}
    Boxed(T value) : p_(std::make_unique<T>(std::move(value))) {}
    Boxed(std::optional<T> value) {
        if (value) p_ = std::make_unique<T>(std::move(*value));
    }
    Boxed(const Boxed& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
    Boxed(Boxed&&) noexcept = default;
    Boxed& operator=(const Boxed& o) {
        if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
        return *this;
    }
    Boxed& operator=(Boxed&&) noexcept = default;
    ~Boxed() = default;

    bool has_value() const { return p_ != nullptr; }
    explicit operator bool() const { return has_value(); }
    T& operator*() { return *p_; }
    const T& operator*() const { return *p_; }
    T* operator->() { return p_.get(); }
    const T* operator->() const { return p_.get(); }
    T value_or(T fallback) const { return p_ ? *p_ : std::move(fallback); }
    void reset() { p_.reset(); }

    friend bool operator==(const Boxed& a, const Boxed& b) {
        return a.has_value() == b.has_value() && (!a.has_value() || *a == *b);
    }
    friend bool operator==(const Boxed& a, std::nullopt_t) { return !a.has_value(); }
    friend bool operator==(const Boxed& a, const std::optional<T>& b) {
        return a.has_value() == b.has_value() && (!a.has_value() || *a == *b);
    }
    friend bool operator==(const Boxed& a, const T& b) { return a.has_value() && *a == b; }
    // As optional: no value orders before any value.
    friend auto operator<=>(const Boxed& a, const Boxed& b) requires std::three_way_comparable<T> {
        using Order = std::compare_three_way_result_t<T>;
        if (!a.has_value() || !b.has_value()) return Order(a.has_value() <=> b.has_value());
        return Order(*a <=> *b);
    }

private:
    std::unique_ptr<T> p_;
};

}  // namespace ballast::model
