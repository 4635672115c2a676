#include "model/hf_config.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace vase {
namespace {

using nlohmann::json;

json parse_object(std::string_view text, const std::string& source) {
    json j;
    try {
        j = json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {  // parse_error, or out_of_range for 1e999
        fail("{}: invalid JSON: {}", source, e.what());
    }
    if (!j.is_object()) fail("{}: expected a JSON object at the top level", source);
    return j;
}

const char* json_kind(const json& v) {
    return v.type_name();
}

// Optional integer field; nullopt if absent or null.
std::optional<int64_t> get_int(const json& j, const char* key, const std::string& source) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (it->is_number_unsigned()) {
        uint64_t u = it->get<uint64_t>();
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            fail("{}: {} = {} is out of range", source, key, u);
        }
        return static_cast<int64_t>(u);
    }
    if (it->is_number_integer()) return it->get<int64_t>();
    fail("{}: {} must be an integer, got {} {}", source, key, json_kind(*it), it->dump());
}

int64_t require_int(const json& j, const char* key, const std::string& source) {
    auto v = get_int(j, key, source);
    if (!v) fail("{}: missing required key {}", source, key);
    return *v;
}

std::optional<double> get_number(const json& j, const char* key, const std::string& source) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) {
        fail("{}: {} must be a number, got {} {}", source, key, json_kind(*it), it->dump());
    }
    return it->get<double>();
}

std::optional<bool> get_bool(const json& j, const char* key, const std::string& source) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) {
        fail("{}: {} must be true or false, got {}", source, key, it->dump());
    }
    return it->get<bool>();
}

std::optional<std::string> get_string(const json& j, const char* key, const std::string& source) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
        fail("{}: {} must be a string, got {} {}", source, key, json_kind(*it), it->dump());
    }
    return it->get<std::string>();
}

// An int or a list of ints (eos_token_id); token ids must fit int32.
std::vector<int32_t> get_id_list(const json& j, const char* key, const std::string& source) {
    std::vector<int32_t> ids;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return ids;
    auto add = [&](const json& v) {
        if (!v.is_number_integer()) {
            fail("{}: {} must be an integer or a list of integers, got {}", source, key,
                 it->dump());
        }
        int64_t id = v.get<int64_t>();
        if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
            fail("{}: {} contains an invalid token id {}", source, key, id);
        }
        ids.push_back(static_cast<int32_t>(id));
    };
    if (it->is_array()) {
        for (const json& v : *it) add(v);
    } else {
        add(*it);
    }
    return ids;
}

// A token given as "text" or as {"content": "text", ...} (AddedToken form).
std::string get_token_text(const json& j, const char* key, const std::string& source) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) {
        auto content = it->find("content");
        if (content != it->end() && content->is_string()) return content->get<std::string>();
    }
    fail("{}: {} must be a string or an object with a \"content\" string, got {}", source, key,
         it->dump());
}

}  // namespace

