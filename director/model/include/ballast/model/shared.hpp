#pragma once
#include <compare>
#include <memory>
#include <optional>

namespace ballast::model {

// An optional value that never changes once made, held by a shared pointer: copies share it
// (16 bytes however large the value), comparisons look at the value. For large parts that many
// holders have equal: a service's check spec (5,000 services with one spec share one).
template <typename T>
class Shared {
public:
    Shared() = default;
    // Implicit, as optional: assigned from a value, nullopt or an optional.
    Shared(std::nullopt_t) {}
    Shared(T value) : p_(std::make_shared<T>(std::move(value))) {}
    Shared(std::optional<T> value) {
        if (value) p_ = std::make_shared<T>(std::move(*value));
    }

    bool has_value() const { return p_ != nullptr; }
    explicit operator bool() const { return has_value(); }
    const T& operator*() const { return *p_; }
    const T* operator->() const { return p_.get(); }
    // Whether both hold the very same value (not merely equal ones).
    bool shares(const Shared& o) const { return p_ == o.p_; }
    // The value to change (there must be one): copied first unless this is its only holder,
    // so the others keep the value they had.
    T& edit() {
        if (p_.use_count() != 1) p_ = std::make_shared<T>(*p_);
        // Made non-const by make_shared<T>, and held by nobody else.
        return const_cast<T&>(*p_);
    }
    void reset() { p_.reset(); }

    friend bool operator==(const Shared& a, const Shared& b) {
        return a.p_ == b.p_ || (a.p_ && b.p_ && *a.p_ == *b.p_);
    }
    friend bool operator==(const Shared& a, std::nullopt_t) { return !a.p_; }
    // As optional: no value orders before any value.
    friend auto operator<=>(const Shared& a,
                            const Shared& b) requires std::three_way_comparable<T> {
        using Order = std::compare_three_way_result_t<T>;
        if (a.p_ == b.p_) return Order(std::strong_ordering::equal);
        if (!a.p_ || !b.p_) return Order(a.has_value() <=> b.has_value());
        return Order(*a.p_ <=> *b.p_);
    }

private:
    std::shared_ptr<const T> p_;
};

}  // namespace ballast::model
