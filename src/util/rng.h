// Deterministic random numbers, identical on every platform and compiler
// (std::distributions are not): xoshiro256** seeded through splitmix64.
// Same seed, same stream; streams are cheap to fork for layers/sequences.
#pragma once

#include <cmath>
#include <cstdint>

namespace vase {

class Rng {
public:
    explicit Rng(uint64_t seed = 0) { reseed(seed); }

    void reseed(uint64_t seed) {
        uint64_t x = seed;
        for (auto& s : state_) s = splitmix64(x);
    }

    uint64_t next_u64() {
        const uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return result;
    }

    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

    // Uniform in (0, 1): safe for log().
    double uniform_open() { return (static_cast<double>(next_u64() >> 11) + 0.5) * 0x1.0p-53; }

    // Standard normal (Box-Muller; one value per call, the pair's twin discarded).
    double normal() {
        double u1 = uniform_open();
        double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }

    // A new independent stream derived from this seed and a label (layer, sequence, ...).
    static Rng derive(uint64_t seed, uint64_t label) {
        uint64_t x = seed ^ (label * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull);
        return Rng(splitmix64(x));
    }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    static uint64_t splitmix64(uint64_t& x) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    uint64_t state_[4];
};

}  // namespace vase