HfConfig parse_hf_config(std::string_view json_text, const std::string& source) {
    json j = parse_object(json_text, source);
    std::string model_type = get_string(j, "model_type", source).value_or("");
    std::string architecture;
    if (auto it = j.find("architectures"); it != j.end() && !it->is_null()) {
        if (!it->is_array() || it->empty() || !(*it)[0].is_string()) {
            fail("{}: architectures must be a non-empty list of strings, got {}", source,
                 it->dump());
        }
        if (it->size() > 1) {
            fail("{}: architectures lists {} classes; vase expects only Qwen3ForCausalLM", source,
                 it->size());
        }
        architecture = (*it)[0].get<std::string>();
    }
    bool moe = model_type == "qwen3_moe" || architecture == "Qwen3MoeForCausalLM" ||
               get_int(j, "num_experts", source).value_or(0) > 0 ||
               get_int(j, "num_local_experts", source).value_or(0) > 0;
    if (moe) {
        fail(
            "{}: Qwen3 MoE (model_type qwen3_moe, num_experts) is not supported: vase runs the "
            "dense Qwen3 architecture only",
            source);
    }
    if (architecture.empty() && model_type.empty()) {
        fail(
            "{}: neither architectures nor model_type is given; expected Qwen3ForCausalLM "
            "(model_type qwen3)",
            source);
    }
    if ((!architecture.empty() && architecture != "Qwen3ForCausalLM") ||
        (!model_type.empty() && model_type != "qwen3")) {
        fail(
            "{}: unsupported architecture {} (model_type {}): vase runs Qwen3ForCausalLM "
            "(model_type qwen3) only",
            source, architecture.empty() ? "?" : architecture,
            model_type.empty() ? "?" : model_type);
    }

    if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) {
        std::string type;
        if (it->is_object()) {
            for (const char* key : {"rope_type", "type"}) {
                auto t = it->find(key);
                if (t != it->end() && t->is_string()) {
                    type = t->get<std::string>();
                    break;
                }
            }
        }
        // "default" is Hugging Face's name for plain RoPE, i.e. no scaling.
        if (type != "default") {
            fail(
                "{}: unsupported rope_scaling type {}: vase implements plain RoPE only "
                "(rope_scaling must be null)",
                source, type.empty() ? it->dump() : type);
        }
    }
    if (get_bool(j, "attention_bias", source).value_or(false)) {
        fail("{}: attention_bias = true is not supported (Qwen3 has no attention biases)", source);
    }
    if (get_bool(j, "use_sliding_window", source).value_or(false)) {
        fail("{}: use_sliding_window = true is not supported", source);
    }
    if (auto act = get_string(j, "hidden_act", source); act && *act != "silu") {
        fail("{}: hidden_act {} is not supported (Qwen3 uses silu)", source, *act);
    }

    HfConfig out;
    ModelConfig& c = out.model;
    c.architecture = "qwen3";
    c.hidden_size = require_int(j, "hidden_size", source);
    c.intermediate_size = require_int(j, "intermediate_size", source);
    c.n_layers = require_int(j, "num_hidden_layers", source);
    c.n_heads = require_int(j, "num_attention_heads", source);
    c.n_kv_heads = get_int(j, "num_key_value_heads", source).value_or(c.n_heads);
    c.vocab_size = require_int(j, "vocab_size", source);
    if (auto head_dim = get_int(j, "head_dim", source)) {
        c.head_dim = *head_dim;
    } else {
        if (c.n_heads <= 0) fail("{}: num_attention_heads = {} is out of range", source, c.n_heads);
        c.head_dim = c.hidden_size / c.n_heads;
    }
    c.max_position_embeddings =
        get_int(j, "max_position_embeddings", source).value_or(c.max_position_embeddings);
    c.rms_norm_eps = get_number(j, "rms_norm_eps", source).value_or(c.rms_norm_eps);
    c.rope_theta = get_number(j, "rope_theta", source).value_or(c.rope_theta);
    c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", source).value_or(false);
    out.eos_token_ids = get_id_list(j, "eos_token_id", source);
    if (auto bos = get_id_list(j, "bos_token_id", source); bos.size() == 1)
        out.bos_token_id = bos[0];
    return out;
}

GenerationConfig parse_hf_generation_config(std::string_view json_text, const std::string& source) {
    json j = parse_object(json_text, source);
    GenerationConfig g;
    g.temperature =
        static_cast<float>(get_number(j, "temperature", source).value_or(g.temperature));
    g.top_p = static_cast<float>(get_number(j, "top_p", source).value_or(g.top_p));
    g.min_p = static_cast<float>(get_number(j, "min_p", source).value_or(g.min_p));
    int64_t top_k = get_int(j, "top_k", source).value_or(g.top_k);
    g.do_sample = get_bool(j, "do_sample", source).value_or(g.do_sample);
    g.eos_token_ids = get_id_list(j, "eos_token_id", source);
    if (!(g.temperature >= 0.0f) || g.temperature > 100.0f) {
        fail("{}: temperature = {} is out of range [0, 100]", source, g.temperature);
    }
    if (!(g.top_p > 0.0f) || g.top_p > 1.0f) {
        fail("{}: top_p = {} is out of range (0, 1]", source, g.top_p);
    }
    if (!(g.min_p >= 0.0f) || g.min_p > 1.0f) {
        fail("{}: min_p = {} is out of range [0, 1]", source, g.min_p);
    }
    if (top_k < 0 || top_k > std::numeric_limits<int32_t>::max()) {
        fail("{}: top_k = {} is out of range", source, top_k);
    }
    g.top_k = static_cast<int>(top_k);
    return g;
}

HfTokenizerConfig parse_hf_tokenizer_config(std::string_view json_text, const std::string& source) {
    json j = parse_object(json_text, source);
    HfTokenizerConfig out;
    if (auto it = j.find("chat_template"); it != j.end() && !it->is_null()) {
        if (it->is_string()) {
            out.chat_template = it->get<std::string>();
        } else if (it->is_array()) {
            // Older form: a list of {"name": ..., "template": ...}; use "default".
            for (size_t i = 0; i < it->size(); ++i) {
                const json& t = (*it)[i];
                const auto name = t.is_object() ? t.find("name") : t.end();
                const auto text = t.is_object() ? t.find("template") : t.end();
                if (!t.is_object() || name == t.end() || !name->is_string() ||
                    text == t.end() || !text->is_string()) {
                    fail("{}: chat_template[{}] must be an object with string \"name\" and "
                         "\"template\"",
                         source, i);
                }
                if (name->get<std::string>() == "default") {
                    out.chat_template = text->get<std::string>();
                }
            }
        } else {
            fail("{}: chat_template must be a string, got {}", source, json_kind(*it));
        }
    }
    out.eos_token = get_token_text(j, "eos_token", source);
    out.bos_token = get_token_text(j, "bos_token", source);
    return out;
}

}  // namespace vase
