// vase evict: one eviction pass of a policy over tensors from .npy files, so
// that the Python references (tests/kv/ref_eviction.py) can check the
// policies on the same numbers the engine would see.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "kv/params.h"
#include "kv/registry.h"
#include "util/error.h"
#include "util/npy.h"

namespace vase::cli {
namespace {

struct EvictArgs {
    std::string keys;
    std::string values;
    std::string queries;
    std::string projection;
    std::string out;
    int64_t keep = -1;
    int64_t repeat = 1;
    EvictionParams params;
};

// Reads a float tensor of `rank` dimensions; converts float64 to float32 (the
// engine's precision) and rejects non-finite numbers.
std::vector<float> read_tensor(const std::string& option, const std::string& path, size_t rank,
                               std::vector<int64_t>& shape) {
    NpyArray a = read_npy(path);
    if (a.type != NpyType::kF32 && a.type != NpyType::kF64) {
        fail("{} {}: expected a float32 or float64 array, got {}", option, path,
             npy_type_name(a.type));
    }
    if (a.shape.size() != rank) {
        fail("{} {}: expected {} dimensions, got {}", option, path, rank, a.shape.size());
    }
    shape = a.shape;
    std::vector<float> out = a.to_f32();
    for (size_t i = 0; i < out.size(); ++i) {
        if (!std::isfinite(out[i])) {
            fail("{} {}: element {} is not a finite float32 number", option, path, i);
        }
    }
    return out;
}

std::string shape_str(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

void run_evict(EvictArgs& a) {
    EvictionParams& p = a.params;
    if (!is_eviction_policy(p.policy)) p.validate();  // lists the valid names
    if (p.policy == "full" || p.policy == "quest") {
        fail("--policy {}: this mode never evicts; choose an evicting policy", p.policy);
    }
    if (policy_uses_attention(p.policy) && a.queries.empty()) {
        fail("--policy {} scores with attention: --queries is required", p.policy);
    }
    std::vector<int64_t> kshape, vshape, qshape, gshape;
    const std::vector<float> keys = read_tensor("--keys", a.keys, 3, kshape);
    const std::vector<float> values = read_tensor("--values", a.values, 3, vshape);
    if (kshape != vshape) {
        fail("--values {}: shape {} differs from --keys shape {}", a.values, shape_str(vshape),
             shape_str(kshape));
    }
    const int64_t n_kv_heads = kshape[0], n = kshape[1], head_dim = kshape[2];
    if (n_kv_heads < 1 || head_dim < 1) {
        fail("--keys {}: shape {} needs at least one KV head and head_dim >= 1", a.keys,
             shape_str(kshape));
    }
    if (a.keep < 0 || a.keep > n) {
        fail("--keep {}: must be between 0 and the {} candidates in --keys", a.keep, n);
    }
    if (a.repeat < 1) fail("--repeat {}: must be at least 1", a.repeat);
    if (p.sinks < 0) fail("--sinks {}: must not be negative", p.sinks);
    if (!(p.temperature > 0.0f) || !std::isfinite(p.temperature)) {
        fail("--temperature {}: must be a positive number", p.temperature);
    }
    if (!(p.lambda >= 0.0f && p.lambda <= 1.0f)) fail("--lambda {}: must be in [0, 1]", p.lambda);
    if (p.n_large < -1) fail("--n-large {}: must be >= 0 (or -1 for keep/4)", p.n_large);
    if (p.n_large < 0) p.n_large = a.keep / 4;
    p.budget = a.keep;  // only used to resolve n_large, already resolved
    if (policy_uses_n_large(p.policy) && p.n_large > a.keep) {
        fail("--n-large {}: must be at most --keep {}", p.n_large, a.keep);
    }
    if (policy_protects_sinks_in_large(p.policy) && p.sinks > p.n_large) {
        fail(
            "--sinks {}: policy {} protects the sinks among the n_large; needs sinks <= n_large "
            "({})",
            p.sinks, p.policy, p.n_large);
    }
    if (policy_keeps_sinks(p.policy) && p.sinks > a.keep) {
        fail("--sinks {}: policy {} always keeps the sinks; needs sinks <= --keep {}", p.sinks,
             p.policy, a.keep);
    }

    int64_t n_q_heads = n_kv_heads;
    int64_t n_queries = 0;
    std::vector<float> queries;
    if (policy_uses_attention(p.policy)) {
        queries = read_tensor("--queries", a.queries, 3, qshape);
        n_q_heads = qshape[0];
        n_queries = qshape[1];
        if (qshape[2] != head_dim) {
            fail("--queries {}: head_dim {} differs from the keys' {}", a.queries, qshape[2],
                 head_dim);
        }
        if (n_q_heads < n_kv_heads || n_q_heads % n_kv_heads != 0) {
            fail("--queries {}: {} query heads is not a multiple of the {} KV heads", a.queries,
                 n_q_heads, n_kv_heads);
        }
        if (n_queries < 1) fail("--queries {}: needs at least one query per head", a.queries);
    } else if (!a.queries.empty()) {
        fail("--queries: policy {} does not score with attention", p.policy);
    }

    auto policy =
        make_policy(p, 1, n_kv_heads, head_dim, n, n_q_heads, std::max<int64_t>(n_queries, 1));
    if (!a.projection.empty()) {
        if (p.policy != "cur" && p.policy != "cur_fixed") {
            fail("--projection: only policies cur and cur_fixed take a projection");
        }
        const std::vector<float> g = read_tensor("--projection", a.projection, 2, gshape);
        if (gshape[0] != head_dim) {
            fail("--projection {}: has {} rows, expected head_dim {}", a.projection, gshape[0],
                 head_dim);
        }
        if (gshape[1] < 1 || gshape[1] > kMaxCurRank) {
            fail("--projection {}: rank {} must be between 1 and {}", a.projection, gshape[1],
                 kMaxCurRank);
        }
        policy->set_projection(0, g.data(), gshape[1]);
    }

    std::vector<int64_t> positions(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) positions[i] = i;
    LayerView view;
    view.layer = 0;
    view.n_kv_heads = n_kv_heads;
    view.n_q_heads = n_q_heads;
    view.head_dim = head_dim;
    view.n = n;
    view.keys = keys.data();
    view.values = values.data();
    view.kv_head_stride = n * head_dim;
    view.positions = positions.data();
    view.pos_head_stride = 0;
    view.queries = queries.empty() ? nullptr : queries.data();
    view.n_queries = n_queries;
    view.q_head_stride = n_queries * head_dim;

    const int64_t per_pass = n_kv_heads * a.keep;
    std::vector<int64_t> kept(static_cast<size_t>(a.repeat * per_pass));
    for (int64_t r = 0; r < a.repeat; ++r) policy->select(view, a.keep, kept.data() + r * per_pass);
    if (a.repeat == 1) {
        write_npy(a.out, kept.data(), {n_kv_heads, a.keep});
    } else {
        write_npy(a.out, kept.data(), {a.repeat, n_kv_heads, a.keep});
    }
}

}  // namespace

void register_evict(CLI::App& app) {
    auto args = std::make_shared<EvictArgs>();
    CLI::App* cmd = app.add_subcommand(
        "evict",
        "Run one eviction pass of a policy on tensors from .npy files and write the kept indices.\n"
        "Shapes: --keys and --values [n_kv_heads, n, head_dim] (candidate i has position i);\n"
        "--queries [n_q_heads, window, head_dim] (n_q_heads a multiple of n_kv_heads; needed by\n"
        "the attention-scored policies); --projection [head_dim, r] for cur/cur_fixed. float32\n"
        "or float64 (computed in float32, as in the engine). --out gets int64 [n_kv_heads, keep],\n"
        "each row ascending; with --repeat R > 1, [R, n_kv_heads, keep] from R successive passes\n"
        "(random streams continue from pass to pass).");
    std::string names;
    for (auto name : eviction_policy_names()) {
        if (name != "full" && name != "quest")
            names += (names.empty() ? "" : ", ") + std::string(name);
    }
    cmd->add_option("--policy", args->params.policy, "Eviction policy: " + names)->required();
    cmd->add_option("--keys", args->keys, "Keys .npy [n_kv_heads, n, head_dim]")->required();
    cmd->add_option("--values", args->values, "Values .npy [n_kv_heads, n, head_dim]")->required();
    cmd->add_option("--queries", args->queries, "Query window .npy [n_q_heads, window, head_dim]");
    cmd->add_option("--projection", args->projection,
                    "cur/cur_fixed projection .npy [head_dim, r] used instead of a random draw");
    cmd->add_option("--keep", args->keep, "Candidates to keep per KV head (K)")->required();
    cmd->add_option("--n-large", args->params.n_large,
                    "Candidates protected for the largest values (default keep/4)");
    cmd->add_option("--sinks", args->params.sinks, "First positions that protected modes keep")
        ->capture_default_str();
    cmd->add_option("--temperature", args->params.temperature, "Softmax temperature")
        ->capture_default_str();
    cmd->add_option("--lambda", args->params.lambda, "R-KV mixing weight")->capture_default_str();
    cmd->add_flag_callback(
        "--smooth", [args] { args->params.smooth = 1; },
        "Average-pool attention scores (default on for attention policies)");
    cmd->add_flag_callback(
        "--no-smooth", [args] { args->params.smooth = 0; }, "Do not smooth attention scores");
    cmd->add_option("--seed", args->params.seed, "Seed of the random draws")->capture_default_str();
    cmd->add_option("--repeat", args->repeat, "Successive passes to run and write")
        ->capture_default_str();
    cmd->add_option("--out", args->out, "Output .npy of kept indices (int64)")->required();
    cmd->callback([args] { run_evict(*args); });
}

}  // namespace vase::cli
