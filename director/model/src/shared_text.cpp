#include "ballast/model/shared_text.hpp"

#include <mutex>
#include <unordered_map>

namespace ballast::model {

// The live texts, each keyed by its node's own text.
struct SharedText::Pool {
    std::mutex mutex;
    std::unordered_map<std::string_view, Node*> nodes;
};

SharedText::Pool& SharedText::pool() {
    static auto* p = new Pool;  // never destroyed: texts may die after static destructors ran
    return *p;
}

SharedText::SharedText(std::string_view text) {
    if (text.empty()) return;
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    auto it = p.nodes.find(text);
    if (it != p.nodes.end()) {
        node_ = it->second;
        // Under the lock: a node found here is not being freed (see release).
        node_->refs.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    node_ = new Node;
    node_->text = text;
    p.nodes.emplace(std::string_view(node_->text), node_);
}

void SharedText::release(Node* node) noexcept {
    // Not the last reference: drop it without the lock. Another holder may drop its own
    // meanwhile, which the exchange sees.
    uint32_t refs = node->refs.load(std::memory_order_relaxed);
    while (refs > 1)
        if (node->refs.compare_exchange_weak(refs, refs - 1, std::memory_order_acq_rel,
                                             std::memory_order_relaxed))
            return;
    // Perhaps the last: only the pool can hand out another reference now (this is the only
    // holder), so the count is decided under its lock.
    Pool& p = pool();
    {
        std::lock_guard lock(p.mutex);
        if (node->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        p.nodes.erase(std::string_view(node->text));
    }
    delete node;
}

const std::string& SharedText::empty_string() {
    static const std::string empty;
    return empty;
}

size_t SharedText::pool_size() {
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    return p.nodes.size();
}

}  // namespace ballast::model
