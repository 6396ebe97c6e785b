#pragma once
#include <atomic>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ballast::model {

// An immutable text, interned: every SharedText with the same content points at one node
// (a reference count and the text) in a process-wide pool, so a text that 50,000 holders have
// ("connect ok") is held once and each holder is 8 bytes. The empty text is a null pointer
// (no node). The pool holds only live texts: a node leaves it with its last reference, so
// varying texts (agent replies, HTTP status lines) never make it grow beyond what is held.
// Copies and destruction are safe on any thread; making one from a text locks the pool.
class SharedText {
public:
    SharedText() = default;
    // Implicit, as a string: assigned from a std::string, a literal or a string_view.
    SharedText(std::string_view text);
    SharedText(const std::string& text) : SharedText(std::string_view(text)) {}
    SharedText(const char* text) : SharedText(std::string_view(text)) {}
    SharedText(const SharedText& o) noexcept : node_(o.node_) {
        if (node_) node_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    SharedText(SharedText&& o) noexcept : node_(o.node_) { o.node_ = nullptr; }
    SharedText& operator=(const SharedText& o) noexcept {
        SharedText copy(o);
        swap(copy);
        return *this;
    }
    SharedText& operator=(SharedText&& o) noexcept {
        SharedText moved(std::move(o));
        swap(moved);
        return *this;
    }
    ~SharedText() {
        if (node_) release(node_);
    }
    void swap(SharedText& o) noexcept { std::swap(node_, o.node_); }

    const std::string& str() const { return node_ ? node_->text : empty_string(); }
    std::string_view view() const { return node_ ? std::string_view(node_->text) : ""; }
    operator std::string_view() const { return view(); }
    bool empty() const { return node_ == nullptr; }
    size_t size() const { return view().size(); }

    // Interned: the same content is the same node.
    friend bool operator==(const SharedText& a, const SharedText& b) { return a.node_ == b.node_; }
    // Against a text: one overload for each kind, so none is made a SharedText to compare.
    friend bool operator==(const SharedText& a, std::string_view b) { return a.view() == b; }
    friend bool operator==(const SharedText& a, const std::string& b) { return a.view() == b; }
    friend bool operator==(const SharedText& a, const char* b) { return a.view() == b; }
    friend std::strong_ordering operator<=>(const SharedText& a, const SharedText& b) {
        if (a.node_ == b.node_) return std::strong_ordering::equal;
        return a.view() <=> b.view();
    }

    // Distinct texts alive now (for tests and measurements).
    static size_t pool_size();

private:
    struct Node {
        std::atomic<uint32_t> refs{1};
        std::string text;
    };
    struct Pool;
    static Pool& pool();
    static void release(Node* node) noexcept;
    static const std::string& empty_string();

    Node* node_ = nullptr;
};

}  // namespace ballast::model
