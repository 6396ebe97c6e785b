#include "ballast/ipvsadm/restore.hpp"

namespace ballast::ipvsadm {

namespace {
constexpr size_t kMaxWord = 4096;  // ipvsadm's MAX_LINE_LENGTH per word
bool blank(int c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
}  // namespace

std::optional<std::vector<std::string>> RestoreReader::next() {
    // The stream buffer itself: istream's per-character sentries cost more than the parsing.
    std::streambuf& in = *in_.rdbuf();
    constexpr int eof = std::char_traits<char>::eof();
    std::vector<std::string> words;
    words.reserve(16);  // ipvsadm lines have a dozen words at most; no regrowth per line
    words.push_back(program_);
    size_t counted = 0;
    for (;;) {
        int c = in.sgetc();
        if (c == eof) break;
        if (blank(c)) {
            // Between words: skip blanks to the next word; a newline ends the line, and the
            // end of input here drops the line (as ipvsadm's reader does).
            for (;;) {
                int b = in.sbumpc();
                if (b == eof) return std::nullopt;
                if (b == '\n') return words;
                if (b == ' ' || b == '\t' || b == '\r') continue;
                in.sungetc();
                break;
            }
            continue;
        }
        std::string word;
        while (word.size() < kMaxWord) {
            int w = in.sgetc();
            if (w == eof || blank(w)) break;
            word.push_back(static_cast<char>(in.sbumpc()));
        }
        int tail = -1;  // the one blank read with the word
        if (int t = in.sgetc(); t != eof && blank(t)) tail = in.sbumpc();
        if (word != "ipvsadm") {
            words.push_back(std::move(word));
            ++counted;
        }
        if (tail == '\n') return words;
    }
    if (counted == 0) return std::nullopt;
    return words;
}

}  // namespace ballast::ipvsadm
