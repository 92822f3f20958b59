// bitnet.cpp's I2_S kernel (ggml_vec_dot_i2_i8_s from src/ggml-bitnet-mad.cpp), timed the way KernelBench times our
// BitLinear: the same shape, tokens and threads, many layers streamed back to back so the weights come from DRAM.
// The peer's source is not part of this repository: build/Bench.psm1 compiles this file against a BitNet checkout
// given with `build.ps1 bench-kernels -PeerSource DIR` (PEER_MAD names DIR/src/ggml-bitnet-mad.cpp).
//
// Each layer does what bitnet.cpp does for one ternary matmul: quantize the activations to int8 per token (scale
// 127 / max|x|, the I8_S row), run the kernel over the rows (one row per call at one token; at 4k tokens one call per
// row covers every token, which the kernel does four tokens at a time), then turn Σ code·x into the output,
// (Σ code·x - Σ x) / scale · β. Rows are split evenly over the threads, which meet at a spinning barrier, as ggml's
// thread pool does.
//
// Usage: i2s_peer --k K --n N --m M --threads T --layers L --rounds R
// Prints one JSON object: the median time per layer, and whether the kernel's sums matched an exact reference.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>
#include <immintrin.h>

#include PEER_MAD

namespace {

struct Options {
    int k = 2560, n = 6912, m = 1, threads = 2, layers = 16, rounds = 20;
};

// A sense-reversing barrier that spins, as ggml's workers do between the ops of a graph.
class SpinBarrier {
public:
    explicit SpinBarrier(int parties) : parties_(parties) {}
    void wait() {
        int phase = phase_.load(std::memory_order_acquire);
        if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == parties_) {
            arrived_.store(0, std::memory_order_relaxed);
            phase_.store(phase + 1, std::memory_order_release);
            return;
        }
        while (phase_.load(std::memory_order_acquire) == phase) {
            _mm_pause();
        }
    }

private:
    const int parties_;
    std::atomic<int> arrived_{0};
    std::atomic<int> phase_{0};
};

uint64_t next(uint64_t& state) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

struct Layer {
    std::vector<uint8_t> packed; // I2_S: n·k/4 bytes, then the float scale β
    float beta = 1;
};

class Peer {
public:
    explicit Peer(const Options& o) : o_(o), barrier_(o.threads) {
        uint64_t seed = 0x9E3779B97F4A7C15ull;
        std::vector<float> weights((size_t)o.n * o.k);
        first_.resize(weights.size());
        layers_.resize(o.layers);
        for (int l = 0; l < o.layers; l++) {
            for (size_t i = 0; i < weights.size(); i++) {
                int w = (int)(next(seed) % 3) - 1;
                weights[i] = (float)w;
                if (l == 0) first_[i] = (int8_t)w;
            }
            layers_[l].packed.resize((size_t)o.n * o.k / 4 + 32);
            quantize_i2_s(weights.data(), layers_[l].packed.data(), o.n, o.k, nullptr);
            std::memcpy(&layers_[l].beta, layers_[l].packed.data() + (size_t)o.n * o.k / 4, sizeof(float));
        }

        x_.resize((size_t)o.m * o.k);
        for (auto& v : x_) v = (float)((next(seed) % 20001) / 10000.0 - 1.0);
        q_.resize((size_t)o.m * o.k);
        scales_.resize(o.m);
        sums_.resize(o.m);
        sumi_.resize((size_t)o.m * o.n);
        y_.resize((size_t)o.m * o.n);
    }

    // Every layer once, on all threads; the calling thread is thread 0.
    void pass(int first, int count) {
        std::vector<std::thread> workers;
        first_layer_ = first;
        layer_count_ = count;
        for (int t = 1; t < o_.threads; t++) workers.emplace_back([this, t] { work(t); });
        work(0);
        for (auto& w : workers) w.join();
    }

    // Timed: `rounds` passes over all layers with the threads kept spinning between them.
    std::vector<double> time(int rounds) {
        std::vector<double> perLayer;
        std::vector<std::thread> workers;
        first_layer_ = 0;
        layer_count_ = o_.layers;
        for (int t = 1; t < o_.threads; t++) {
            workers.emplace_back([this, t, rounds] {
                for (int r = 0; r < rounds; r++) {
                    barrier_.wait();
                    work(t);
                }
            });
        }

        for (int r = 0; r < rounds; r++) {
            barrier_.wait();
            auto start = std::chrono::steady_clock::now();
            work(0);
            auto end = std::chrono::steady_clock::now();
            perLayer.push_back(std::chrono::duration<double, std::milli>(end - start).count() / o_.layers);
        }

        for (auto& w : workers) w.join();
        return perLayer;
    }

