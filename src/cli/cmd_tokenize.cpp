// vase tokenize: the token ids of a text, as the model would see it (like llama.cpp's
// llama-tokenize): `--ids` prints them on one line, otherwise one "id -> 'piece'" per line.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "model/checkpoint.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace vase::cli {
namespace {

struct TokenizeArgs {
    std::string model;
    std::string text;
    std::string file;
    bool ids_only = false;
    bool no_special = false;
};

// A token's bytes, printable on one line: control characters and bytes that are not
// (complete) UTF-8 are escaped.
std::string printable(const std::string& bytes) {
    static const char* const kHex = "0123456789abcdef";
    std::string out;
    const std::string valid = to_valid_utf8(bytes);
    const bool clean = valid == bytes;
    for (size_t i = 0; i < bytes.size(); ++i) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\\' || c == '\'') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !clean)) {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

void run_tokenize(const TokenizeArgs& a) {
    std::string text;
    if (!a.file.empty()) {
        if (a.file == "-") {
            text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        } else {
            text = read_text_file(a.file);
        }
    } else {
        text = a.text;
    }
    const Tokenizer tokenizer(load_tokenizer_spec(a.model));
    const std::vector<int32_t> ids = tokenizer.encode(text, !a.no_special);
    std::string out;
    if (a.ids_only) {
        for (size_t i = 0; i < ids.size(); ++i) {
            if (i > 0) out += ' ';
            out += std::to_string(ids[i]);
        }
        out += '\n';
    } else {
        for (const int32_t id : ids) {
            out += fmt::format("{:>6} -> '{}'\n", id, printable(tokenizer.token_bytes(id)));
        }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void register_tokenize(CLI::App& app) {
    auto args = std::make_shared<TokenizeArgs>();
    CLI::App* cmd = app.add_subcommand(
        "tokenize",
        "Print the token ids of a text: with --ids on one line, space-separated; otherwise one\n"
        "line per token, \"id -> 'piece'\" (control characters and partial UTF-8 escaped).\n"
        "Special tokens such as <|im_start|> in the text are parsed unless --no-special.");
    cmd->add_option("-m,--model", args->model,
                    "Hugging Face model directory (its tokenizer.json), a tokenizer.json, or a "
                    "GGUF file")
        ->required();
    CLI::Option* text = cmd->add_option("text", args->text, "Text to tokenize");
    CLI::Option* file =
        cmd->add_option("-f,--file", args->file, "Tokenize the contents of FILE (- for stdin)");
    text->excludes(file);
    file->excludes(text);
    cmd->add_flag("--ids", args->ids_only, "Print only the ids, on one line");
    cmd->add_flag("--no-special", args->no_special,
                  "Treat special tokens in the text as plain text (added tokens that are not "
                  "special, such as <think>, still match, as in Hugging Face tokenizers)");
    cmd->callback([args, text, file] {
        if (text->count() == 0 && file->count() == 0) {
            fail("tokenize: give the TEXT to tokenize or -f FILE");
        }
        run_tokenize(*args);
    });
}

}  // namespace vase::cli