    // Layer 0's outputs against Σ w·q computed here from the unpacked ternary weights, exactly (integers).
    bool check(std::string& why) {
        pass(0, 1);
        for (int t = 0; t < o_.m; t++) {
            for (int r = 0; r < o_.n; r++) {
                int64_t expected = 0;
                for (int i = 0; i < o_.k; i++) {
                    expected += (int64_t)first_[(size_t)r * o_.k + i] * q_[(size_t)t * o_.k + i];
                }

                int64_t got = (int64_t)std::llround(sumi_[(size_t)t * o_.n + r]) - sums_[t];
                if (got != expected) {
                    why = "token " + std::to_string(t) + " row " + std::to_string(r) + ": kernel " + std::to_string(got) +
                          ", reference " + std::to_string(expected);
                    return false;
                }
            }
        }

        return true;
    }

private:
    void work(int t) {
        const int k = o_.k, n = o_.n, m = o_.m;
        for (int l = first_layer_; l < first_layer_ + layer_count_; l++) {
            // bitnet.cpp's I8_S activations: per token, scale 127 / max|x|, round to nearest, and Σ q for the code offset.
            for (int token = t; token < m; token += o_.threads) {
                const float* x = &x_[(size_t)token * k];
                float max = 0;
                for (int i = 0; i < k; i++) max = std::max(max, std::fabs(x[i]));
                float scale = max > 0 ? 127.0f / max : 0.0f;
                int8_t* q = &q_[(size_t)token * k];
                int sum = 0;
                for (int i = 0; i < k; i++) {
                    int v = (int)std::nearbyint(x[i] * scale);
                    v = std::min(127, std::max(-128, v));
                    q[i] = (int8_t)v;
                    sum += v;
                }

                scales_[token] = scale;
                sums_[token] = sum;
            }

            barrier_.wait();
            const uint8_t* w = layers_[l].packed.data();
            const int rowStart = (int)((int64_t)n * t / o_.threads), rowEnd = (int)((int64_t)n * (t + 1) / o_.threads);
            if (m % 4 == 0) {
                // The fork's GEMM: one call per weight row over all tokens; the kernel takes them four at a time (Nx1).
                for (int r = rowStart; r < rowEnd; r++) {
                    ggml_vec_dot_i2_i8_s(k, &sumi_[r], (size_t)n, w + (size_t)r * k / 4, (size_t)k, q_.data(), (size_t)k, m);
                }
            } else {
                for (int token = 0; token < m; token++) {
                    for (int r = rowStart; r < rowEnd; r++) {
                        ggml_vec_dot_i2_i8_s(k, &sumi_[(size_t)token * n + r], 0, w + (size_t)r * k / 4, 0, &q_[(size_t)token * k], 0, 1);
                    }
                }
            }

            const float beta = layers_[l].beta;
            for (int token = 0; token < m; token++) {
                float scale = scales_[token];
                for (int r = rowStart; r < rowEnd; r++) {
                    size_t i = (size_t)token * n + r;
                    y_[i] = scale == 0 ? 0 : (sumi_[i] - (float)sums_[token]) / scale * beta;
                }
            }

            barrier_.wait();
        }
    }

    Options o_;
    SpinBarrier barrier_;
    std::vector<Layer> layers_;
    std::vector<int8_t> first_;
    std::vector<float> x_;
    std::vector<int8_t> q_;
    std::vector<float> scales_;
    std::vector<int> sums_;
    std::vector<float> sumi_;
    std::vector<float> y_;
    int first_layer_ = 0, layer_count_ = 0;
};

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string name = argv[i];
        int value = std::atoi(argv[i + 1]);
        if (value <= 0) return false;
        if (name == "--k") o.k = value;
        else if (name == "--n") o.n = value;
        else if (name == "--m") o.m = value;
        else if (name == "--threads") o.threads = value;
        else if (name == "--layers") o.layers = value;
        else if (name == "--rounds") o.rounds = value;
        else return false;
    }

    return argc % 2 == 1;
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, o)) {
        std::fprintf(stderr, "usage: i2s_peer --k K --n N --m M --threads T --layers L --rounds R (all positive)\n");
        return 2;
    }

    if (o.k % 128 != 0) {
        std::fprintf(stderr, "bitnet.cpp's x86 I2_S needs K a multiple of 128 (QK_I2_S); K=%d is not\n", o.k);
        return 2;
    }

    Peer peer(o);
    std::string why;
    if (!peer.check(why)) {
        std::fprintf(stderr, "bitnet.cpp I2_S gave a wrong sum (%s): was it built without AVX2?\n", why.c_str());
        return 1;
    }

    peer.pass(0, o.layers); // warm: code, page tables, the threads' first run
    peer.pass(0, o.layers);
    std::vector<double> times = peer.time(o.rounds);
    std::sort(times.begin(), times.end());
    std::printf("{\"kernel\":\"bitnet.cpp ggml_vec_dot_i2_i8_s (%s)\",\"k\":%d,\"n\":%d,\"m\":%d,\"threads\":%d,\"layers\":%d,"
                "\"msPerLayer\":%.6f,\"checked\":true}\n",
                o.m % 4 == 0 ? "Nx1, four tokens per weight load" : "1x1, one row per call", o.k, o.n, o.m, o.threads,
                o.layers, times[times.size() / 2]);
    return 0;
}
